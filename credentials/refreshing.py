"""RefreshingProvider: hands out one immutable Credentials at a time and refreshes it for everyone.

The refresh model is botocore's: a lock-free fast path that reads one
immutable snapshot; an *advisory* window in which one background thread
refreshes while callers keep the still-valid key; a *mandatory* window (no
key yet, or a token about to expire) in which callers wait for the refresh.
A forced ``refresh(stale=...)`` is single-flight and rate-limited after
fetches that brought nothing new, so a key that the service keeps rejecting
cannot turn into a KMS storm.

When KMS is throttling (HTTP 429 ``Rejected.Throttling``) the next fetch waits
for a window that grows with the throttled answers in a row (2, 4, 8, 16, 30 s;
the wait drawn in the window's upper half, never before a ``Retry-After``), one
request per window; a caller that needs a new key (its key was rejected, or
there is none yet) waits through those windows at most ``refresh_wait`` seconds
(``refresh_wait_seconds``, default 10 s), then gets the failure, and the next
call after the next window heals. Why this design: credentials/throttling.py.

Here: the reading, the forced refresh, the fetch round and the background refresh. What a round leaves behind (the
key's windows, the backoff, the counts, the log line) is fetch_outcome.py; how a caller waits for a round is
waiting.py.
"""

import abc
import logging
import os
import threading
import time
import weakref
from typing import Any, Callable, Dict, Optional

from .errors import CredentialsError
from .fetch_outcome import INF, _FetchOutcome
from .model import _EMPTY, Credentials, Fetched, _Slot
from .provider import CredentialsProvider
from .throttling import DEFAULT_REFRESH_WAIT
from .waiting import _Waiting

logger = logging.getLogger("managed_credentials.credentials")

# Every RefreshingProvider, so a forked child can reset their locks.
_live: "weakref.WeakSet[RefreshingProvider]" = weakref.WeakSet()


