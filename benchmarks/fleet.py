"""Fleet simulation: 10,000 processes on one secret with a 7-day rotation, on a simulated clock.

Each process is a real ``ManagedSecretProvider`` with an injected clock and a fake KMS
client (no network), so its schedule comes from the library's own code: the
``next_refresh_at`` of credentials/secret.py (refresh shortly after NextRotationDate,
spread by jitter; at the latest after a jittered 3-6 h) applied by the provider. The
simulation asks each provider when it will next fetch (its cached slot's
``refresh_at``), moves the clock there and calls ``get_credentials()``, which fetches
through the real code path. Processes start spread over the 12 hours before the clock's
zero (the periodic refresh is at most 6 hours), so the fleet is in its steady state; the
secret rotates 3 hours after zero. The whole simulation is repeated for fleets drawn
with the random seeds 0, 1, 2, ... (the library draws its jitter from ``random``); the
figure is the median over those fleets, the spread their range.

Definitions. Counts are GetSecretValue calls in 1-second bins of simulated time.
*Peak* is the largest bin; *mean* is the average over the bins of the rotation window
[rotation, rotation + MAX_ROTATION_JITTER) (the jitter window: 5 minutes), background
refreshes included. The same is reported for 10-second bins, and for the whole
simulated period. With no jitter, every process would fetch in the same second.
"""

import heapq
import json
import random
import time
from collections import Counter
from typing import Any, Dict, List, Optional

from .figures import Figure, verdict
from .settings import Settings
from .stats import summarize

WEEK = 7 * 86400.0
ROTATION_AT = 3 * 3600.0  # seconds after the clock's zero
WARMUP = 6 * 3600.0  # processes start in [-WARMUP, 0): every one has refreshed at least once by zero
TARGET_PEAK_TO_MEAN = 2.0
IDEAL_DRAWS = 50  # fleets drawn for the ideal-jitter reference (cheap: no providers involved)


class _Clock:
    def __init__(self):
        self.now = -WARMUP

    def __call__(self) -> float:
        return self.now


