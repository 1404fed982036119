"""Every reach of ProxyAcsClient into aliyun-python-sdk-core's private parts, one small named function each
(tests/test_compat.py).

aliyunsdkcore has no public way to give an AcsClient another signer or endpoint resolver, nor a hook around its
request loop other than ``_implementation_of_do_action``. What we need of those lives here, so an SDK upgrade that
moves one of them fails tests/test_compat.py with a message naming this module, instead of breaking the proxy
silently. (The KMS client's reaches into the same SDK are in credentials/kms/_acs_compat.py.)
"""

import logging
import re
from typing import Any, Optional

from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient

# AcsClient.__init__ without the endpoint tables: one copy, shared with the KMS client, in
# credentials/kms/_acs_compat.py (guarded by tests/test_compat.py too).
from credentials.kms import sdk_init_without_endpoint_tables as sdk_init_without_endpoint_tables

#: The method every AcsClient request goes through (do_action_with_exception, do_action, get_response), with the
#: SDK's endpoint resolution and retry loop inside, returning ``(status, headers, body, exception)``. ProxyAcsClient
#: overrides it to re-issue a call that failed with an expired key (tests/test_compat.py checks it is still there).
DO_ACTION_HOOK = "_implementation_of_do_action"


def install_signer(client: AcsClient, signer: Any) -> None:
    """Make ``signer`` sign every request of ``client`` (the constructor accepts only a fixed key or a credential
    object of the SDK's own types). Reaches ``AcsClient._signer``."""
    client._signer = signer


def install_endpoint_resolver(client: AcsClient, resolver: Any) -> None:
    """Replace ``client``'s endpoint resolver (``resolve``, ``put_endpoint_entry``). Reaches
    ``AcsClient._endpoint_resolver``."""
    client._endpoint_resolver = resolver


def forget_key(client: AcsClient) -> None:
    """Drop the placeholder key the constructor stored, so no key lives on the client object. Reaches
    ``AcsClient._ak`` and ``AcsClient._secret``."""
    client._ak = client._secret = None


# --- the SDK's ERROR record of a ServerException ---------------------------------------------------------------------
# AcsClient._get_server_exception logs every ServerException at ERROR, as text ("ServerException occurred. Host:...
# SDK-Version:... ServerException:" + str(exception), which is "HTTP Status: 404 Error:<code> <message> RequestID:
# <id>"), before it returns the exception: the record carries no exception object.

SERVER_EXCEPTION_LOGGER = "aliyunsdkcore.client"
_SERVER_EXCEPTION_RECORD = re.compile(
    r"^ServerException occurred\. .*?ServerException:HTTP Status: (?P<status>\d+) Error:(?P<code>\S+) "
    r"(?P<message>.*) RequestID: (?P<request_id>\S*)$",
    re.S,
)


def server_exception_in_record(record: logging.LogRecord) -> Optional[ServerException]:
    """The ServerException that an aliyunsdkcore ERROR record reports (its code, message, HTTP status and request
    id), or None for any other record. Reads the SDK's log text (tests/test_compat.py)."""
    if record.name != SERVER_EXCEPTION_LOGGER:
        return None
    match = _SERVER_EXCEPTION_RECORD.match(record.getMessage())
    if match is None:
        return None
    return ServerException(
        match["code"], match["message"], http_status=int(match["status"]), request_id=match["request_id"]
    )
