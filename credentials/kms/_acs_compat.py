"""The KMS client's one reach into aliyun-python-sdk-core's private parts (tests/test_compat.py).

aliyunsdkcore has no public way to sign one request with a signer of our own and send it without its DEBUG log of
the response body. What we need of that lives here, so an SDK upgrade that moves it fails tests/test_compat.py with
a message naming this module, instead of breaking the KMS client silently. ProxyAcsClient's reaches into the same
SDK live beside it, in proxy/acs/_compat.py.
"""

from typing import Any

from aliyunsdkcore.client import AcsClient


def make_http_response(
    client: AcsClient, host: str, request: Any, read_timeout: float, connect_timeout: float, signer: Any
) -> Any:
    """One request signed by ``signer``, not yet sent (``.get_response_object()`` sends it), without the SDK's
    endpoint resolution or retries and without its DEBUG log of the response body (which would hold a secret).

    Reaches ``AcsClient._make_http_response``: the public do_action_* take no signer and log the body.
    """
    return client._make_http_response(host, request, read_timeout, connect_timeout, signer)
