"""The key as aliyun-mns-sdk reads it, from our provider; the error a call raises when there is no key at all."""

from typing import Any, Optional, Tuple

from mns.mns_exception import MNSClientException

from credentials import CredentialsError, CredentialsProvider
from credentials.model import Credentials

from .. import errors
from ..signing_key import SigningKeyAdapter


class MnsKey:
    """One snapshot with the getters ``MNSClient.build_header`` calls. ``get_security_token()`` is ``""`` for a key
    without a token: the SDK sends the header whenever the token is not ``""``, and a ``None`` there fails the
    request (MNSClientNetworkException "expected string or bytes-like object")."""

    __slots__ = ("credentials",)

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    def get_access_key_id(self) -> str:
        return self.credentials.access_key_id

    def get_access_key_secret(self) -> str:
        return self.credentials.access_key_secret

    def get_security_token(self) -> str:
        return self.credentials.security_token or ""

    def __repr__(self) -> str:
        return f"MnsKey({self.credentials!r})"  # Credentials' repr: a masked key id, no secret, no token


class MnsCredentialsAdapter(SigningKeyAdapter):
    """aliyun-mns-sdk's credentials-provider interface (``get_credentials()``, called once per request) over ours;
    remembers, per thread, which snapshot signed that thread's latest request (the Reissuer's ``last_signed``)."""

    def __init__(self, provider: CredentialsProvider) -> None:
        super().__init__(provider)
        self._view: Tuple[Optional[Credentials], Optional[MnsKey]] = (None, None)

    def unavailable(self, cause: CredentialsError) -> BaseException:
        return MnsCredentialsUnavailable(cause)  # an MNSClientException, as the SDK's own client errors are

    def get_credentials(self) -> MnsKey:
        creds = self.snapshot()
        seen, view = self._view  # one view per snapshot, not one per request (a race makes an equal one)
        if seen is not creds or view is None:
            view = MnsKey(creds)
            self._view = (creds, view)
        return view


class MnsCredentialsUnavailable(MNSClientException, CredentialsError):
    """No key for a ProxyMnsAccount call: an aliyun-mns-sdk MNSClientException (``type`` =
    ``ManagedCredentials.Unavailable``) and a CredentialsError (``secret_name``, ``code``: the KMS error code)."""

    def __init__(self, cause: CredentialsError) -> None:
        message = errors.unavailable_message(cause)
        MNSClientException.__init__(self, errors.UNAVAILABLE_CODE, message)
        self.args = (message,)
        self.secret_name = cause.secret_name
        self.reason = getattr(cause, "reason", str(cause))
        self.code = cause.code
        self.__cause__ = cause

    def __reduce__(self) -> Any:
        return type(self), (self.__cause__,)