class RefreshingProvider(CredentialsProvider, _Waiting, _FetchOutcome):
    """Caches what ``_fetch()`` returns and keeps it fresh; subclasses only say how to fetch.

    Errors of a fetch never replace a good key. Consecutive failures, and
    forced fetches that returned the very key the caller said was stale, push
    the next allowed fetch back exponentially (1 s, 2 s, ... ``backoff_cap``),
    with jitter; a productive fetch resets that. Throttled answers have their own
    windows (credentials/throttling.py), which a caller waits through for at most
    ``refresh_wait`` seconds (0: never waits for a later attempt).
    """

    def __init__(
        self,
        *,
        name: str,
        clock: Callable[[], float] = time.time,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        background: bool = True,
        refresh_wait: float = DEFAULT_REFRESH_WAIT,
    ):
        """``name``: what messages and ``repr`` call it (a secret name, a source). ``clock``: the time source
        (injected by tests). ``backoff_base`` / ``backoff_cap``: seconds of the first and the longest wait after a
        failed or useless fetch. ``background``: refresh in the advisory window from a background thread (False:
        the caller that finds the key due refreshes it). ``refresh_wait``: the longest a caller of ``refresh()`` waits
        through throttling windows or another caller's fetch (seconds)."""
        if not refresh_wait >= 0:  # also false for nan
            raise ValueError("refresh_wait must be a number of seconds >= 0")
        self.name = name
        self._refresh_wait = float(refresh_wait)
        self._clock = clock
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._background = background
        self._slot = _EMPTY
        self._closed = False
        self._init_locks()
        _live.add(self)

    _round_started = 0.0  # time.monotonic() when the current fetch round began (under the fetch lock)
    _round_event = staticmethod(threading.Event)  # what each fetch round makes for its waiters (a test may count them)

    def _init_locks(self) -> None:
        self._lock = threading.Lock()  # held for the duration of every fetch
        self._bg_lock = threading.Lock()
        self._bg_running = False
        self._rounds = 0  # fetch rounds finished, success or not: a caller that waited through one shares it
        self._round_over = threading.Event()  # a new one per fetch round, set when the round ends
        self._round_over.set()
        self._last_error: Optional[CredentialsError] = None
        self._streak = 0  # consecutive failed or useless fetches
        self._throttles = 0  # consecutive throttled answers (credentials/throttling.py)
        self._not_before = 0.0  # earliest next fetch after a failed or useless one
        self._round_done = threading.Condition(threading.Lock())  # notified at the end of every fetch round
        self._fetch_deadline: Optional[float] = None  # the deadline of the caller making the fetch under way

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
        deadline = self._wait_deadline(no_key=seen.credentials is None)
        rounds = self._rounds
        while True:
            if not self._lock.acquire(timeout=_left(deadline)):
                return self._result_of_last_round()  # another caller's fetch outlasted our bound
            try:
                slot = self._slot
                if slot is not seen and slot.credentials is not None and self._clock() < slot.must_refresh_at:
                    return slot.credentials
                wait = self._throttle_wait(deadline)
                if wait is None and (self._rounds != rounds or self._clock() < self._not_before):
                    return self._result_of_last_round()
                if self._clock() >= self._not_before:
                    try:
                        return self._fetch_round(stale=None, deadline=deadline)
                    except CredentialsError:
                        wait = self._throttle_wait(deadline)
                        if wait is None:
                            raise
                rounds = self._rounds
            finally:
                self._lock.release()
            self._sleep_for_round(rounds, wait)

    # --- forced refresh -----------------------------------------------------------
    def refresh(self, stale: Optional[Credentials] = None) -> Credentials:
        deadline = self._wait_deadline(no_key=self._slot.credentials is None)
        rounds = self._rounds
        # Callers that report the same stale key while a fetch runs (every thread of a process after a revocation)
        # wait for the round's end together, then read its key without the lock: queued on the lock instead, each
        # would take and hand it on in turn, one thread wake-up after another (a lock convoy of several ms).
        self._round_over.wait(_left(deadline))
        current = self._slot.credentials
        if stale is not None and current is not None and current != stale:
            return current
        while True:
            if not self._lock.acquire(timeout=_left(deadline)):  # another caller's fetch outlasted our bound
                return self._gave_up_waiting(stale)
            try:
                current = self._slot.credentials
                if stale is not None and current is not None and current != stale:
                    return current
                wait = self._throttle_wait(deadline)  # KMS is throttling and its next window opens within our bound
                if self._rounds != rounds and wait is None:  # a round ran while we waited: share it
                    return self._result_of_last_round()
                if current is not None and self._clock() < self._not_before:
                    if wait is None:
                        logger.debug(
                            "%s: refresh skipped, next fetch allowed in %.1fs",
                            self.name,
                            self._not_before - self._clock(),
                        )
                        return current
                else:
                    try:
                        fresh = self._fetch_round(stale=stale, deadline=deadline)
                    except CredentialsError:
                        wait = self._throttle_wait(deadline)
                        if wait is None:
                            raise
                    else:
                        wait = self._throttle_wait(deadline) if self._last_error is not None else None
                        if wait is None:
                            return fresh
                rounds = self._rounds
            finally:
                self._lock.release()
            self._sleep_for_round(rounds, wait)

    def _fetch_round(self, stale: Optional[Credentials], deadline: Optional[float] = None) -> Credentials:
        """One fetch, under ``self._lock``. Stores the result or records the failure. ``deadline``: when the caller
        that makes it stops waiting (a fetch without a key yet may be bounded by it: ManagedSecretProvider)."""
        previous = self._slot.credentials
        self._fetch_deadline = deadline
        self._round_started = time.monotonic()
        self._round_over = done = self._round_event()
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
            self._fetch_deadline = None
            self._rounds += 1
            done.set()
            with self._round_done:
                self._round_done.notify_all()

    def last_error(self) -> Optional[CredentialsError]:
        return self._last_error

    def status(self) -> Dict[str, Any]:
        slot = self._slot  # one snapshot: key and refresh time of the same round
        refresh_at = slot.refresh_at if slot.credentials is not None and slot.refresh_at != INF else None
        return self._status(slot.credentials, refresh_at)

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

    def _after_fork_in_child(self) -> None:
        """The child gets fresh locks (a parent's refresh thread may have held them) and no background flag."""
        slot = self._slot
        self._init_locks()
        self._slot = slot


def _left(deadline: float) -> float:
    """Seconds until ``deadline`` (time.monotonic()), never negative (a lock's timeout)."""
    return max(0.0, deadline - time.monotonic())


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
