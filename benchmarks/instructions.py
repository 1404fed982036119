"""CPU added per call as instruction counts (valgrind's callgrind), which the machine's load does not change.

Each case runs in a new interpreter under ``valgrind --tool=callgrind``, for the plain
client and for the proxy; the calls are answered by the canned adapter (canned.py)
replaying responses recorded from the emulator, and the proxy's provider is a real
ManagedSecretProvider over a canned KMS answer. The worker calls ``os.getppid()`` just
before and just after its N measured calls, and callgrind dumps its counters at each
(``--dump-before=os_getppid``), so the part between the two dumps is exactly the N
calls. Converted to microseconds with this machine's own rate: the plain client's CPU
time per call (cpu_overhead.py) over its instructions per call.

Slow (about a minute, two valgrind runs at a time): not part of the default run;
``python -m benchmarks --instructions`` or ``--only instructions``.
"""

import argparse
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List

from .canned import adapter_classes, mount
from .cloud import Cloud, describe_regions
from .figures import INFO, Figure, verdict
from .per_call import PAYLOAD
from .settings import Settings

TARGET_US = 15.0
CASES = ("acs", "put", "get")
RUN_TIMEOUT = 300.0


def _record(cloud: Cloud, path: str) -> None:
    import oss2
    from aliyunsdkcore.client import AcsClient

    Recording, _ = adapter_classes("requests")
    oss_recorder = Recording()
    bucket = oss2.Bucket(
        oss2.Auth(*cloud.key), cloud.oss_endpoint, cloud.bucket, session=oss2.Session(adapter=oss_recorder)
    )
    bucket.put_object("cpu.bin", PAYLOAD)
    bucket.get_object("cpu.bin").read()
    Recording, _ = adapter_classes("sdkcore")
    acs_recorder = Recording()
    client = AcsClient(*cloud.key, cloud.region_id)
    mount(client.session, acs_recorder, "http://")
    client.do_action_with_exception(describe_regions(cloud))
    with open(path, "wb") as out:
        pickle.dump({"oss": oss_recorder.recorded, "acs": acs_recorder.recorded, "cloud": cloud.as_dict()}, out)


def _worker(recording: str, side: str, case: str, calls: int) -> None:
    """Runs under callgrind: build one client on canned answers, warm it, make ``calls`` calls."""
    import gc
    import json

    import oss2
    from aliyunsdkcore.client import AcsClient

    from credentials.managed import ManagedSecretProvider
    from proxy import ProxyAcsClient, ProxyBucket

    reader = None
    if side in ("proxy_otel", "proxy_otel_idle"):  # metrics_cost.py: the OpenTelemetry SDK imported and a reader
        from opentelemetry.sdk.metrics import MeterProvider  # made in both; given to the library in proxy_otel only
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        from credentials import metrics

        attached = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[attached])
        if side == "proxy_otel":
            metrics.use_meter_provider(meter_provider)
            reader = attached
        side = "proxy"
    with open(recording, "rb") as f:
        data = pickle.load(f)
    info = data["cloud"]
    key_id, key_secret = info["key"]

    class CannedKms:
        def get_secret_value(self, name):
            return {
                "SecretName": name,
                "VersionId": "v1",
                "RotationInterval": "604800s",
                "NextRotationDate": "2099-01-01T00:00:00Z",
                "SecretData": json.dumps({"AccessKeyId": key_id, "AccessKeySecret": key_secret}),
            }

    provider = ManagedSecretProvider(info["secret_name"], CannedKms())
    cloud = Cloud(
        info["secret_name"],
        (key_id, key_secret),
        info["properties"],
        info["bucket"],
        info["region_id"],
        info["ecs_host"],
        info["oss_endpoint"],
        info["kms_host"],
    )
    if case == "acs":
        _, Canned = adapter_classes("sdkcore")
        client = (
            AcsClient(key_id, key_secret, cloud.region_id)
            if side == "plain"
            else ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id)
        )
        mount(client.session, Canned(data["acs"]))

        def call():
            client.do_action_with_exception(describe_regions(cloud))
    else:
        _, Canned = adapter_classes("requests")
        session = oss2.Session(adapter=Canned(data["oss"]))
        bucket = (
            oss2.Bucket(oss2.Auth(key_id, key_secret), cloud.oss_endpoint, cloud.bucket, session=session)
            if side == "plain"
            else ProxyBucket(
                credentials_provider=provider, endpoint=cloud.oss_endpoint, bucket_name=cloud.bucket, session=session
            )
        )
        if case == "put":

            def call():
                bucket.put_object("cpu.bin", PAYLOAD)
        else:

            def call():
                bucket.get_object("cpu.bin").read()

    for _ in range(5):
        call()
    gc.collect()
    gc.disable()
    os.getppid()  # callgrind dumps here ...
    for _ in range(calls):
        call()
    os.getppid()  # ... and here: the part between is the calls
    if reader is not None and "managed_credentials.fetches" not in reader.get_metrics_data().to_json():
        raise SystemExit("the metrics were not recorded on the SDK's reader: the figure would measure nothing")


