"""What sets the slowest call of a rotation, as counts (the latency itself is benchmarks/rotation.py's): the callers
that report the revoked key while its refresh runs share that one fetch, and none of them queues on the provider's
lock behind the others (a lock convoy: each thread woken only when the one before it has let the lock go)."""

import threading

from credentials import Credentials, RefreshingProvider
from credentials.model import Fetched
from tests.helpers import wait_until

CALLERS = 7


class HeldProvider(RefreshingProvider):
    """Version n is key "id-n"; a fetch waits at ``gate`` (set by the test) once ``hold`` is set."""

    def __init__(self):
        super().__init__(name="held")
        self.version = 0
        self.fetches = 0
        self.hold = False
        self.in_fetch = threading.Event()
        self.gate = threading.Event()

    def _fetch(self):
        self.fetches += 1
        if self.hold:
            self.in_fetch.set()
            assert self.gate.wait(30), "the test never let the fetch finish"
        self.version += 1
        return Fetched(Credentials(f"id-{self.version}", f"secret-{self.version}"), float("inf"))


class CountingLock:
    """The provider's lock, counting the callers that asked for it."""

    def __init__(self, inner):
        self.inner = inner
        self.asked = 0
        self._count = threading.Lock()

    def __enter__(self):
        with self._count:
            self.asked += 1
        return self.inner.__enter__()

    def __exit__(self, *exc_info):
        return self.inner.__exit__(*exc_info)

    def acquire(self, *args, **kwargs):
        with self._count:
            self.asked += 1
        return self.inner.acquire(*args, **kwargs)

    def release(self):
        self.inner.release()


class CountingEvent:
    """The running round's event, counting the callers waiting on it."""

    def __init__(self, inner):
        self.inner = inner
        self.waiting = 0
        self._count = threading.Lock()

    def wait(self, timeout=None):
        with self._count:
            self.waiting += 1
        return self.inner.wait(timeout)

    def set(self):
        self.inner.set()


def test_callers_reporting_a_revoked_key_during_its_refresh_share_it_without_queueing_on_the_lock():
    provider = HeldProvider()
    revoked = provider.get_credentials()
    provider.hold = True
    lock = provider._lock = CountingLock(provider._lock)
    results = []
    first = threading.Thread(target=lambda: results.append(provider.refresh(stale=revoked)), daemon=True)
    first.start()
    assert provider.in_fetch.wait(10), "the first caller's fetch did not start"
    round_done = provider._round_over = CountingEvent(provider._round_over)  # the round now running
    others = [
        threading.Thread(target=lambda: results.append(provider.refresh(stale=revoked)), daemon=True)
        for _ in range(CALLERS)
    ]
    for thread in others:
        thread.start()
    waiting = wait_until(lambda: round_done.waiting + lock.asked - 1 == CALLERS)  # all queued, on either
    provider.gate.set()
    for thread in [first, *others]:
        thread.join(10)
    assert waiting, "the callers did not all wait for the running fetch"
    assert [c.access_key_id for c in results] == ["id-2"] * (CALLERS + 1)
    assert provider.fetches == 2  # the first key, and one refresh for all eight callers
    assert round_done.waiting == CALLERS and lock.asked == 1, "callers queued on the lock behind the fetch"


def test_a_caller_that_reports_a_key_already_replaced_gets_the_new_one_without_the_lock():
    provider = HeldProvider()
    revoked = provider.get_credentials()
    fresh = provider.refresh(stale=revoked)
    lock = provider._lock = CountingLock(provider._lock)
    assert provider.refresh(stale=revoked) is fresh
    assert lock.asked == 0 and provider.fetches == 2
