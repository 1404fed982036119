"""Import + construct + first successful call, in a new process: the proxy program against the plain one.

The two programs (benchmarks/programs/) differ by the one-line swap. Each run is a new
interpreter, timed from spawn to exit by this process; the emulator runs in yet another
process. Runs alternate ABAB (order flipped every pair) and the figure is the ratio
of the medians. The proxy's first call includes what the plain program does not need:
reading the properties file and one GetSecretValue round trip.

Both programs run with a bytecode cache, as any installed program does: the children
get a private ``PYTHONPYCACHEPREFIX`` (a temporary directory, filled by one warm-up run
of each program) and ``PYTHONDONTWRITEBYTECODE`` is dropped from their environment.
Without that, on a machine that sets it (this one does), an editable install compiles
the library from source in every run while the SDKs' installed ``.pyc`` files are used,
which measures the compiler, not the library.
"""

import os
import subprocess
import sys
import tempfile
import time
from typing import List

from .cloud import ROOT, Cloud
from .figures import Figure, verdict
from .settings import Settings
from .stats import summarize

TARGET_RATIO = 1.3
PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")
RUN_TIMEOUT = 30.0


def _run(argv: List[str], env, cwd: str) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(
        argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=RUN_TIMEOUT, text=True
    )
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{os.path.basename(argv[1])} failed ({done.returncode}): {done.stderr.strip()[-600:]}")
    return elapsed


def measure(cloud: Cloud, settings: Settings) -> List[Figure]:
    env = dict(
        os.environ,
        MANAGED_CREDENTIALS_PROVIDERS_CONFIG=cloud.properties,
        PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p),
    )
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    plain = [sys.executable, os.path.join(PROGRAMS, "plain_acs.py"), cloud.key[0], cloud.key[1], cloud.ecs_host]
    proxy = [sys.executable, os.path.join(PROGRAMS, "proxy_acs.py"), cloud.secret_name, cloud.ecs_host]
    a: List[float] = []
    b: List[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as cwd:  # no properties file in the working directory
        env["PYTHONPYCACHEPREFIX"] = os.path.join(cwd, "pycache")
        _run(plain, env, cwd)  # writes the bytecode cache, and warms the OS file cache, for both
        _run(proxy, env, cwd)
        for i in range(settings.startup_runs):
            pair = ((plain, a), (proxy, b))
            for argv, out in pair if i % 2 == 0 else pair[::-1]:
                out.append(_run(argv, env, cwd))
    sa, sb = summarize(a), summarize(b)
    ratio = sb.median / sa.median
    measured = (
        f"ratio {ratio:.3f}: {sb.median * 1e3:.0f} ms vs {sa.median * 1e3:.0f} ms "
        f"(proxy {sb.spread('{:.0f}', 1e3)} ms; plain {sa.spread('{:.0f}', 1e3)} ms)"
    )
    return [
        Figure(
            "startup",
            "import + construct + first call, new process, ProxyAcsClient / AcsClient program",
            f"<= {TARGET_RATIO} x",
            measured,
            verdict(ratio <= TARGET_RATIO),
            {"ratio": ratio, "plain_s": sa.as_dict(), "proxy_s": sb.as_dict(), "plain_runs_s": a, "proxy_runs_s": b},
        )
    ]
