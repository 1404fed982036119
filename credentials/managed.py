"""ManagedSecretProvider: the key held in a KMS managed RAM credential secret."""
import logging
import time
from typing import Callable, Optional

from .errors import CredentialsError
from .provider import Fetched, RefreshingProvider
from .secret import DEFAULT_REFRESH_INTERVAL, next_refresh_at, parse_secret_value

logger = logging.getLogger("managed_credentials.credentials")


class ManagedSecretProvider(RefreshingProvider):
    """Fetches the secret at construction, then ahead of each rotation; heals on ``refresh(stale=...)``.

    A secret that does not exist or that KMS will not give us fails here, at
    construction, with the KMS error code. A passing outage or malformed
    SecretData at construction only fails the first use if still unresolved.
    """

    def __init__(self, secret_name: str, kms_client=None, *, refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
                 clock: Callable[[], float] = time.time, backoff_cap: float = 30.0, fetch_now: bool = True,
                 background: bool = True):
        if not isinstance(secret_name, str) or not secret_name.strip():
            raise ValueError("secret_name must be a non-empty string")
        super().__init__(name=secret_name, clock=clock, backoff_cap=backoff_cap, background=background)
        self.secret_name = secret_name
        if kms_client is None:
            from .default_kms import default_kms_client
            kms_client = default_kms_client()
        self._kms = kms_client
        self._refresh_interval = refresh_interval
        self.version_id: Optional[str] = None
        if fetch_now:
            self._initial_fetch()

    def _initial_fetch(self) -> None:
        try:
            self.refresh()
        except CredentialsError as exc:
            from .kms_client import KmsRequestError
            if isinstance(exc, KmsRequestError) and not exc.retryable:
                raise  # unknown secret, access denied: the configuration must change
            logger.error("%s", exc)

    def _fetch(self) -> Fetched:
        document = self._kms.get_secret_value(self.secret_name)
        try:
            value = parse_secret_value(document, self.secret_name)
        except CredentialsError as exc:
            logger.error("%s; keeping the last good key", exc)
            raise
        self.version_id = value.version_id
        logger.debug("%s: fetched version %s", self.secret_name, value.version_id)
        return Fetched(value.credentials, next_refresh_at(value, self._clock(), self._refresh_interval))

    def __repr__(self) -> str:
        return f"ManagedSecretProvider({self.secret_name!r})"
