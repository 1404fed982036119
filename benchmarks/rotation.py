"""Rotation recovery: from the moment the key is revoked to the first call that succeeds with the new key.

Eight threads call DescribeRegions in a loop through one ProxyAcsClient. The key is
revoked (``rotate_secret(mode="revoke")``: the old key fails at once), in the emulator's
own process, which reports when (perf_counter is CLOCK_MONOTONIC, the same clock in
every process); recovery is counted from just before the revoking call. The budget is
what healing cannot avoid: one KMS round trip (a warm GetSecretValue, timed from this
thread while the callers run) plus one request (the median call under the same 8-thread
load, measured just before the revocation). The refresh's own fetch is timed too,
inside the provider. Every round must cost exactly 1 GetSecretValue.
"""

import threading
import time
from typing import Dict, List, Optional, Tuple

from .cloud import Cloud, describe_regions
from .figures import Figure, verdict
from .settings import Settings
from .stats import summarize

WARM_SECONDS = 0.4
DEADLINE = 10.0


class _Recorder:
    """Each caller's calls: (start, end, ok, key id that signed it, caller index)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls: List[Tuple[float, float, bool, Optional[str], int]] = []
        self.errors: List[BaseException] = []

    def add(self, start: float, end: float, ok: bool, key_id: Optional[str], caller: int) -> None:
        with self.lock:
            self.calls.append((start, end, ok, key_id, caller))


def slowest_call(calls, new_id: str, revoked_at: float) -> Tuple[float, Dict[str, float]]:
    """The rotation's slowest call: for each caller, its first call that succeeded with the new key (the call that
    met the revocation and was re-issued, or the first made after the refresh); the longest of those, with when it
    started and ended (seconds from the revocation)."""
    first: Dict[int, Tuple[float, float]] = {}
    for start, end, ok, key, caller in calls:
        if ok and key == new_id and end > revoked_at and (caller not in first or end < first[caller][1]):
            first[caller] = (start, end)
    if not first:
        return float("nan"), {}
    start, end = max(first.values(), key=lambda span: span[1] - span[0])
    return end - start, {"started_s": start - revoked_at, "ended_s": end - revoked_at, "callers": len(first)}


def _timed_fetches(provider) -> List[Tuple[float, float]]:
    """Record (start, end) of each fetch the provider makes, by wrapping its ``_fetch`` on this instance."""
    spans: List[Tuple[float, float]] = []
    fetch = provider._fetch

    def timed():
        t0 = time.perf_counter()
        try:
            return fetch()
        finally:
            spans.append((t0, time.perf_counter()))

    provider._fetch = timed
    return spans


def _kms_round_trip(provider, secret_name: str, samples: int = 5) -> float:
    """A warm GetSecretValue round trip under the callers' load: the median of timed fetches from this thread
    (the first, which opens this thread's connection, is not counted)."""
    kms = provider._kms
    times = []
    for _ in range(samples + 1):
        t0 = time.perf_counter()
        kms.get_secret_value(secret_name)
        times.append(time.perf_counter() - t0)
    times = sorted(times[1:])
    return times[len(times) // 2]


def one_round(cloud: Cloud, client, threads: int) -> Dict[str, float]:
    provider = client.credentials_provider
    recorder = _Recorder()
    stop = threading.Event()
    signer = client._signer  # a ProviderSigner: last_signed() is the key this thread's last request used

    def caller(index: int) -> None:
        while not stop.is_set():
            request = describe_regions(cloud)
            t0 = time.perf_counter()
            try:
                client.do_action_with_exception(request)
                ok = True
            except Exception as exc:  # noqa: BLE001 - a failure that reaches a caller is reported
                recorder.errors.append(exc)
                ok = False
            signed = signer.last_signed()
            recorder.add(t0, time.perf_counter(), ok, signed.access_key_id if signed else None, index)

    workers = [threading.Thread(target=caller, args=(i,), daemon=True, name=f"caller-{i}") for i in range(threads)]
    for w in workers:
        w.start()
    try:
        time.sleep(WARM_SECONDS / 2)
        kms = _kms_round_trip(provider, cloud.secret_name)
        time.sleep(WARM_SECONDS / 2)
        with recorder.lock:
            warm = [end - start for start, end, ok, _, _ in recorder.calls if ok]
        spans = _timed_fetches(provider)
        cloud.reset_counts()
        new_id, revoked_at, rotated_at = cloud.rotate("revoke")
        deadline = time.perf_counter() + DEADLINE
        first = None
        while time.perf_counter() < deadline and first is None:
            time.sleep(0.005)
            with recorder.lock:
                done = [end for start, end, ok, key, _ in recorder.calls if ok and key == new_id]
            first = min(done) if done else None
        while time.perf_counter() < deadline:  # every caller's call that met the revocation has ended
            with recorder.lock:
                healed = {caller for _, _, ok, key, caller in recorder.calls if ok and key == new_id}
            if len(healed) == threads:
                break
            time.sleep(0.005)
        time.sleep(0.05)  # let stragglers finish: they must not fetch again
    finally:
        stop.set()
        for w in workers:
            w.join(DEADLINE)
        provider.__dict__.pop("_fetch", None)
    if first is None:
        raise RuntimeError(f"no call succeeded with the new key within {DEADLINE:.0f} s")
    fetches = cloud.count("GetSecretValue")
    refresh_fetch = spans[0][1] - spans[0][0] if spans else float("nan")
    request = sorted(warm)[len(warm) // 2]
    recovery = first - revoked_at
    slowest, where = slowest_call(recorder.calls, new_id, revoked_at)
    return {
        "slowest_call_s": slowest,
        "slowest_budget_s": kms + 2 * request,
        "slowest_ratio": slowest / (kms + 2 * request),
        "slowest_where": where,
        "refresh_span_s": [spans[0][0] - revoked_at, spans[0][1] - revoked_at] if spans else [],
        "recovery_s": recovery,
        "kms_round_trip_s": kms,
        "request_s": request,
        "budget_s": kms + request,
        "refresh_fetch_s": refresh_fetch,
        "fetches_in_round": len(spans),
        "ratio": recovery / (kms + request),
        "get_secret_value": fetches,
        "fetch_start_to_success_s": first - spans[0][0] if spans else float("nan"),
        "errors": len(recorder.errors),
        "calls": len(recorder.calls),
        "rotate_call_s": rotated_at - revoked_at,
    }


def measure(cloud: Cloud, settings: Settings) -> List[Figure]:
    from proxy import ProxyAcsClient

    threads = settings.rotation_threads
    client = ProxyAcsClient(cloud.secret_name, region_id=cloud.region_id, pool_size=threads)
    try:
        client.do_action_with_exception(describe_regions(cloud))
        rounds = [one_round(cloud, client, threads) for _ in range(settings.rotation_rounds)]
    finally:
        client.shutdown()
    return [_recovery_figure(rounds, threads), _slowest_figure(rounds, threads)]


def _recovery_figure(rounds: List[Dict], threads: int) -> Figure:
    rec = summarize([r["recovery_s"] for r in rounds])
    budget = summarize([r["budget_s"] for r in rounds])
    ratio = summarize([r["ratio"] for r in rounds])
    kms = summarize([r["kms_round_trip_s"] for r in rounds])
    req = summarize([r["request_s"] for r in rounds])
    refresh = summarize([r["refresh_fetch_s"] for r in rounds])
    fetches = [r["get_secret_value"] for r in rounds]
    errors = sum(r["errors"] for r in rounds)
    ok = ratio.median <= 1.0 and all(f == 1 for f in fetches) and errors == 0
    measured = (
        f"{rec.median * 1e3:.1f} ms (rounds {rec.low * 1e3:.1f}..{rec.high * 1e3:.1f}) vs budget "
        f"{budget.median * 1e3:.1f} ms = KMS {kms.median * 1e3:.1f} + request {req.median * 1e3:.1f}; "
        f"ratio {ratio.median:.2f} (rounds {ratio.low:.2f}..{ratio.high:.2f}); the refresh's own fetch "
        f"{refresh.median * 1e3:.1f} ms; GetSecretValue per rotation {sorted(set(fetches))}; "
        f"errors seen by callers {errors}"
    )
    return Figure(
        "rotation_recovery",
        f"rotation recovery, revoke -> first success, {threads} threads",
        "<= 1 KMS round trip + 1 request; exactly 1 GetSecretValue",
        measured,
        verdict(ok),
        {
            "rounds": rounds,
            "recovery_s": rec.as_dict(),
            "budget_s": budget.as_dict(),
            "ratio": ratio.as_dict(),
            "threads": threads,
        },
    )


def _slowest_figure(rounds: List[Dict], threads: int) -> Figure:
    """The longest call of each rotation (the callers' calls that met it), against 1 KMS round trip + 2 requests
    (the rejected request and the re-issued one). The first round is the process's first rotation: whatever the
    heal path loads or builds at first use is paid there, so it is shown on its own."""
    slowest = summarize([r["slowest_call_s"] for r in rounds])
    ratio = summarize([r["slowest_ratio"] for r in rounds])
    budget = summarize([r["slowest_budget_s"] for r in rounds])
    first = rounds[0]
    measured = (
        f"{slowest.median * 1e3:.1f} ms (rounds {slowest.low * 1e3:.1f}..{slowest.high * 1e3:.1f}, n={slowest.n}) "
        f"vs budget {budget.median * 1e3:.1f} ms = KMS + 2 requests; ratio {ratio.median:.2f} (rounds "
        f"{ratio.low:.2f}..{ratio.high:.2f}); the process's first rotation: {first['slowest_call_s'] * 1e3:.1f} ms, "
        f"ratio {first['slowest_ratio']:.2f}"
    )
    return Figure(
        "rotation_slowest_call",
        f"rotation, the slowest call (the calls that met the revocation), {threads} threads",
        "<= 1 KMS round trip + 2 requests",
        measured,
        verdict(ratio.median <= 1.0),
        {"slowest_s": slowest.as_dict(), "ratio": ratio.as_dict(), "budget_s": budget.as_dict(), "threads": threads},
    )
