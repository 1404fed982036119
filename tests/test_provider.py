"""The refresh rules every provider shares, with a fake source that returns 1, 2, 3... in every field.

A torn read (key id of one version, secret of another) is then obvious, and
counting fetches is exact. The same rules are exercised over HTTP against the
emulator in test_managed_secret.py.
"""

import logging
import threading
import time

import pytest

from credentials import Credentials, CredentialsError, RefreshingProvider, StaticCredentialsProvider
from credentials.model import Fetched

DEADLINE = 10.0


class Clock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


class CountingProvider(RefreshingProvider):
    """Version n has key id "id-n", secret "secret-n", token "token-n"."""

    def __init__(self, clock=time.time, lifetime=None, refresh_after=3600.0, gate=None, **kwargs):
        super().__init__(name="counting", clock=clock, **kwargs)
        self.version = 0
        self.fetches = 0
        self.fail_with = None
        self.repeat = False  # return the same version again (a source that has nothing new)
        self.lifetime = lifetime
        self.refresh_after = refresh_after
        self.gate = gate

    def _fetch(self):
        self.fetches += 1
        if self.gate is not None:
            self.gate()
        if self.fail_with is not None:
            raise self.fail_with
        if not self.repeat or self.version == 0:
            self.version += 1
        n = self.version
        now = self._clock()
        expiration = now + self.lifetime if self.lifetime else None
        return Fetched(Credentials(f"id-{n}", f"secret-{n}", f"token-{n}", expiration), now + self.refresh_after)


def consistent(creds):
    n = creds.access_key_id.split("-")[1]
    return creds.access_key_secret == f"secret-{n}" and creds.security_token == f"token-{n}"


