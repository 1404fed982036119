"""What each provider in this process has done, for a health check: ``credentials.status()`` and ``status()``.

Every CredentialsProvider registers itself here, weakly, when it is created (``CredentialsProvider.__new__``): a
provider that is garbage or closed is not listed. Each carries a ProviderStats: counts and times, never a key.

Cost. Nothing on a call's success path: fetches are counted by the provider under the fetch lock it already holds,
re-issues by the proxies on their failure path (under this object's own lock, as concurrent failures may count at
once). ``status()`` takes no lock: it reads immutable snapshots and ints.
"""

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from .errors import CredentialsError
from .model import Credentials, mask

if TYPE_CHECKING:
    from .provider import CredentialsProvider

#: Error codes of a fetch refused because the source is busy (KMS: HTTP 429 Rejected.Throttling).
THROTTLING_CODES = frozenset({"Throttling", "Throttling.User", "Rejected.Throttling"})

_providers: "weakref.WeakSet[CredentialsProvider]" = weakref.WeakSet()


def register(provider: "CredentialsProvider") -> None:
    _providers.add(provider)


def live_providers() -> List["CredentialsProvider"]:
    """Every provider of this process that is not closed, by name."""
    providers = [p for p in list(_providers) if not getattr(p, "closed", False)]
    return sorted(providers, key=lambda p: (str(getattr(p, "name", "") or ""), id(p)))


def status() -> List[Dict[str, Any]]:
    """One dict per provider of this process (see ``CredentialsProvider.status()``): JSON-serialisable, no secret."""
    return [provider.status() for provider in live_providers()]


_attach_lock = threading.Lock()


def stats_of(provider: object) -> "ProviderStats":
    """The counts of ``provider``: its own (every CredentialsProvider has them), or, for an object that only has
    ``get_credentials()`` (the proxies accept one), counts attached at first need (a failure path only)."""
    counts = getattr(provider, "_stats", None)
    if isinstance(counts, ProviderStats):
        return counts
    with _attach_lock:
        counts = getattr(provider, "_stats", None)
        if not isinstance(counts, ProviderStats):
            counts = ProviderStats()
            try:
                provider._stats = counts  # type: ignore[attr-defined]
            except AttributeError:  # a provider with __slots__: counted, but for this call only
                pass
        return counts


def status_fields(
    provider: "CredentialsProvider", credentials: Optional[Credentials], next_refresh_at: Optional[float]
) -> Dict[str, Any]:
    """The fields every provider's ``status()`` has (docs/monitoring.md says what each means)."""
    counts = stats_of(provider)
    return {
        "name": str(getattr(provider, "name", None) or type(provider).__name__),
        "kind": str(getattr(provider, "kind", "custom")),
        "access_key_id": mask(credentials.access_key_id) if credentials is not None else None,
        "version": None,
        "fetched_at": counts.fetched_at,
        "key_fetched_at": counts.key_fetched_at,
        "expires_at": credentials.expiration if credentials is not None else None,
        "next_refresh_at": next_refresh_at,
        "last_error": counts.last_error,
        "last_error_at": counts.last_error_at,
        "failing_since": counts.failing_since,
        "fetches": counts.fetches,
        "fetch_failures": counts.fetch_failures,
        "reissues": counts.reissues,
        "reissues_failed": counts.reissues_failed,
        "reissues_not_replayable": counts.reissues_not_replayable,
    }


def fetch_outcome(error: Optional[BaseException]) -> str:
    """``ok``, ``throttled`` (the source refused for load) or ``failed``: the metric's ``outcome`` attribute."""
    if error is None:
        return "ok"
    code = getattr(error, "code", None)
    if code in THROTTLING_CODES or getattr(error, "status", None) == 429:
        return "throttled"
    return "failed"


class ProviderStats:
    """The counts and times of one provider. Fetch fields are written under the provider's fetch lock; re-issue
    fields under ``_lock``; everything is read without a lock (each field is one immutable value)."""

    def __init__(self) -> None:
        self.fetches = 0  # fetch rounds made, successful or not
        self.fetch_failures = 0
        self.fetched_at: Optional[float] = None  # epoch seconds of the last successful fetch
        self.key_fetched_at: Optional[float] = None  # when the key in use was first fetched (a refresh that brings
        self._key_id: Optional[str] = None  # the same key again leaves it: its age is the key's, not the fetch's)
        self.last_error: Optional[str] = None  # why the latest fetch failed (None once a fetch succeeds)
        self.last_error_at: Optional[float] = None
        self.failing_since: Optional[float] = None  # the first failure of the current run of failures
        self.reissues = 0  # calls re-issued with a new key after the service rejected the old one
        self.reissues_failed = 0  # calls whose key could not be healed: the service's error was raised
        self.reissues_not_replayable = 0  # calls not re-sent because their body could not be sent again
        self._lock = threading.Lock()
        self._healed_with: Optional[str] = None  # the key id whose healing was announced (one line per rotation)
        self._unhealed: Optional[str] = None  # the rejected key id whose failed healing was reported

    # --- fetches (under the provider's fetch lock) -----------------------------------------------------------------
    def fetch_succeeded(self, now: float, key_id: str) -> None:
        self.fetches += 1
        self.fetched_at = now
        if key_id != self._key_id:
            self._key_id, self.key_fetched_at = key_id, now
        self.last_error = self.last_error_at = self.failing_since = None

    def fetch_failed(self, error: CredentialsError, now: float) -> None:
        self.fetches += 1
        self.fetch_failures += 1
        self.last_error, self.last_error_at = str(error), now
        if self.failing_since is None:
            self.failing_since = now

    # --- re-issues (the proxies' failure path) ------------------------------------------------------------------
    def healed(self, key_id: str) -> bool:
        """Count a call healed with ``key_id``; True for the first of its rotation (the one to announce)."""
        with self._lock:
            self.reissues += 1
            self._unhealed = None
            first = key_id != self._healed_with
            self._healed_with = key_id
        return first

    def heal_failed(self, rejected_key_id: Optional[str]) -> bool:
        """Count a call whose key could not be healed; True for the first with that rejected key (the one to log)."""
        with self._lock:
            self.reissues_failed += 1
            first = rejected_key_id != self._unhealed
            self._unhealed = rejected_key_id
        return first

    def not_replayable(self) -> None:
        with self._lock:
            self.reissues_not_replayable += 1

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # a parent's thread may have held it at the fork


def _reset_after_fork() -> None:
    global _attach_lock
    _attach_lock = threading.Lock()
    for provider in list(_providers):
        stats = getattr(provider, "_stats", None)
        if isinstance(stats, ProviderStats):
            stats._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
