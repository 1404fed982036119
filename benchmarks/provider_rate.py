"""``provider.get_credentials()`` on a warm cache: one thread, and eight at once.

The read path is meant to be lock-free: one load of an immutable snapshot and a clock
comparison. To verify that rather than assume it, the provider's locks are swapped
for counting wrappers while the reads run; any acquisition is reported.

CPython runs one thread at a time (the GIL), so eight threads can at best equal one;
each forced switch (every ``sys.getswitchinterval()``) costs a thread wake-up. A
control that shares nothing (a method reading one attribute of its own object and the
clock, the same work without the provider) is measured the same way, so a loss that
belongs to the interpreter is told apart from one that belongs to the provider.
"""

import sys
import threading
import time
from itertools import repeat
from typing import Callable, List, Tuple

from .figures import INFO, Figure, verdict
from .settings import Settings
from .stats import summarize

TARGET_SINGLE = 2_000_000
THREADS = 8


class CountingLock:
    """A lock that counts acquisitions (a read on the fast path must take none)."""

    def __init__(self, lock):
        self._lock = lock
        self.acquired = 0

    def acquire(self, *args, **kwargs):
        self.acquired += 1
        return self._lock.acquire(*args, **kwargs)

    def release(self):
        return self._lock.release()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


class _Control:
    """The same work as a warm read (an attribute load, a clock call, a comparison) and nothing shared."""

    def __init__(self):
        self.value = object()
        self.until = float("inf")

    def get(self):
        value = self.value
        if time.time() < self.until:
            return value
        return None


def _run(get: Callable[[], object], n: int) -> None:
    for _ in repeat(None, n):
        get()


def rates(
    get: Callable[[], object], calls: int, threads: int = THREADS, single_first: bool = True
) -> Tuple[float, float]:
    """(single-thread calls/s, aggregate calls/s of ``threads`` threads sharing ``calls``)."""
    if single_first:
        single = _single(get, calls)
        return single, _threaded(get, calls, threads)
    multi = _threaded(get, calls, threads)
    return _single(get, calls), multi


def _single(get: Callable[[], object], calls: int) -> float:
    t0 = time.perf_counter()
    _run(get, calls)
    return calls / (time.perf_counter() - t0)


def _threaded(get: Callable[[], object], calls: int, threads: int) -> float:
    per_thread = calls // threads
    barrier = threading.Barrier(threads + 1, timeout=30.0)

    def worker() -> None:
        barrier.wait()
        _run(get, per_thread)

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join(60.0)
    elapsed = time.perf_counter() - t0
    if any(w.is_alive() for w in workers):
        raise RuntimeError("reader threads did not finish within 60 s")
    return per_thread * threads / elapsed


def measure(provider, settings: Settings) -> List[Figure]:
    provider.get_credentials()  # warm
    locks = {name: CountingLock(getattr(provider, name)) for name in ("_lock", "_bg_lock") if hasattr(provider, name)}
    originals = {name: lock._lock for name, lock in locks.items()}
    control = _Control()
    singles, multis, ratios, control_ratios = [], [], [], []
    try:
        for name, lock in locks.items():
            setattr(provider, name, lock)
        for i in range(settings.provider_rounds):  # provider and control take turns; the order flips every round
            first = i % 2 == 0
            single, multi = rates(provider.get_credentials, settings.provider_calls, single_first=first)
            c_single, c_multi = rates(control.get, settings.provider_calls, single_first=not first)
            singles.append(single)
            multis.append(multi)
            ratios.append(multi / single)
            control_ratios.append(c_multi / c_single)
    finally:
        for name, lock in originals.items():
            setattr(provider, name, lock)
    acquired = sum(lock.acquired for lock in locks.values())
    s, m, r, c = summarize(singles), summarize(multis), summarize(ratios), summarize(control_ratios)
    reads = settings.provider_calls * 2 * settings.provider_rounds
    common = {
        "locks_acquired_during_reads": acquired,
        "reads": reads,
        "switch_interval_s": sys.getswitchinterval(),
        "threads": THREADS,
    }
    return [
        Figure(
            "provider_single",
            "provider.get_credentials(), warm cache, 1 thread",
            f">= {TARGET_SINGLE:,} calls/s",
            f"{s.median:,.0f} calls/s ({s.spread('{:,.0f}')}); locks taken in {reads:,} reads: {acquired}",
            verdict(s.median >= TARGET_SINGLE and acquired == 0),
            dict(common, rate=s.as_dict()),
        ),
        Figure(
            "provider_threads",
            f"provider.get_credentials(), warm cache, {THREADS} threads",
            "aggregate >= single-thread rate",
            f"aggregate {m.median:,.0f} calls/s = {r.median:.3f} x single (rounds {r.low:.2f}..{r.high:.2f}); "
            f"a control sharing nothing: {c.median:.3f} x",
            verdict(r.median >= 1.0),
            dict(common, aggregate=m.as_dict(), ratio=r.as_dict(), control_ratio=c.as_dict()),
        ),
        Figure(
            "provider_convoy",
            f"no lock convoy: {THREADS}-thread / 1-thread ratio, provider vs control",
            "(supporting figure, no target of its own)",
            f"{r.median:.3f} vs control {c.median:.3f} ({r.median / c.median:.2f} x); locks taken: {acquired}",
            INFO,
            dict(common, ratio=r.as_dict(), control_ratio=c.as_dict()),
        ),
    ]
