"""Wire fidelity of our dedicated-KMS client against the official alibabacloud-dkms-gcs 1.0.2 SDK.

    python -m tests.wire.dkms_fidelity [--venv DIR] [--fresh]          (run by .ci/run; exit status 0 or 1)

The SDK pins protobuf<4 and pyOpenSSL<23.3 (so cryptography<42), so it lives in a venv of its own (DIR, default
.venv-dkms-sdk beside this checkout; made on first use, reused while it holds that SDK; --fresh remakes it). The
emulator's gateway (tests/cloud/dkms.py) runs here, records every request as received, and verifies each
signature. The SDK (in its venv, tests/wire/dkms_official_sdk.py) and our DkmsGateway (in this venv) then fetch
the same secret with the same client key and the same date header, and this script shows that both fetched it and
that their requests agree: the same headers in the same order with the same values (the user-agent names each
client; its platform part must agree), the same string to sign, the same body bytes, hence the same signature
(RSA PKCS#1 v1.5 is deterministic). Prints one line per check and a verdict.
"""

import argparse
import email.utils
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SDK_REQUIREMENT = "alibabacloud-dkms-gcs==1.0.2"
SDK_SCRIPT = os.path.join(ROOT, "tests", "wire", "dkms_official_sdk.py")
DEFAULT_VENV = os.path.join(ROOT, ".venv-dkms-sdk")
SECRET_NAME = "wire-fidelity-secret"


def sdk_python(venv: str, fresh: bool = False) -> str:
    """The venv's python with the official SDK installed (and its own old pins), made when missing."""
    python = os.path.join(venv, "bin", "python")
    probe = "import importlib.metadata as m, sdk.client; print(m.version('alibabacloud-dkms-gcs'))"
    if not fresh and os.path.exists(python):
        found = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60)
        if found.returncode == 0 and found.stdout.strip() == SDK_REQUIREMENT.split("==")[1]:
            return python
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", SDK_REQUIREMENT],
        check=True,
        timeout=300,
    )
    return python


def run_sdk(python: str, args: Dict[str, Any]) -> Dict[str, Any]:
    """One run of tests/wire/dkms_official_sdk.py in the SDK's venv, isolated from this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    result = subprocess.run(
        [python, SDK_SCRIPT, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    if result.returncode != 0:
        raise RuntimeError(f"the official SDK failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def ours_fetch(instance: Any, secret_name: str, date: str) -> Tuple[Dict[str, Any], List[str]]:
    """Our DkmsGateway's fetch with the date fixed, and the strings it signed."""
    from credentials.kms.dedicated import gateway as dkms_gateway

    signed: List[str] = []
    original = dkms_gateway.string_to_sign

    def spy(method: str, headers: Dict[str, str]) -> str:
        text = original(method, headers)
        signed.append(text)
        return text

    dkms_gateway.string_to_sign = spy  # type: ignore[assignment]
    try:
        return dkms_gateway.DkmsGateway(instance, date=lambda: date).get_secret_value(secret_name), signed
    finally:
        dkms_gateway.string_to_sign = original  # type: ignore[assignment]


def platform_part(user_agent: str) -> str:
    """'AlibabaCloud (Linux; x86_64) Python/3.11.7': what both clients' user-agents must share."""
    return user_agent.split(") Python/", 1)[0] + ") Python/" + user_agent.split(") Python/", 1)[-1].split(" ")[0]


