"""Providers hand out one immutable Credentials at a time and refresh it for everyone.

The refresh model is botocore's: a lock-free fast path that reads one
immutable snapshot; an *advisory* window in which one background thread
refreshes while callers keep the still-valid key; a *mandatory* window (no
key yet, or a token about to expire) in which callers wait for the refresh.
A forced ``refresh(stale=...)`` is single-flight and rate-limited after
fetches that brought nothing new, so a key that the service keeps rejecting
cannot turn into a KMS storm.
"""

import abc
import logging
import os
import random
import threading
import time
import weakref
from typing import Callable, Optional

from .errors import CredentialsError
from .model import _EMPTY, Credentials, Fetched, _Slot, mask

logger = logging.getLogger("managed_credentials.credentials")

INF = float("inf")


class CredentialsProvider(abc.ABC):
    """Where a client gets the key it signs with."""

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

    def close(self) -> None:  # noqa: B027 - optional: a provider without background work has nothing to stop
        """Stop background work. Idempotent."""

    def __enter__(self) -> "CredentialsProvider":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# Every RefreshingProvider, so a forked child can reset their locks.
_live: "weakref.WeakSet[RefreshingProvider]" = weakref.WeakSet()


def mandatory_margin(lifetime: float) -> float:
    """How long before expiry a token must no longer be used (botocore uses 10 of 15 minutes)."""
    return min(600.0, max(lifetime * 0.1, 1.0))


def advisory_margin(lifetime: float) -> float:
    """How long before expiry a background refresh starts (botocore: 15 minutes)."""
    return min(900.0, max(lifetime * 0.25, 2.0))


