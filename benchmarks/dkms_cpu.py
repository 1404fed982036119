"""CPU per dedicated-KMS fetch: our DkmsClient against the official alibabacloud-dkms-gcs 1.0.2 SDK.

Both fetch the same secret from the emulator's instance gateway (tests/cloud/dkms.py, TLS, signatures verified)
with the same client key, each in a process of its own: the SDK in its venv (the one tests/wire/dkms_fidelity.py
makes, with the SDK's old pins), ours in this one. Each child makes one warm-up fetch (TLS handshake, imports),
then N fetches, and reports time.process_time() per fetch: its own CPU only, the emulator's is in this process.
Rounds alternate SDK / ours; the figure is the median over rounds. The SDK parses the client key's PEM for every
request; ours loads the key once.

    python -m benchmarks --only dkms
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

from .cloud import ROOT
from .figures import INFO, Figure, verdict
from .settings import Settings
from .stats import summarize

FETCHES = {True: 3, False: 40}  # per child, by settings.quick
ROUNDS = {True: 1, False: 5}
TARGET_SHARE = 0.25  # ours at most a quarter of the SDK's CPU per fetch
SECRET = "bench-dkms-secret"


def _child(args: Dict[str, Any]) -> None:
    """In a new process: our client, one warm-up fetch, then N timed ones; one JSON line out."""
    from credentials.config import read_config
    from credentials.kms.dedicated.client import DkmsClient

    client = DkmsClient(read_config(args["properties"]).dkms_instances)
    client.get_secret_value(args["secret_name"])
    start = time.process_time()
    for _ in range(args["fetches"]):
        client.get_secret_value(args["secret_name"])
    print(json.dumps({"cpu_per_fetch_ms": (time.process_time() - start) * 1000 / args["fetches"]}))


def _run(argv: List[str], env: Dict[str, str]) -> Dict[str, Any]:
    done = subprocess.run(argv, env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[1]} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(settings: Settings, sdk_venv: Optional[str] = None) -> List[Figure]:
    """One figure. Without the SDK's venv on a --quick run, ours alone (the venv takes ~30 s to make)."""
    from tests.cloud import CloudEmulator
    from tests.wire import dkms_fidelity

    venv = sdk_venv or dkms_fidelity.DEFAULT_VENV
    sdk_python = None
    if not settings.quick or os.path.exists(os.path.join(venv, "bin", "python")):
        sdk_python = dkms_fidelity.sdk_python(venv)
    fetches, rounds = FETCHES[settings.quick], ROUNDS[settings.quick]
    ours_env = dict(os.environ, PYTHONPATH=ROOT)
    sdk_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    ours_ms: List[float] = []
    sdk_ms: List[float] = []
    versions: Dict[str, str] = {}
    with CloudEmulator() as cloud, tempfile.TemporaryDirectory() as folder:
        cloud.create_secret(SECRET)
        key = cloud.dkms.issue_client_key(folder)
        properties = cloud.write_dkms_properties(os.path.join(folder, "dkms.properties"), client_key=key)
        ours_args = json.dumps({"properties": properties, "secret_name": SECRET, "fetches": fetches})
        sdk_args = json.dumps(
            {
                "endpoint": cloud.dkms.host(),
                "ca_file": cloud.dkms.ca_file,
                "key_file": key.key_file,
                "password_file": key.password_file,
                "secret_name": SECRET,
                "fetches": fetches,
            }
        )
        for _ in range(rounds):
            if sdk_python:
                answer = _run([sdk_python, dkms_fidelity.SDK_SCRIPT, sdk_args], sdk_env)
                sdk_ms.append(answer["cpu_per_fetch_ms"])
                versions = answer["versions"]
            ours_ms.append(
                _run([sys.executable, "-m", "benchmarks.dkms_cpu", "--child", ours_args], ours_env)["cpu_per_fetch_ms"]
            )
    ours = summarize(ours_ms)
    data: Dict[str, Any] = {"ours_ms": ours.as_dict(), "fetches_per_round": fetches, "ours_stack": _our_stack()}
    title = "CPU per dedicated-KMS fetch (GetSecretValue via an instance gateway), ours vs alibabacloud-dkms-gcs"
    target = f"<= {TARGET_SHARE:.2f} x the official SDK's"
    if not sdk_ms:
        return [
            Figure(
                "dkms_fetch_cpu",
                title,
                target,
                f"ours {ours.median:.2f} ms ({ours.spread('{:.2f}')}); the "
                "SDK not measured: no SDK venv (python -m tests.wire.dkms_fidelity makes it)",
                INFO,
                data,
            )
        ]
    sdk = summarize(sdk_ms)
    share = ours.median / sdk.median
    data.update(sdk_ms=sdk.as_dict(), share=share, sdk_stack=versions)
    stack = ", ".join(f"{k} {v}" for k, v in versions.items())
    measured = (
        f"ours {ours.median:.2f} ms per fetch ({ours.spread('{:.2f}')}) vs the SDK's {sdk.median:.1f} ms "
        f"({sdk.spread('{:.1f}')}): {share:.3f} x, {sdk.median - ours.median:.1f} ms less CPU per fetch "
        f"({fetches} fetches per round; SDK on {stack}; ours on {data['ours_stack']})"
    )
    return [Figure("dkms_fetch_cpu", title, target, measured, verdict(share <= TARGET_SHARE), data)]


def _our_stack() -> str:
    from importlib import metadata

    return ", ".join(f"{name} {metadata.version(name)}" for name in ("cryptography", "requests"))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(json.loads(sys.argv[2]))
    else:
        from .report import print_table
        from .settings import FULL

        print_table(measure(FULL))
