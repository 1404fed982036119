"""The aliyunsdkcore signers of this package: a provider's current snapshot (HMAC), or a client key (RSA).

ProviderSigner signs every attempt with a provider's current snapshot.

aliyunsdkcore calls ``signer.sign()`` on every attempt of its own retry loop,
so a key refreshed between attempts is picked up there too. The snapshot that
signed the last request of each thread is remembered, so a caller that sees an
expired-key error can tell the provider exactly which key was stale.
"""

import threading
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from aliyunsdkcore.auth.signers.signer import Signer

from ..model import Credentials
from ..provider import CredentialsProvider

if TYPE_CHECKING:
    from ..config import ClientKey

_TOKEN_PARAM = "SecurityToken"
_TOKEN_HEADER = "x-acs-security-token"


class ProviderSigner(Signer):
    def __init__(self, provider: CredentialsProvider) -> None:
        self.provider = provider
        self._local = threading.local()

    def sign(self, region_id: str, request: Any) -> Tuple[Any, Any]:
        creds = self.provider.get_credentials()
        self._local.credentials = creds
        _set_security_token(request, creds.security_token)
        header = request.get_signed_header(region_id, creds.access_key_id, creds.access_key_secret)
        url = request.get_url(region_id, creds.access_key_id, creds.access_key_secret)
        return header, url

    def last_signed(self) -> Optional[Credentials]:
        """The credentials that signed this thread's most recent request."""
        return getattr(self._local, "credentials", None)


def _set_security_token(request: Any, token: Optional[str]) -> None:
    """Add the token of an STS key, and remove one left by a previous key: a request object may be re-signed."""
    if request.get_style() == "RPC":
        params = request.get_query_params()
        if token:
            request.add_query_param(_TOKEN_PARAM, token)
        elif params and _TOKEN_PARAM in params:
            del params[_TOKEN_PARAM]
    else:
        headers = request.get_headers()
        if token:
            request.add_header(_TOKEN_HEADER, token)
        elif _TOKEN_HEADER in headers:
            del headers[_TOKEN_HEADER]


class ClientKeySigner(Signer):
    """Signs with the client key through the request's own composer; the request carries the RSA algorithm.

    aliyunsdkcore ships both halves of this signature: its RPC composer and the RSA algorithm
    ``aliyunsdkcore.auth.algorithm.sha_hmac256`` (RSA despite its name: ``SignatureMethod=SHA256withRSA``,
    ``SignatureType=PRIVATEKEY``, ``SignatureVersion=1.0``, the key as base64 DER PKCS#8). We hand the SDK the
    client key's KeyId as ``AccessKeyId`` and its private key; we write no signature code.
    """

    def __init__(self, client_key: "ClientKey"):
        self.client_key = client_key

    def sign(self, region_id: str, request: Any) -> Tuple[Dict[str, str], str]:
        key = self.client_key
        header = request.get_signed_header(region_id, key.key_id, key.private_key)
        url = request.get_url(region_id, key.key_id, key.private_key)
        return header, url