class RefreshingProvider(CredentialsProvider):
    """Caches what ``_fetch()`` returns and keeps it fresh; subclasses only say how to fetch.

    Errors of a fetch never replace a good key. Consecutive failures, and
    forced fetches that returned the very key the caller said was stale, push
    the next allowed fetch back exponentially (1 s, 2 s, ... ``backoff_cap``),
    with jitter; a productive fetch resets that.
    """

    def __init__(
        self,
        *,
        name: str,
        clock: Callable[[], float] = time.time,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        background: bool = True,
    ):
        self.name = name
        self._clock = clock
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._background = background
        self._slot = _EMPTY
        self._closed = False
        self._init_locks()
        _live.add(self)

    def _init_locks(self) -> None:
        self._lock = threading.Lock()  # held for the duration of every fetch
        self._bg_lock = threading.Lock()
        self._bg_running = False
        self._rounds = 0  # fetch rounds finished, success or not: a caller that waited through one shares it
        self._round_done = threading.Event()  # a new one per fetch round, set when the round ends
        self._round_done.set()
        self._last_error: Optional[CredentialsError] = None
        self._streak = 0  # consecutive failed or useless fetches
        self._not_before = 0.0  # earliest next fetch after a failed or useless one

    # --- what subclasses provide -------------------------------------------------
    @abc.abstractmethod
    def _fetch(self) -> Fetched:
        """Get a fresh key from the source; raise CredentialsError on failure."""

    # --- reading --------------------------------------------------------------------
    def get_credentials(self) -> Credentials:
        slot = self._slot
        if self._clock() < slot.refresh_at:
            return slot.credentials  # type: ignore[return-value]
        return self._get_slow(slot)

    def credentials_without_waiting(self) -> Optional[Credentials]:
        slot = self._slot
        if self._clock() < slot.refresh_at:
            return slot.credentials
        if slot.credentials is not None and self._clock() < slot.must_refresh_at:
            return self._get_slow(slot)  # advisory window: starts the background refresh, does not wait
        return None

    def _get_slow(self, slot: _Slot) -> Credentials:
        now = self._clock()
        if slot.credentials is None or now >= slot.must_refresh_at:
            return self._refresh_blocking(slot)
        if now >= slot.refresh_at:
            self._start_background_refresh()
        return self._slot.credentials or slot.credentials

    def _refresh_blocking(self, seen: _Slot) -> Credentials:
        rounds = self._rounds
        with self._lock:
            slot = self._slot
            if slot is not seen and slot.credentials is not None and self._clock() < slot.must_refresh_at:
                return slot.credentials
            if self._rounds != rounds or self._clock() < self._not_before:
                return self._result_of_last_round()
            return self._fetch_round(stale=None)

    # --- forced refresh -----------------------------------------------------------
    def refresh(self, stale: Optional[Credentials] = None) -> Credentials:
        rounds = self._rounds
        # Callers that report the same stale key while a fetch runs (every thread of a process after a revocation)
        # wait for the round's end together, then read its key without the lock: queued on the lock instead, each
        # would take and hand it on in turn, one thread wake-up after another (a lock convoy of several ms).
        self._round_done.wait()
        current = self._slot.credentials
        if stale is not None and current is not None and current != stale:
            return current
        with self._lock:
            current = self._slot.credentials
            if stale is not None and current is not None and current != stale:
                return current
            if self._rounds != rounds:  # a round ran while we waited: share it
                return self._result_of_last_round()
            if current is not None and self._clock() < self._not_before:
                logger.debug(
                    "%s: refresh skipped, next fetch allowed in %.1fs", self.name, self._not_before - self._clock()
                )
                return current
            return self._fetch_round(stale=stale)

    def _result_of_last_round(self) -> Credentials:
        slot = self._slot
        if slot.credentials is not None and self._clock() < slot.must_refresh_at:
            return slot.credentials
        if slot.credentials is not None and self._last_error is None:
            return slot.credentials
        raise self._last_error or CredentialsError("no credentials yet", secret_name=self.name)

    def _fetch_round(self, stale: Optional[Credentials]) -> Credentials:
        """One fetch, under ``self._lock``. Stores the result or records the failure."""
        previous = self._slot.credentials
        self._round_done = done = threading.Event()
        try:
            try:
                fetched = self._fetch()
            except Exception as exc:  # noqa: BLE001 - any failure of a source is a CredentialsError to callers
                if not isinstance(exc, CredentialsError):
                    exc = _unexpected(exc, self.name)
                self._record_failure(exc, rejected=previous if stale is not None and previous == stale else None)
                if previous is not None and stale is not None and self._clock() < self._slot.must_refresh_at:
                    return previous
                raise exc
            self._store(fetched, useless=stale is not None and fetched.credentials == stale)
            return fetched.credentials
        finally:
            self._rounds += 1
            done.set()

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
        if self._streak and not useless:
            logger.info("%s: credentials fetched again after %d failed attempt(s)", self.name, self._streak)
        self._last_error = None
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
        delay = self._backoff(self._streak)
        self._not_before = now + delay
        slot = self._slot
        usable = slot.credentials is not None and now < slot.must_refresh_at
        if slot.credentials is not None:  # keep the good key; try again in the background later
            self._slot = _Slot(slot.credentials, min(slot.must_refresh_at, now + delay), slot.must_refresh_at)
        self._report_failure(exc, usable, rejected)

    def _report_failure(self, exc: CredentialsError, usable: bool, rejected: Optional[Credentials] = None) -> None:
        """One line per outage, and only where nobody else reports it: without a usable key the failure is raised
        to the caller (a constructor that carries on logs it itself), so it is only logged at DEBUG here. A key
        a caller reported stale (rejected by the service) is not called good."""
        if self._streak == 1 and usable and rejected is not None:
            logger.log(
                failure_level(exc),
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

    def last_error(self) -> Optional[CredentialsError]:
        return self._last_error

    def _backoff(self, streak: int) -> float:
        ceiling = min(self._backoff_cap, self._backoff_base * (2 ** min(streak - 1, 30)))
        return ceiling * random.uniform(0.5, 1.0)

    # --- background refresh ---------------------------------------------------------
    def _start_background_refresh(self) -> None:
        if self._closed or self._bg_running:
            return
        if not self._background:
            self._refresh_in_background()
            return
        with self._bg_lock:
            if self._bg_running:
                return
            self._bg_running = True
        try:
            threading.Thread(
                target=self._refresh_in_background, daemon=True, name=f"credentials-refresh:{self.name}"
            ).start()
        except RuntimeError:  # interpreter shutting down: no new threads
            self._bg_running = False

    def _refresh_in_background(self) -> None:
        try:
            if not self._lock.acquire(blocking=False):
                return  # a forced refresh is already fetching for everyone
            try:
                if self._clock() >= self._slot.refresh_at and not self._closed:
                    try:
                        self._fetch_round(stale=None)
                    except CredentialsError:
                        pass  # recorded and logged by _fetch_round; the old key stays in use
            finally:
                self._lock.release()
        finally:
            self._bg_running = False

    # --- lifecycle ----------------------------------------------------------------------
    def close(self) -> None:
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def _after_fork_in_child(self) -> None:
        """The child gets fresh locks (a parent's refresh thread may have held them) and no background flag."""
        slot = self._slot
        self._init_locks()
        self._slot = slot


def failure_level(exc: CredentialsError) -> int:
    """ERROR for what needs a person (a malformed secret, a refusal that no retry changes); WARNING for what passes
    by itself (an outage, a timeout, throttling)."""
    if exc.code == "MalformedSecretData" or getattr(exc, "retryable", True) is False:
        return logging.ERROR
    return logging.WARNING


def _unexpected(exc: BaseException, name: str) -> CredentialsError:
    error = CredentialsError(
        f"the credentials source failed unexpectedly: {type(exc).__name__}: {exc}", secret_name=name
    )
    error.__cause__ = exc
    return error


def _reset_after_fork() -> None:
    for provider in list(_live):
        provider._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
