"""CPU that the OpenTelemetry metrics add to a successful call, with the SDK installed and a reader attached.

Nothing is recorded on a call's success path (the instruments are touched by fetches and re-issues only), so the
target is the noise floor: at most 1 us per call. Timing cannot resolve 1 us on a shared machine, so the figure is
an instruction count (valgrind's callgrind, as instructions.py counts): the same ProxyAcsClient / ProxyBucket worker on
canned answers, in both runs with the OpenTelemetry SDK imported and an ``opentelemetry.sdk.metrics.MeterProvider``
with an ``InMemoryMetricReader`` made, given to the library before its first fetch in one run only (that worker checks
the reader got the fetch). (Importing a large package changes the allocator's state, which moves a call's count by
about 0.2 % whatever the call does: both runs import it, so the difference is the library's recording alone.)
Converted to microseconds with this machine's rate (the plain client's CPU time per call over its instructions).

Slow (valgrind): not part of the default run; ``python -m benchmarks --only cpu,metrics``.
"""

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List

from . import instructions
from .cloud import Cloud
from .figures import INFO, Figure, verdict
from .settings import Settings

TARGET_US = 1.0
CASES = {"acs": "ProxyAcsClient (DescribeRegions)", "put": "ProxyBucket (put_object 4 KiB)"}


def measure(cloud: Cloud, settings: Settings, cpu_us_per_call: Dict[str, float]) -> List[Figure]:
    title = "CPU added per successful call by OpenTelemetry metrics (SDK and a reader attached)"
    missing = "valgrind" if shutil.which("valgrind") is None else None
    try:
        import opentelemetry.sdk.metrics  # noqa: F401 - only to know it is there
    except ImportError:
        missing = missing or "opentelemetry-sdk (the test extra)"
    if missing:
        return [
            Figure("metrics_cost", title, f"<= {TARGET_US:.0f} us", f"not measured: {missing} is not installed", INFO)
        ]
    calls = 5 if settings.quick else 50
    env = dict(os.environ, PYTHONHASHSEED="0")
    figures = []
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as tmp:
        recording = os.path.join(tmp, "recorded.pickle")
        instructions._record(cloud, recording)
        runs = [(side, case) for case in CASES for side in ("plain", "proxy_otel_idle", "proxy_otel")]
        with ThreadPoolExecutor(max_workers=2) as pool:
            counts = dict(
                zip(runs, pool.map(lambda r: instructions._instructions(recording, r[0], r[1], calls, env, tmp), runs))
            )
    for case, label in CASES.items():
        plain, proxy, with_otel = (counts[(side, case)] / calls for side in ("plain", "proxy_otel_idle", "proxy_otel"))
        added = with_otel - proxy
        us = cpu_us_per_call.get(case)
        added_us = added * us / plain if us else None
        shown = f"; about {added_us:+.2f} us at this machine's rate" if added_us is not None else ""
        figures.append(
            Figure(
                f"metrics_cost_{case}",
                f"{title}, {label}",
                f"<= {TARGET_US:.0f} us",
                f"{added:+,.0f} instructions per call ({proxy:,.0f} with no reader attached, {with_otel:,.0f} with one)"
                f"{shown}",
                verdict(added_us <= TARGET_US) if added_us is not None else INFO,
                {
                    "calls": calls,
                    "plain_instructions": plain,
                    "proxy_instructions": proxy,
                    "proxy_with_otel_instructions": with_otel,
                    "added_instructions": added,
                    "added_us_estimate": added_us,
                },
            )
        )
    return figures
