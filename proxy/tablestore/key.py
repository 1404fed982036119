"""The key as tablestore reads it, from our provider; the error a call raises when there is no key at all."""

import threading
from typing import Any, Optional

from tablestore.error import OTSClientError

from credentials import CredentialsError, CredentialsProvider
from credentials.model import Credentials

from .. import errors


class OtsCredentialsAdapter:
    """tablestore's credentials-provider interface (``get_credentials()``, once per request: the request is signed
    and its answer checked with that one snapshot) over ours. Our Credentials already has the getters tablestore
    calls (``get_access_key_id``, ``get_access_key_secret``, ``get_security_token``, None for no token), so no copy
    is made. Remembers, per thread, which snapshot signed that thread's latest request (the Reissuer's
    ``last_signed``)."""

    def __init__(self, provider: CredentialsProvider) -> None:
        self.provider = provider
        self._local = threading.local()

    def get_credentials(self) -> Credentials:
        try:
            creds = self.provider.get_credentials()
        except CredentialsError as exc:  # no key at all: an OTSClientError, as the SDK's own client errors are
            raise OtsCredentialsUnavailable(exc) from exc  # __cause__: the CredentialsError
        self._local.credentials = creds
        return creds

    def last_signed(self) -> Optional[Credentials]:
        return getattr(self._local, "credentials", None)

    def __repr__(self) -> str:
        return f"OtsCredentialsAdapter({self.provider!r})"


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
