"""The provider contract: where a client gets the key it signs with (CredentialsProvider).

A fixed key is StaticCredentialsProvider (static_provider.py); a key fetched from a source, cached and refreshed
for everyone is RefreshingProvider (refreshing.py), which ManagedSecretProvider and CredentialsToolProvider build on.
"""

import abc
from typing import Any, Dict, Optional

from . import stats
from .errors import CredentialsError
from .model import Credentials


class CredentialsProvider(abc.ABC):
    """Where a client gets the key it signs with.

    Every provider registers itself, weakly, when it is created (``credentials.status()`` lists the live ones) and
    carries its counts (``status()``); a subclass needs no ``super().__init__()`` for that.
    """

    kind = "custom"  # status()'s "kind": what sort of provider this is
    _stats: stats.ProviderStats

    def __new__(cls, *args: Any, **kwargs: Any) -> "CredentialsProvider":
        provider = super().__new__(cls)
        provider._stats = stats.ProviderStats()
        stats.register(provider)
        return provider

    @abc.abstractmethod
    def get_credentials(self) -> Credentials:
        """The current credentials: cached, thread-safe, refreshed ahead of expiry."""

    def refresh(self, stale: Optional[Credentials] = None) -> Credentials:
        """Fetch anew. When ``stale`` is given and already replaced, return the replacement without a fetch."""
        return self.get_credentials()

    def credentials_without_waiting(self) -> Optional[Credentials]:
        """What get_credentials() would return at once, or None when it might have to wait for a fetch (an event
        loop then calls it in a worker thread; on a warm cache it skips that hop)."""
        return None

    def last_error(self) -> Optional[CredentialsError]:
        """Why the latest fetch failed, or None when it succeeded (or nothing was fetched): lets a client that gives
        up healing say why."""
        return None

    def close(self) -> None:
        """Stop background work. Idempotent."""
        self._closed = True

    @property
    def closed(self) -> bool:
        return bool(getattr(self, "_closed", False))

    def status(self) -> Dict[str, Any]:
        """What this provider holds and has done, for a health check (JSON-serialisable, never a secret or token):
        ``name``, ``kind``, ``access_key_id`` (masked), ``version``, ``fetched_at``, ``key_fetched_at``,
        ``expires_at``, ``next_refresh_at`` (epoch seconds or None), ``last_error`` (a message or None),
        ``last_error_at``, ``failing_since``, ``fetches``, ``fetch_failures``, ``reissues``, ``reissues_failed``,
        ``reissues_not_replayable``.
        See docs/monitoring.md."""
        return self._status(self.credentials_without_waiting(), None)

    def _status(self, credentials: Optional[Credentials], next_refresh_at: Optional[float]) -> Dict[str, Any]:
        return stats.status_fields(self, credentials, next_refresh_at)

    def __enter__(self) -> "CredentialsProvider":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
