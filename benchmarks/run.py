"""``python -m benchmarks [--quick]`` (or ``python benchmarks/run.py``): every figure of issue 6, one table.

Writes benchmarks/results.json (every number behind the table) and, on a full run,
benchmarks/RESULTS.md. The emulator runs in a child process that is always stopped.
"""

import argparse
import dataclasses
import os
import sys
import time
from typing import Callable, Dict, List

if __package__ in (None, ""):  # python benchmarks/run.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "benchmarks"  # noqa: A001 - lets the relative imports below work when run as a script

from . import (  # noqa: E402
    cpu_overhead,
    dkms_cpu,
    fleet,
    instructions,
    machine,
    many_clients,
    metrics_cost,
    per_call,
    provider_rate,
    report,
    rotation,
    startup,
    waiting,
)
from .cloud import Cloud, cloud_process  # noqa: E402
from .figures import MISSED, Figure  # noqa: E402
from .settings import FULL, QUICK, Settings  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def _provider(cloud: Cloud, settings: Settings, earlier: List[Figure]) -> List[Figure]:
    from credentials import get_secret_provider

    return provider_rate.measure(get_secret_provider(cloud.secret_name), settings)


def _plain_cpu_per_call(earlier: List[Figure]) -> Dict[str, float]:
    """The plain clients' CPU time per call (us) from the cpu group, by instructions.py's case name."""
    cases = {"cpu_acs": "acs", "cpu_oss_put": "put", "cpu_oss_get": "get"}
    return {cases[f.key]: f.data["plain"]["median"] for f in earlier if f.key in cases}


def _metrics_cost(cloud: Cloud, settings: Settings, earlier: List[Figure]) -> List[Figure]:
    return metrics_cost.measure(cloud, settings, _plain_cpu_per_call(earlier))


def _instructions(cloud: Cloud, settings: Settings, earlier: List[Figure]) -> List[Figure]:
    """Instruction counts, converted to microseconds with the plain clients' CPU time from the cpu group."""
    cases = {"cpu_acs": "acs", "cpu_oss_put": "put", "cpu_oss_get": "get"}
    rates = {cases[f.key]: f.data["plain"]["median"] for f in earlier if f.key in cases}
    return instructions.measure(cloud, settings, rates)


Group = Callable[[Cloud, Settings, List[Figure]], List[Figure]]
# In this order: everything that signs with the secret's first key runs before the rotation benchmark.
GROUPS: Dict[str, Group] = {
    "cpu": lambda cloud, s, _: cpu_overhead.acs(cloud, s) + cpu_overhead.oss(cloud, s),
    "instructions": _instructions,  # slow (valgrind): only with --instructions or --only
    "metrics": _metrics_cost,  # slow (valgrind): only with --only (after cpu, for the conversion to us)
    "per_call": lambda cloud, s, _: per_call.acs(cloud, s) + per_call.oss(cloud, s),
    "per_call_oss_v2": lambda cloud, s, _: cpu_overhead.oss_v2(cloud, s) + per_call.oss_v2(cloud, s),  # .[oss-v2]
    "per_call_mns_ots": lambda cloud, s, _: per_call.mns(cloud, s) + per_call.ots(cloud, s),  # .[mns], .[tablestore]
    "per_call_sls": lambda cloud, s, _: per_call.sls(cloud, s),  # .[sls]
    "provider": _provider,
    "clients": lambda cloud, s, _: many_clients.measure(cloud, s),
    "startup": lambda cloud, s, _: startup.measure(cloud, s),
    "waiting": lambda cloud, s, _: waiting.measure(s),  # its own emulator: KMS held at a gate it opens
    "rotation": lambda cloud, s, _: rotation.measure(cloud, s),
    "fleet": lambda cloud, s, _: fleet.measure(s),
    "dkms": lambda cloud, s, _: dkms_cpu.measure(s),  # its own emulator: the gateway needs a client key
}
DEFAULT = [name for name in GROUPS if name not in ("instructions", "metrics")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run of a few seconds")
    parser.add_argument("--only", metavar="GROUPS", help=f"comma-separated subset of {','.join(GROUPS)}")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions per call under valgrind (adds a few minutes)",
    )
    parser.add_argument("--json", metavar="PATH", default=os.path.join(HERE, "results.json"))
    parser.add_argument(
        "--markdown",
        metavar="PATH",
        help="where to write the results table (default: benchmarks/RESULTS.md on a full run of "
        "every group; never on --quick unless given)",
    )
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    names = DEFAULT if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    if args.instructions and "instructions" not in names:
        names = [n for n in GROUPS if n in names or n == "instructions"]
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    info = machine.describe()
    print(
        f"{info['cores']} cores, {info['cpu']}; {info['python']}; aliyun-python-sdk-core "
        f"{info['aliyun-python-sdk-core']}, oss2 {info['oss2']}; load {info['load_average_at_start']}"
        f"{'; QUICK (smoke run, figures meaningless)' if settings.quick else ''}",
        flush=True,
    )
    started = time.perf_counter()
    figures: List[Figure] = []
    seconds: Dict[str, float] = {}
    with cloud_process() as cloud:
        from credentials import registry

        for name in names:
            t0 = time.perf_counter()
            registry.reset()
            produced = GROUPS[name](cloud, settings, figures)
            figures += produced
            seconds[name] = time.perf_counter() - t0
            print(f"-- {name}: {seconds[name]:.1f} s", flush=True)
            report.print_table(produced)
    elapsed = time.perf_counter() - started
    print(f"total {elapsed:.1f} s", flush=True)
    report.write_json(args.json, info, dataclasses.asdict(settings), figures, elapsed, seconds)
    full = not settings.quick and not args.only
    markdown = args.markdown or (os.path.join(HERE, "RESULTS.md") if full else None)
    if markdown:
        command = "python -m benchmarks" + (" --instructions" if args.instructions else "")
        report.write_markdown(markdown, info, figures, elapsed, seconds, command)
        print(f"wrote {args.json} and {markdown}")
    else:
        print(f"wrote {args.json}")
    return 1 if any(f.verdict == MISSED for f in figures) and not settings.quick else 0


if __name__ == "__main__":
    raise SystemExit(main())