def _instructions(recording: str, side: str, case: str, calls: int, env, tmp: str) -> int:
    """Instructions executed by ``calls`` calls (the second of callgrind's dumps)."""
    out = os.path.join(tmp, f"callgrind.{side}.{case}")
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--dump-before=os_getppid",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "benchmarks.instructions",
        "--worker",
        recording,
        side,
        case,
        str(calls),
    ]
    done = subprocess.run(
        argv,
        env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"callgrind run failed: {done.stderr.strip()[-600:]}")
    try:
        with open(out + ".2", encoding="utf-8") as f:
            found = re.search(r"^summary:\s*(\d+)", f.read(), re.MULTILINE)
    except OSError:
        found = None
    if not found:
        raise RuntimeError("callgrind wrote no dump for the measured calls")
    return int(found.group(1))


def measure(cloud: Cloud, settings: Settings, cpu_us_per_call: Dict[str, float] = None) -> List[Figure]:
    if shutil.which("valgrind") is None:
        return [
            Figure(
                "instructions",
                "CPU added per call, instruction counts (callgrind)",
                f"<= {TARGET_US:.0f} us",
                "not measured: valgrind is not installed",
                INFO,
            )
        ]
    calls = 5 if settings.quick else 50
    env = dict(os.environ, PYTHONHASHSEED="0")
    figures = []
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as tmp:
        recording = os.path.join(tmp, "recorded.pickle")
        _record(cloud, recording)
        runs = [(side, case) for case in CASES for side in ("plain", "proxy")]
        with ThreadPoolExecutor(max_workers=2) as pool:  # valgrind is single-threaded; counts ignore the load
            counts = dict(zip(runs, pool.map(lambda r: _instructions(recording, r[0], r[1], calls, env, tmp), runs)))
        for case in CASES:
            per_call = {side: counts[(side, case)] / calls for side in ("plain", "proxy")}
            added = per_call["proxy"] - per_call["plain"]
            us = (cpu_us_per_call or {}).get(case)
            added_us = added * us / per_call["plain"] if us else None
            shown = f"; about {added_us:+.1f} us at this machine's rate" if added_us is not None else ""
            figures.append(
                Figure(
                    f"instructions_{case}",
                    f"CPU added per call, instruction count (callgrind), {case}",
                    f"<= {TARGET_US:.0f} us",
                    f"{added:+,.0f} instructions per call ({added / per_call['plain'] * 100:+.2f} % of the plain "
                    f"client's {per_call['plain']:,.0f}){shown}",
                    verdict(added_us <= TARGET_US) if added_us is not None else INFO,
                    {
                        "calls": calls,
                        "plain_instructions": per_call["plain"],
                        "proxy_instructions": per_call["proxy"],
                        "added_instructions": added,
                        "added_us_estimate": added_us,
                    },
                )
            )
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument("--worker", nargs=4, metavar=("RECORDING", "SIDE", "CASE", "CALLS"), required=True)
    args = parser.parse_args(argv)
    recording, side, case, calls = args.worker
    _worker(recording, side, case, int(calls))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