def wait_for(predicate, deadline=DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def test_repr_and_str_hide_secret_and_token():
    creds = Credentials("LTAI5tAbcdefgh1234", "CANARY-secret-value", "CANARY-token-value", 123.0)
    for shown in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert "CANARY" not in shown and "LTAI****1234" in shown
    with pytest.raises(AttributeError):  # dataclasses.FrozenInstanceError
        creds.access_key_id = "other"
    with pytest.raises(TypeError):
        __import__("pickle").dumps(creds)


def test_first_get_fetches_once_then_serves_from_cache():
    provider = CountingProvider()
    first = provider.get_credentials()
    assert first.access_key_id == "id-1"
    assert all(provider.get_credentials() is first for _ in range(1000))
    assert provider.fetches == 1


class WaitCountingLock:
    """A lock that counts the threads blocked in acquire(): a test can wait until every caller is queued behind a
    fetch, instead of guessing when they got there."""

    def __init__(self):
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.waiting = 0

    def acquire(self, blocking=True, timeout=-1):
        with self._count_lock:
            self.waiting += 1
        try:
            return self._lock.acquire(blocking, timeout)
        finally:
            with self._count_lock:
                self.waiting -= 1

    def release(self):
        self._lock.release()

    def locked(self):
        return self._lock.locked()

    __enter__ = acquire

    def __exit__(self, *exc_info):
        self.release()


class WaitCountingEvent(threading.Event):
    """A fetch round's event that counts the threads waiting for it (CountingProvider makes one per round)."""

    waiting = 0  # on the round now running; reset by each new round
    _count = threading.Lock()

    def wait(self, timeout=None):
        with self._count:
            WaitCountingEvent.waiting += 1
        try:
            return super().wait(timeout)
        finally:
            with self._count:
                WaitCountingEvent.waiting -= 1


def test_sixteen_threads_refreshing_at_once_share_one_fetch():
    """One thread's refresh is fetching; the fetch is held until the other fifteen are queued behind it (on the
    provider's fetch lock, or waiting for the running round to end): all sixteen get its result, one fetch.
    (Waiting only until each thread *announced* it was about to call refresh() let a thread preempted in between
    arrive after the fetch, and fetch again.)"""
    provider = CountingProvider()
    provider.get_credentials()
    provider._round_event = WaitCountingEvent
    lock = provider._lock = WaitCountingLock()
    queued = lambda: lock.waiting + WaitCountingEvent.waiting == 15  # noqa: E731
    provider.gate = lambda: provider.fetches > 2 or wait_for(queued)  # hold the first
    barrier = threading.Barrier(16)
    results = []

    def worker():
        barrier.wait(DEADLINE)
        results.append(provider.refresh())

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    assert provider.fetches == 2  # the initial one, and one for all sixteen
    assert {c.access_key_id for c in results} == {"id-2"}


def test_refresh_with_already_replaced_stale_key_does_not_fetch():
    provider = CountingProvider()
    old = provider.get_credentials()
    new = provider.refresh(stale=old)
    assert new.access_key_id == "id-2"
    assert provider.refresh(stale=old) is new
    assert provider.fetches == 2


def test_thousand_threads_with_the_same_stale_key_cause_one_fetch():
    provider = CountingProvider()
    stale = provider.get_credentials()
    barrier = threading.Barrier(50)
    results = []

    def worker():
        barrier.wait(DEADLINE)
        for _ in range(20):
            results.append(provider.refresh(stale=stale))

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    assert len(results) == 1000 and {c.access_key_id for c in results} == {"id-2"}
    assert provider.fetches == 2


def test_no_torn_reads_while_refreshing():
    provider = CountingProvider(refresh_after=0.0, background=False)  # every read may refresh
    stop = threading.Event()
    torn = []

    def reader():
        while not stop.is_set():
            creds = provider.get_credentials()
            if not consistent(creds):
                torn.append(creds)

    def refresher():
        for _ in range(100):
            provider.refresh()

    readers = [threading.Thread(target=reader) for _ in range(8)]
    for t in readers:
        t.start()
    refreshers = [threading.Thread(target=refresher) for _ in range(2)]
    for t in refreshers:
        t.start()
    for t in refreshers:
        t.join(DEADLINE * 3)
    stop.set()
    for t in readers:
        t.join(DEADLINE)
    assert not torn
    assert provider.version >= 200


def test_useless_refreshes_back_off():
    clock = Clock()
    provider = CountingProvider(clock=clock)
    stale = provider.get_credentials()
    provider.repeat = True  # the source keeps returning the rejected key
    for _ in range(50):
        assert provider.refresh(stale=stale) == stale
    assert provider.fetches == 2  # one useless fetch, then the back-off holds
    clock.now += 1.01
    provider.refresh(stale=stale)
    assert provider.fetches == 3
    provider.refresh(stale=stale)
    assert provider.fetches == 3  # now 1-2 s of back-off
    clock.now += 2.01
    provider.repeat = False  # a new key at last
    assert provider.refresh(stale=stale).access_key_id == "id-2"
    newer = provider.refresh(stale=provider.get_credentials())  # productive fetches are never held back
    assert newer.access_key_id == "id-3"


def test_failed_fetch_keeps_last_good_key_and_backs_off(caplog):
    clock = Clock()
    provider = CountingProvider(clock=clock, background=False)
    good = provider.get_credentials()
    provider.fail_with = CredentialsError("KMS is down", secret_name="counting", code="ServiceUnavailable")
    caplog.set_level(logging.DEBUG, logger="managed_credentials")
    assert provider.refresh(stale=good) is good
    for _ in range(10):
        assert provider.refresh(stale=good) is good  # held back: no storm
    assert provider.fetches == 2
    with pytest.raises(CredentialsError):
        clock.now += 1.1
        provider.refresh()  # an explicit refresh with no stale key reports the failure
    clock.now += 3600  # the advisory time passes during the outage: reads keep the good key
    assert provider.get_credentials() is good
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    # Nothing above DEBUG: the outage began with a caller that reported the key stale (a proxy, which reports the
    # heal that failed as its one ERROR, proxy/outcomes.py); later failures of the same outage are DEBUG.
    # (One warning per outage otherwise: test_log_lines.py::test_an_outage_with_a_good_key_is_one_warning_...)
    assert warnings == [], "no line per attempt"
    provider.fail_with = None
    clock.now += 60
    assert provider.refresh(stale=good).access_key_id == "id-2"


def test_no_credentials_and_failing_source_raises_without_storm():
    clock = Clock()
    provider = CountingProvider(clock=clock)
    provider.fail_with = CredentialsError("nope", secret_name="counting", code="X")
    with pytest.raises(CredentialsError):
        provider.get_credentials()
    for _ in range(20):
        with pytest.raises(CredentialsError):
            provider.get_credentials()
    assert provider.fetches == 1
    provider.fail_with = None
    clock.now += 1.1
    assert provider.get_credentials().access_key_id == "id-1"


def test_advisory_window_refreshes_in_background_while_old_key_is_served():
    release = threading.Event()
    provider = CountingProvider(refresh_after=0.05)
    first = provider.get_credentials()
    provider.gate = lambda: release.wait(DEADLINE)
    assert wait_for(lambda: time.time() > provider._slot.refresh_at)
    assert provider.get_credentials() is first  # advisory: not blocked
    assert wait_for(lambda: provider._bg_running)
    release.set()
    assert wait_for(lambda: provider.get_credentials().access_key_id == "id-2")


def test_session_credentials_are_refreshed_before_expiry():
    clock = Clock()
    provider = CountingProvider(clock=clock, lifetime=60.0, refresh_after=10_000, background=False)
    first = provider.get_credentials()
    clock.now += 30
    assert provider.get_credentials() is first
    clock.now += 20  # 10 s left: inside the advisory window (15 s for a 60 s lifetime)
    assert provider.get_credentials().access_key_id == "id-2"


def test_mandatory_window_blocks_for_a_fresh_token():
    """3 s before expiry (inside the mandatory margin of a 60 s token) a caller may not use the old token: it
    waits for the fetch, which is held on an event until the test has seen the caller blocked inside it."""
    clock = Clock()
    entered, release = threading.Event(), threading.Event()
    fetching_threads = []

    def gate():
        fetching_threads.append(threading.current_thread())
        entered.set()
        release.wait(DEADLINE)

    provider = CountingProvider(clock=clock, lifetime=60.0, refresh_after=10_000)
    provider.get_credentials()
    provider.gate = gate
    clock.now += 57  # 3 s left: less than the safety margin, so nobody may use it
    results = []
    caller = threading.Thread(target=lambda: results.append(provider.get_credentials()), daemon=True)
    caller.start()
    try:
        assert entered.wait(DEADLINE), "the caller did not start a fetch"
        assert fetching_threads == [caller]  # the caller itself fetches (not a background thread) ...
        assert results == []  # ... and is still waiting for it
    finally:
        release.set()
        caller.join(DEADLINE)
    assert [c.access_key_id for c in results] == ["id-2"]  # never the token about to expire
    assert provider.fetches == 2


def test_advisory_window_does_not_make_a_caller_wait():
    """The counterpart: 10 s before expiry (advisory, not yet mandatory) the caller gets the still-valid token at
    once while one background thread fetches."""
    clock = Clock()
    entered, release = threading.Event(), threading.Event()
    provider = CountingProvider(clock=clock, lifetime=60.0, refresh_after=10_000)
    first = provider.get_credentials()
    provider.gate = lambda: (entered.set(), release.wait(DEADLINE))
    clock.now += 50
    try:
        assert provider.get_credentials() is first
        assert entered.wait(DEADLINE)
    finally:
        release.set()
    assert wait_for(lambda: provider.get_credentials().access_key_id == "id-2")


def test_expired_on_arrival_is_rejected():
    clock = Clock()
    provider = CountingProvider(clock=clock, lifetime=0.5)
    with pytest.raises(CredentialsError):
        provider.get_credentials()


def test_static_provider():
    provider = StaticCredentialsProvider("AKID", "SECRET")
    assert provider.get_credentials() is provider.refresh() is provider.refresh(stale=provider.get_credentials())
    assert "SECRET" not in repr(provider)