class _FleetKms:
    """One secret rotated every week at ROTATION_AT + k * WEEK; records the simulated time of every fetch. With a
    ``bucket`` (fleet_revocation.TokenBucket), KMS admits only what its quota allows and throttles the rest."""

    def __init__(self, clock: _Clock, bucket: Any = None):
        self.clock = clock
        self.fetches: List[float] = []
        self.attempts: List[float] = []
        self.bucket = bucket
        self.throttled = 0

    def get_secret_value(self, secret_name: str) -> Dict[str, str]:
        now = self.clock()
        self.attempts.append(now)
        if self.bucket is not None and not self.bucket.admit(now):
            from .fleet_revocation import _throttled_answer

            self.throttled += 1
            raise _throttled_answer()
        self.fetches.append(now)
        k = int((now - ROTATION_AT) // WEEK)  # rotations done so far: ... -1 before the first, 0 after it
        next_rotation = ROTATION_AT + (k + 1) * WEEK
        version = f"v{k + 2}"
        return {
            "SecretName": secret_name,
            "VersionId": version,
            "RotationInterval": f"{int(WEEK)}s",
            "NextRotationDate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(_EPOCH + next_rotation)),
            "SecretData": json.dumps({"AccessKeyId": f"LTAI{version}fleet", "AccessKeySecret": "s"}),
        }


_EPOCH = 1_800_000_000.0  # simulated time 0 as epoch seconds (what the provider's clock returns)


def simulate(processes: int, hours_after: float, seed: int, quota: Optional[float] = None) -> Dict[str, object]:
    """The fleet through one scheduled rotation; ``quota``: KMS admits that many fetches a second (None: all)."""
    from credentials.managed import ManagedSecretProvider

    from .fleet_revocation import TokenBucket

    sim = _Clock()
    clock = lambda: _EPOCH + sim.now  # noqa: E731
    kms = _FleetKms(sim)
    kms.clock = lambda: sim.now
    end = ROTATION_AT + hours_after * 3600.0
    state = random.getstate()
    random.seed(seed)  # the library draws its jitter from the random module
    try:
        starts = sorted(random.uniform(-WARMUP, 0.0) for _ in range(processes))
        heap = []
        providers = []
        for i, start in enumerate(starts):
            sim.now = start
            provider = ManagedSecretProvider("fleet-secret", kms, clock=clock, background=False)
            providers.append(provider)
            heapq.heappush(heap, (provider._slot.refresh_at - _EPOCH, i))
        first_after: Dict[int, float] = {}
        kms.bucket = TokenBucket(quota) if quota else None  # from here on KMS is asked in time order
        while heap:
            t, i = heapq.heappop(heap)
            if t >= end:
                break
            sim.now = t
            before = len(kms.attempts)
            providers[i].get_credentials()
            if len(kms.attempts) == before:
                raise AssertionError("a provider did not fetch at its own refresh time")
            if t >= ROTATION_AT and i not in first_after:
                first_after[i] = t - ROTATION_AT
            heapq.heappush(heap, (providers[i]._slot.refresh_at - _EPOCH, i))
    finally:
        random.setstate(state)
    result = _analyse([t for t in kms.fetches if 0.0 <= t < end], first_after, processes, end)
    result["throttled"] = kms.throttled
    result["requests_in_rotation_window"] = sum(1 for t in kms.attempts if ROTATION_AT <= t < end)
    return result


def _peak_and_mean(times: List[float], start: float, stop: float, width: float) -> Dict[str, float]:
    bins = Counter(int((t - start) // width) for t in times if start <= t < stop)
    n_bins = int((stop - start) // width)
    peak_bin, peak = max(bins.items(), key=lambda kv: kv[1]) if bins else (0, 0)
    mean = sum(bins.values()) / n_bins / width
    return {
        "bin_s": width,
        "peak_per_s": peak / width,
        "mean_per_s": mean,
        "peak_to_mean": (peak / width) / mean if mean else float("inf"),
        "peak_at_s": start + peak_bin * width,
    }


def _analyse(times: List[float], first_after: Dict[int, float], processes: int, end: float) -> Dict[str, object]:
    from credentials.secret import MAX_ROTATION_JITTER

    window = (ROTATION_AT, ROTATION_AT + MAX_ROTATION_JITTER)
    delays = sorted(first_after.values())
    spread = summarize(delays)
    return {
        "processes": processes,
        "simulated_s": end,
        "fetches": len(times),
        "rotation_at_s": ROTATION_AT,
        "window_s": list(window),
        "window_1s": _peak_and_mean(times, *window, 1.0),
        "window_10s": _peak_and_mean(times, *window, 10.0),
        "whole_1s": _peak_and_mean(times, 0.0, end, 1.0),
        "processes_refreshed_after_rotation": len(delays),
        "refresh_delay_after_rotation_s": {**spread.as_dict(), "p95": delays[int(0.95 * (len(delays) - 1))]},
    }


def ideal_peak_to_mean(processes: int, window: float, seed: int) -> float:
    """The same statistic for the best any independent jitter can do: each process draws one uniform time in the
    window. The rest is counting noise (a 1-second bin holding about processes/window fetches)."""
    rand = random.Random(seed)
    bins = Counter(int(rand.uniform(0.0, window)) for _ in range(processes))
    return max(bins.values()) / (processes / window)


def measure(settings: Settings) -> List[Figure]:
    fleets = [
        simulate(settings.fleet_processes, settings.fleet_hours_after, seed) for seed in range(settings.fleet_seeds)
    ]
    ratio = summarize([f["window_1s"]["peak_to_mean"] for f in fleets])
    ratio10 = summarize([f["window_10s"]["peak_to_mean"] for f in fleets])
    peak = summarize([f["window_1s"]["peak_per_s"] for f in fleets])
    mean = summarize([f["window_1s"]["mean_per_s"] for f in fleets])
    whole_peak = summarize([f["whole_1s"]["peak_per_s"] for f in fleets])
    whole_mean = summarize([f["whole_1s"]["mean_per_s"] for f in fleets])
    latest = max(f["refresh_delay_after_rotation_s"]["high"] for f in fleets)
    median_delay = summarize([f["refresh_delay_after_rotation_s"]["median"] for f in fleets]).median
    from credentials.secret import MAX_ROTATION_JITTER

    ideal = summarize(
        [ideal_peak_to_mean(settings.fleet_processes, MAX_ROTATION_JITTER, seed) for seed in range(IDEAL_DRAWS)]
    )
    everyone = all(f["processes_refreshed_after_rotation"] == f["processes"] for f in fleets)
    processes = settings.fleet_processes
    measured = (
        f"rotation window ({MAX_ROTATION_JITTER / 60:.0f} min), 1 s bins: peak {peak.median:.0f}/s, "
        f"mean {mean.median:.1f}/s, "
        f"peak/mean {ratio.median:.2f} (fleets {ratio.low:.2f}..{ratio.high:.2f}, n={ratio.n}; the best "
        f"any independent jitter can do, one uniform draw per process: {ideal.median:.2f}, IQR "
        f"{ideal.q1:.2f}..{ideal.q3:.2f}, n={ideal.n}); 10 s bins: {ratio10.median:.2f}; "
        f"whole {fleets[0]['simulated_s'] / 3600:.0f} h: peak "
        f"{whole_peak.median:.0f}/s, mean {whole_mean.median:.2f}/s; after the rotation every process "
        f"refreshed within {latest:.0f} s (median {median_delay:.0f} s); without jitter: "
        f"{processes:,} in one second"
    )
    data = {
        "definition": " ".join(__doc__.split("Definitions. ", 1)[1].split("\n\n")[0].split()),
        "peak_to_mean_1s": ratio.as_dict(),
        "peak_to_mean_10s": ratio10.as_dict(),
        "ideal_uniform_peak_to_mean_1s": ideal.as_dict(),
        "fleets": fleets,
    }
    title = f"fleet: {processes:,} processes, one secret, 7-day rotation (simulated)"
    from . import fleet_report

    return fleet_report.measure(settings) + [
        Figure(
            "fleet",
            title,
            "peak GetSecretValue/s <= 2 x mean (rotation window, 1 s bins)",
            measured,
            verdict(ratio.median <= TARGET_PEAK_TO_MEAN and everyone),
            data,
        ),
        Figure(
            "fleet_10s",
            title + ", 10 s bins",
            "peak <= 2 x mean (rotation window, 10 s bins)",
            f"peak/mean {ratio10.median:.2f} (fleets {ratio10.low:.2f}..{ratio10.high:.2f})",
            verdict(ratio10.median <= TARGET_PEAK_TO_MEAN and everyone),
            {"peak_to_mean_10s": ratio10.as_dict()},
        ),
    ]
