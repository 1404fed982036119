"""The outputs: a table on the terminal, results.json, and RESULTS.md."""

import json
import time
from typing import Dict, List, Sequence

from .figures import Figure

METHOD = """\
## How these were measured

Each module of benchmarks/ says more about its own figure.

* The emulator (tests/cloud) runs in a child process on 127.0.0.1, with Nagle's algorithm
  off on its sockets: it writes headers and body in two sends, and with Nagle on every call
  on a kept-alive connection waits ~40 ms for a delayed ACK, which a real service does not.
* Per-call time: proxy and plain client in the same process, taking turns call by call
  (ABAB, the order flipped every pair), through one connection pool (the plain client's
  adapter mounted on the proxy's session, so both use the same kept-alive connection and
  server thread). A round's ratio is the median over its pairs of proxy/plain; the figure is
  the median over rounds, the range of rounds its spread. The ratio of the two sides'
  median calls is shown too (it estimates the same thing, with two to three times the spread).
* CPU added per call: both clients answered by one in-process canned HTTP adapter (no
  socket), the thread's CPU clock, the median over pairs of (proxy - plain). Instruction
  counts (valgrind callgrind, `--instructions`) are the same comparison made insensitive to
  the machine's load.
* get_credentials(): one thread, then eight sharing the same number of calls, against a
  control that shares nothing; the provider's locks are swapped for counting ones meanwhile.
* Rotation: eight threads calling; the key is revoked in the emulator's process, which
  reports when (CLOCK_MONOTONIC is one clock for all processes). The budget is a warm KMS
  round trip and a request, both measured under the same eight-thread load just before.
  The slowest call: per thread, its first call that succeeded with the new key; the longest
  of those, against a KMS round trip and two requests (the rejected one and its re-issue).
* Many clients: tracemalloc between the first client and the last.
* Startup: the package installed from a wheel, and editable (with and without bytecode), each in a venv built
  for the run (benchmarks/installs.py; pip's cache); new interpreters, spawn to exit; per round the two
  programs run back to back (which first alternates), the figure is the median over rounds of their ratio.
  Import cost: perf_counter around the imports inside new interpreters, medians.
* Fleet: 10,000 real ManagedSecretProvider objects on a simulated clock with a fake KMS,
  five fleets (random seeds 0-4).
* Fleet under KMS's quota (benchmarks/fleet_revocation.py): 1,000, 10,000 and 50,000 real ManagedSecretProvider
  objects on a simulated clock; each fetch is the KMS client's tenacity rule stepped through tenacity's
  Retrying.iter() against a token bucket (Q a second, 1 s of burst) that answers the rest with the KmsRequestError
  of a 429; a call a second per process; one fleet each (seed 0). Figure: docs/img/fleet_revocation.png.
* Dedicated-KMS fetch CPU: the official SDK (in the venv tests/wire/dkms_fidelity.py makes) and our DkmsClient,
  each in a process of its own against the emulator's TLS gateway in the benchmark's process, one warm-up fetch
  then 40 timed ones, time.process_time() of the child only; five rounds, alternating, medians.
"""