def compare(sdk: Any, ours: Any, sdk_signed: Sequence[str], ours_signed: Sequence[str]) -> List[Tuple[bool, str]]:
    """(passed, what) for each property of the two recorded requests."""
    checks: List[Tuple[bool, str]] = []

    def check(passed: bool, what: str, detail: Callable[[], str] = lambda: "") -> None:
        checks.append((passed, what if passed else f"{what}\n{detail()}"))

    check(
        (sdk.method, sdk.path) == (ours.method, ours.path) == ("POST", "/"),
        "method and path: POST /",
        lambda: f"    official {sdk.method} {sdk.path}, ours {ours.method} {ours.path}",
    )
    sdk_names, our_names = [n for n, _ in sdk.headers], [n for n, _ in ours.headers]
    check(
        sdk_names == our_names,
        f"header names and order ({len(sdk_names)} headers: {', '.join(sdk_names)})",
        lambda: f"    official {sdk_names}\n    ours     {our_names}",
    )
    sdk_values, our_values = dict(sdk.headers), dict(ours.headers)
    differing = sorted(
        n
        for n in set(sdk_values) | set(our_values)
        if n.lower() != "user-agent" and sdk_values.get(n) != our_values.get(n)
    )
    check(
        not differing,
        "header values, authorization (the signature) included, byte for byte",
        lambda: "\n".join(
            f"    {n}: official {sdk_values.get(n)!r}\n    {n}: ours     {our_values.get(n)!r}" for n in differing
        ),
    )
    sdk_agent = next((v for n, v in sdk.headers if n.lower() == "user-agent"), "")
    our_agent = next((v for n, v in ours.headers if n.lower() == "user-agent"), "")
    check(
        bool(sdk_agent) and platform_part(sdk_agent) == platform_part(our_agent),
        f"user-agent: the same platform part ({platform_part(our_agent)}); the product names differ",
        lambda: f"    official {sdk_agent!r}\n    ours     {our_agent!r}",
    )
    check(
        len(sdk_signed) == len(ours_signed) == 1
        and sdk_signed[0] == ours_signed[0] == sdk.string_to_sign == ours.string_to_sign,
        "string to sign: the official SDK's == ours == the emulator's",
        lambda: f"    official {sdk_signed!r}\n    ours     {ours_signed!r}\n    emulator {sdk.string_to_sign!r}",
    )
    check(
        sdk.body == ours.body and bool(sdk.body),
        f"body bytes ({len(sdk.body)} bytes, {sdk.body.hex()})",
        lambda: f"    official {sdk.body.hex()}\n    ours     {ours.body.hex()}",
    )
    return checks


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.wire.dkms_fidelity", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--venv",
        default=os.environ.get("DKMS_SDK_VENV", DEFAULT_VENV),
        help="the official SDK's venv (default: %(default)s)",
    )
    parser.add_argument("--fresh", action="store_true", help="remake that venv")
    args = parser.parse_args(argv)
    started = time.monotonic()
    python = sdk_python(args.venv, args.fresh)
    venv_seconds = time.monotonic() - started

    from credentials.config import read_config
    from tests.cloud import CloudEmulator

    with CloudEmulator() as cloud, tempfile.TemporaryDirectory() as folder:
        _, secret = cloud.create_secret(SECRET_NAME)
        key = cloud.dkms.issue_client_key(folder)
        (instance,) = read_config(
            cloud.write_dkms_properties(os.path.join(folder, "dkms.properties"), client_key=key)
        ).dkms_instances
        recorded = cloud.dkms.start_recording()
        date = email.utils.formatdate(usegmt=True)
        official = run_sdk(
            python,
            {
                "endpoint": cloud.dkms.host(),
                "ca_file": cloud.dkms.ca_file,
                "key_file": key.key_file,
                "password_file": key.password_file,
                "secret_name": SECRET_NAME,
                "date": date,
            },
        )
        from credentials.errors import CredentialsError

        try:
            document, ours_signed = ours_fetch(instance, SECRET_NAME, date)
        except CredentialsError as exc:  # still compare what reached the gateway
            document, ours_signed, ours_error = {"SecretData": "", "VersionId": f"none ({exc})"}, [], str(exc)
        else:
            ours_error = ""
        accepted = cloud.count("GetSecretValue", service="dkms", code="OK")
        from tests.cloud.kms import find_version

        version = find_version(cloud.state.get_secret(SECRET_NAME))
    expected_sha = hashlib.sha256(document["SecretData"].encode("utf-8")).hexdigest()
    checks = [
        (
            len(recorded) == 2 and accepted == 2,
            f"both requests reached the gateway and verified ({accepted} "
            "accepted, signatures checked against the client key)",
        ),
        (
            official["version_id"] == document["VersionId"] == version.version_id
            and official["secret_data_sha256"] == expected_sha
            and secret in document["SecretData"],
            f"both fetched the secret: version {document['VersionId']}, the same SecretData"
            + (f"\n    ours failed: {ours_error}" if ours_error else ""),
        ),
    ]
    if len(recorded) == 2:
        checks += compare(recorded[0], recorded[1], official["string_to_sign"], ours_signed)
    for passed, what in checks:
        print(f"  {'ok  ' if passed else 'FAIL'} {what}")
    stack = ", ".join(f"{name} {v}" for name, v in official["versions"].items())
    verdict = "PASS" if all(passed for passed, _ in checks) else "FAIL"
    print(
        f"DKMS wire fidelity: {verdict} (official SDK venv: {stack}; ours: {our_stack()}; "
        f"{time.monotonic() - started:.1f} s, of which venv {venv_seconds:.1f} s)"
    )
    return 0 if verdict == "PASS" else 1


def our_stack() -> str:
    from importlib import metadata

    return ", ".join(f"{name} {metadata.version(name)}" for name in ("cryptography", "requests"))


if __name__ == "__main__":
    raise SystemExit(main())
