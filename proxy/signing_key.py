"""The key an SDK signs with, handed out by our provider: the credentials-provider interface of the SDKs that ask
for their key once per request (``get_credentials()``, just before signing: oss2, Log Service, Message Service,
Tablestore), and which snapshot signed a thread's latest request (the Reissuer's ``last_signed``: a rejected
request reports the key that signed it, not whatever is current by then).

An adapter per SDK says only which of the SDK's exceptions a call raises when there is no key at all, so that the
application's ``except <SDK error>`` keeps working, and, where the SDK's getters differ from ours, the view it reads.
"""

import threading
from typing import Any, Optional

from credentials import CredentialsError, CredentialsProvider
from credentials.model import Credentials


class SigningKeyAdapter:
    """The SDK-facing provider over ours. Our Credentials already has the getters most SDKs call
    (``get_access_key_id``, ``get_access_key_secret``, ``get_security_token``), so no copy is made per request."""

    def __init__(self, provider: CredentialsProvider) -> None:
        self.provider = provider
        self._local = threading.local()

    def unavailable(self, cause: CredentialsError) -> BaseException:
        """The SDK's kind of error for a call made with no key at all (KMS unreachable before the first fetch)."""
        raise NotImplementedError

    def snapshot(self) -> Credentials:
        """The provider's current key, remembered as this thread's signing key; the SDK's error when there is none
        (``__cause__``: the CredentialsError)."""
        try:
            credentials = self.provider.get_credentials()
        except CredentialsError as exc:
            raise self.unavailable(exc) from exc
        self._local.credentials = credentials
        return credentials

    get_credentials: Any = snapshot  # what the SDK calls (an adapter whose SDK reads another view overrides it)

    def last_signed(self) -> Optional[Credentials]:
        return getattr(self._local, "credentials", None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.provider!r})"
