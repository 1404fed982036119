"""The key as tablestore reads it, from our provider; the error a call raises when there is no key at all."""

from typing import Any

from tablestore.error import OTSClientError

from credentials import CredentialsError

from .. import errors
from ..signing_key import SigningKeyAdapter


class OtsCredentialsAdapter(SigningKeyAdapter):
    """tablestore's credentials-provider interface (``get_credentials()``, once per request: the request is signed
    and its answer checked with that one snapshot) over ours. Our Credentials already has the getters tablestore
    calls (``get_access_key_id``, ``get_access_key_secret``, ``get_security_token``, None for no token), so no copy
    is made. Remembers, per thread, which snapshot signed that thread's latest request (the Reissuer's
    ``last_signed``)."""

    def unavailable(self, cause: CredentialsError) -> BaseException:
        return OtsCredentialsUnavailable(cause)  # an OTSClientError, as the SDK's own client errors are


class OtsCredentialsUnavailable(OTSClientError, CredentialsError):
    """No key for a ProxyOTSClient call: a tablestore OTSClientError (``get_error_message()``, no HTTP status) and
    a CredentialsError (``secret_name``, ``code``: the KMS error code)."""

    def __init__(self, cause: CredentialsError) -> None:
        message = errors.unavailable_message(cause)
        OTSClientError.__init__(self, message)
        self.args = (message,)
        self.secret_name = cause.secret_name
        self.reason = getattr(cause, "reason", str(cause))
        self.code = cause.code
        self.__cause__ = cause

    def __reduce__(self) -> Any:
        return type(self), (self.__cause__,)
