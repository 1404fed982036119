"""What a fetch round of RefreshingProvider (refreshing.py) leaves behind: the key it stores and its refresh windows,
the backoff before the next fetch, the counts (``status()``) and metrics, and one log line per outage.

A key with an expiry is refreshed ahead of it (botocore's windows): from ``advisory_margin`` before it one background
thread refreshes while callers keep the key; from ``mandatory_margin`` before it callers wait for a fresh one.
Errors of a fetch never replace a good key. Consecutive failures, and forced fetches that brought back the very key
the caller said was stale, push the next allowed fetch back exponentially (1 s, 2 s, ... ``backoff_cap``), with
jitter; a productive fetch resets that. A throttled answer opens a window of its own (credentials/throttling.py).
"""

import logging
import random
import time
from typing import Callable, Optional

from . import metrics, stats
from .errors import CredentialsError
from .model import Credentials, Fetched, _Slot, mask
from .throttling import is_throttling, throttle_delay

logger = logging.getLogger("managed_credentials.credentials")

INF = float("inf")


def mandatory_margin(lifetime: float) -> float:
    """How long before expiry a token must no longer be used (botocore uses 10 of 15 minutes)."""
    return min(600.0, max(lifetime * 0.1, 1.0))


def advisory_margin(lifetime: float) -> float:
    """How long before expiry a background refresh starts (botocore: 15 minutes)."""
    return min(900.0, max(lifetime * 0.25, 2.0))


class _FetchOutcome:
    """RefreshingProvider's record of each fetch round's result, made under its fetch lock. The state written here is
    RefreshingProvider's (``_init_locks``)."""

    name: str
    _clock: Callable[[], float]
    _slot: _Slot
    _stats: stats.ProviderStats
    _round_started: float  # time.monotonic() when the current fetch round began
    _last_error: Optional[CredentialsError]
    _streak: int
    _throttles: int
    _not_before: float
    _backoff_base: float
    _backoff_cap: float

    def _store(self, fetched: Fetched, useless: bool) -> None:
        now = self._clock()
        creds = fetched.credentials
        if creds.expiration is not None and creds.expiration <= now + 1:
            self._record_failure(
                CredentialsError("the source returned credentials that are already expired", secret_name=self.name)
            )
            raise self._last_error  # type: ignore[misc]
        must = INF
        refresh_at = fetched.refresh_at
        if creds.expiration is not None:
            lifetime = creds.expiration - now
            must = creds.expiration - mandatory_margin(lifetime)
            refresh_at = min(refresh_at, creds.expiration - advisory_margin(lifetime))
        self._slot = _Slot(creds, min(refresh_at, must), must)
        self._stats.fetch_succeeded(now, creds.access_key_id)
        metrics.record_fetch(self.name, "ok", time.monotonic() - self._round_started)
        if self._streak and not useless:
            logger.info("%s: credentials fetched again after %d failed attempt(s)", self.name, self._streak)
        self._last_error = None
        self._throttles = 0
        if useless:
            self._streak += 1
            self._not_before = now + self._backoff(self._streak)
        else:
            self._streak = 0
            self._not_before = 0.0

    def _record_failure(self, exc: CredentialsError, rejected: Optional[Credentials] = None) -> None:
        """``rejected``: the key held, which the caller of ``refresh(stale=...)`` reported stale (the proxies do when
        the service rejected it): not to be called good."""
        self._last_error = exc
        self._streak += 1
        now = self._clock()
        self._stats.fetch_failed(exc, now)
        metrics.record_fetch(self.name, stats.fetch_outcome(exc), time.monotonic() - self._round_started)
        throttled = self._throttle_backoff(exc)
        delay = self._backoff(self._streak) if throttled is None else throttled
        self._not_before = now + delay
        slot = self._slot
        usable = slot.credentials is not None and now < slot.must_refresh_at
        if slot.credentials is not None:  # keep the good key; try again in the background later
            self._slot = _Slot(slot.credentials, min(slot.must_refresh_at, now + delay), slot.must_refresh_at)
        self._report_failure(exc, usable, rejected)

    def _report_failure(self, exc: CredentialsError, usable: bool, rejected: Optional[Credentials] = None) -> None:
        """One line per outage, and only where nobody else reports it: without a usable key the failure is raised
        to the caller (a constructor that carries on logs it itself), so it is only logged at DEBUG here; nor when
        a caller reported the key stale (a proxy, whose call the service rejected): that proxy reports the heal
        that failed, as one ERROR naming the key and this failure (proxy/outcomes.py)."""
        if rejected is not None:
            logger.debug(
                "%s: cannot refresh credentials (%s); key %s, reported stale by a caller, stays the only key until a "
                "fetch succeeds (retrying with backoff)",
                self.name,
                exc,
                mask(rejected.access_key_id),
            )
        elif self._streak == 1 and usable:
            logger.log(
                failure_level(exc),
                "%s: cannot refresh credentials (%s); keeping the last good key and retrying with backoff",
                self.name,
                exc,
            )
        else:
            logger.debug("%s: fetch attempt %d failed: %s", self.name, self._streak, exc)

    def _throttle_backoff(self, exc: CredentialsError) -> Optional[float]:
        """Seconds until the next fetch after a throttled answer (None: not throttling; the general backoff
        applies). The window grows with the throttled answers in a row: credentials/throttling.py."""
        if not is_throttling(exc):
            return None
        self._throttles += 1
        return throttle_delay(self._throttles, getattr(exc, "retry_after", None))

    def _backoff(self, streak: int) -> float:
        ceiling = min(self._backoff_cap, self._backoff_base * (2 ** min(streak - 1, 30)))
        return ceiling * random.uniform(0.5, 1.0)


def failure_level(exc: CredentialsError) -> int:
    """ERROR for what needs a person (a malformed secret, a refusal that no retry changes); WARNING for what passes
    by itself (an outage, a timeout, throttling)."""
    if exc.code == "MalformedSecretData" or getattr(exc, "retryable", True) is False:
        return logging.ERROR
    return logging.WARNING
