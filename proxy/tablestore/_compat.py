"""Every reach of ProxyOTSClient into tablestore's private parts (tests/test_compat.py).

tablestore has no public hook around a request. Every OTSClient method that talks to the service calls
``self._request_helper(api_name, *args, **kwargs)`` (the knowledge-base and memory-store methods of 6.4 call
``self._vectors_request_helper(api_name, request)``), which takes ONE snapshot of the credentials provider, builds
and signs the request with it, sends it through the SDK's retry loop (which re-sends the very same signed bytes),
checks the answer's signature with the same snapshot, and decodes the answer. ProxyOTSClient overrides these two
methods to re-issue the whole of it after an expired-key error: built and signed anew with the refreshed key, and
its answer checked with that key. tests/test_compat.py fails with a message naming this module when an upgrade
renames them or changes how they read the key.

The SDK logs each refused request at ERROR, as text: ``service_error_in_record`` reads the error back from it, so
that the record of an attempt ProxyOTSClient re-issues is lowered to DEBUG (credentials/masking/reissued.py).
"""

import logging
import re
from typing import Optional

from tablestore.error import OTSServiceError

#: The methods every OTSClient request goes through, each ``(self, api_name, *args, **kwargs)``. The second is
#: only in tablestore >= 6.4 (the vector APIs); overriding it does nothing on older versions, which never call it.
REQUEST_HOOKS = ("_request_helper", "_vectors_request_helper")


# --- the SDK's ERROR record of a refused request ---------------------------------------------------------------------
# OTSProtocol.handle_error logs every error answer at ERROR on the client's logger (OTSClient.DEFAULT_LOGGER_NAME, or
# logger_name=), as text ("OTS request failed, API: PutRow, HTTPStatus: 403, ErrorCode: OTSAuthFailed, ErrorMessage:
# The AccessKeyID does not exist., RequestID: <id>."), before it raises the OTSServiceError: the record carries no
# exception object.

_SERVICE_ERROR_RECORD = re.compile(
    r"^OTS request failed, API: (?P<api>\S+), HTTPStatus: (?P<status>\d+), ErrorCode: (?P<code>\S+), "
    r"ErrorMessage: (?P<message>.*), RequestID: (?P<request_id>\S*)\.$",
    re.S,
)


def service_error_in_record(record: logging.LogRecord, logger_name: str) -> Optional[OTSServiceError]:
    """The OTSServiceError that a tablestore ERROR record on ``logger_name`` (the client's logger) reports (its code,
    message, HTTP status and request id), or None for any other record. Reads the SDK's log text
    (tests/test_compat.py)."""
    if record.name != logger_name:
        return None
    match = _SERVICE_ERROR_RECORD.match(record.getMessage())
    if match is None:
        return None
    return OTSServiceError(int(match["status"]), match["code"], match["message"], match["request_id"])