# Why a figure came out as it did, where the number alone does not say (found by the investigation in issue 6).
NOTES = {
    "provider_threads": (
        "CPython runs one thread at a time, so eight threads can at best equal one; every forced switch "
        "(sys.getswitchinterval(), 5 ms) costs a thread wake-up, which on this shared 2-core VM varies from run to "
        "run. The ratio therefore scatters around 1 (0.87 to 1.17 over five full runs); the control, which "
        "takes no lock and shares nothing, scatters the same way, and the provider took 0 locks in all reads: there "
        "is no convoy. The read path is one load of an immutable snapshot and a clock comparison."
    ),
    "rotation_recovery": (
        "Healing is one fetch for all eight threads and no caller sees an error; the time sits at or below the "
        "budget (the ratio lands between about 0.8 and 1.1 from run to run here). KmsClient keeps one SDK AcsClient, "
        "built at the first fetch without aliyunsdkcore's endpoint tables (which it never uses), shared by every "
        "thread: the refresh reuses its kept-alive connection to KMS."
    ),
    "rotation_slowest_call": (
        "The slowest call is one whose request was rejected just after the revocation: it waits for the refresh "
        "(started by the first rejected caller), then is re-issued together with the other seven, a burst that the "
        "emulator and the client's interpreter lock serve one after the other. What used to add to it, and no "
        "longer does: the callers queued on the provider's lock behind the fetch and were let through one by one "
        "(a lock convoy: the last one 16 ms after the fetch ended, under load; now they wait for the round together "
        "and read its key without the lock, credentials/refreshing.py); the first re-issue of the process imported "
        "tenacity (now loaded only when a re-issue fails again, proxy/reissue.py); the SDK's ERROR record of the "
        "rejected request compiled all eight redaction patterns (now each at its first need: that record needs "
        "none). On this shared machine, gaps of 10-15 ms in which no call progresses (other processes holding both "
        "cores) decide the spread."
    ),
    "fleet": (
        "After a rotation each process draws one uniform delay in a 15-minute window, so 10,000 processes make "
        "about 11 fetches a second, and the fullest of 900 one-second bins holds about twice that by counting "
        "noise alone: one uniform draw per process, the best independent jitter can do, gives 2.07 (median of 50 "
        "fleets). The library is at that limit; over 10-second bins the peak is 1.3 x the mean. Without jitter "
        "all 10,000 would fetch in the same second."
    ),
    "fleet_revocation_shared_after_10000": (
        "A throttled answer is not retried at once; the provider asks again after a window of 2, 4, 8, 16, then 30 s "
        "(the wait in its upper half), and a call waits for the new key at most refresh_wait_seconds (10 s). The "
        "request target (<= 2 per process) cannot hold together with 1.3 x N/Q for every N with what a process "
        "knows: docs/fleet.md. Figure: docs/img/fleet_revocation.png."
    ),
    "startup_wheel": (
        "What the proxy program adds: importing the library (10 modules at `import credentials, proxy`, then "
        "ProxyAcsClient's adapter and, at construction, the properties file's parser and the KMS client), reading "
        "the properties file, one GetSecretValue round trip, and a longer interpreter exit (more modules to tear "
        "down). Before issue 23 it also imported asyncio (proxy/source.py, ~10 ms), tenacity (~5 ms; now only when a "
        "fetch fails), parsed aliyunsdkcore's endpoint tables for the KMS client's own AcsClient (~4 ms; it never "
        "resolves an endpoint), read KMS's dates with time.strptime (~2 ms of pattern compiling at its first call) "
        "and made three frozen dataclasses (~1 ms each): ratio 1.30 from a wheel and 1.31 editable then (medians of "
        "three runs of this benchmark on the tree before, alternating with three after: 1.13 and 1.10)."
    ),
    "startup_editable": (
        "An editable install (setuptools' `__editable__` finder) adds a .pth file that every process of the venv runs "
        "at start: it imports the finder module, and with it pathlib, re, urllib.parse and contextlib (about 11 ms "
        "on an empty interpreter here, 36 ms against 24 ms). The plain program pays that too, and then imports most "
        "of those modules anyway (aliyunsdkcore's requests does), so the two programs' ratio stays close to the "
        "wheel's; the finder itself is asked only for our two top-level packages. What can cost more is bytecode: "
        "see the next row."
    ),
    "startup_editable_no_bytecode": (
        "With PYTHONDONTWRITEBYTECODE=1 (this machine sets it for every process) an editable install never writes "
        "our bytecode, so every process compiles the library's modules from source (the SDKs were compiled by pip "
        "at install): about 6.5 ms more for `import credentials, proxy` and about 25-30 ms more for the whole "
        "program (1.32 against 1.13 from a wheel; before issue 23, 1.52, with more modules on the path). This is the "
        "1.33x an outside measurement saw with an editable install; a wheel, or an editable install whose checkout "
        "is writable without that variable, does not pay it."
    ),
    "import_cost": (
        "Timed inside new interpreters, after `import aliyunsdkcore.client, aliyunsdkcore.request` (which a legacy "
        "program makes anyway). Before issue 23: +5.5 ms and 16 modules (the properties file's parser, validation "
        "and JSON limits at import); the rest of the 20 ms an outside measurement saw was bytecode compiling (the "
        "row above). tests/test_import_cost.py fails when a heavy module comes back at import (a count, not a time)."
    ),
    "dkms_fetch_cpu": (
        "Before: the official SDK parses the client key's PEM again for every request (Signer.sha256with_rsasign "
        "calls load_pem_private_key; on its cryptography 41 that alone is about 38 ms of CPU here, with the RSA key "
        "checks). After: credentials/kms/dedicated/gateway.py loads the key once per process; what is left is one "
        "RSA-2048 signature (about 0.3 ms), the protobuf codec and the HTTP round trip through requests."
    ),
}


def table(figures: Sequence[Figure]) -> str:
    rows = [("figure", "target", "measured", "verdict")] + [(f.title, f.target, f.measured, f.verdict) for f in figures]
    return "\n".join(" | ".join(r) for r in rows)


def print_table(figures: Sequence[Figure]) -> None:
    for f in figures:
        print(f"[{f.verdict:^6}] {f.title}\n         target:   {f.target}\n         measured: {f.measured}")


def write_json(
    path: str,
    machine: Dict[str, str],
    settings: Dict[str, object],
    figures: List[Figure],
    elapsed: float,
    seconds: Dict[str, float],
) -> None:
    document = {
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine,
        "settings": settings,
        "elapsed_s": elapsed,
        "group_seconds": seconds,
        "figures": [f.as_dict() for f in figures],
    }
    with open(path, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=1, default=str)
        out.write("\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_markdown(
    path: str,
    machine: Dict[str, str],
    figures: List[Figure],
    elapsed: float,
    seconds: Dict[str, float],
    command: str,
    written: str = "",
) -> None:
    default = sum(v for k, v in seconds.items() if k != "instructions")
    timing = f"in {elapsed:.0f} s" + (
        f" ({default:.0f} s without the instruction counts)" if "instructions" in seconds else ""
    )
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{command}` on {written or time.strftime('%Y-%m-%d %H:%M %Z')}, {timing}.",
        "",
        "| machine | |",
        "|---|---|",
    ]
    for key in (
        "cores",
        "cpu",
        "python",
        "platform",
        "aliyun-python-sdk-core",
        "oss2",
        "tenacity",
        "load_average_at_start",
    ):
        lines.append(f"| {key} | {_cell(machine.get(key, ''))} |")
    lines += ["", "| figure | target | measured | verdict |", "|---|---|---|---|"]
    for f in figures:
        lines.append(f"| {_cell(f.title)} | {_cell(f.target)} | {_cell(f.measured)} | {f.verdict} |")
    notes = [f"* **{f.title}**: {NOTES[f.key]}" for f in figures if f.key in NOTES]
    if notes:
        lines += ["", "## Notes", ""] + notes
    lines += ["", METHOD]
    with open(path, "w", encoding="utf-8") as out:
        out.write("\n".join(lines))
