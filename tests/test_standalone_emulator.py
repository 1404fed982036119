"""`python -m tests.cloud` as an operator runs it: a child process, its one JSON line, its properties file, and a
revoking rotation driven through its control plane while a ProxyAcsClient in this process keeps calling."""

import json
import os
import re
import stat
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
from aliyunsdkcore.request import CommonRequest

from credentials import ConfigLoader, registry
from proxy import ProxyAcsClient
from tests.helpers import join_all, run_threads, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_TIMEOUT = 30.0
TIMEOUT = 5


class Standalone:
    """The child process and what its JSON line said."""

    def __init__(self, child: subprocess.Popen, info: dict) -> None:
        self.child = child
        self.info = info
        self.control = info["endpoints"]["control"]

    def ask(self, method: str, path: str, body: Optional[dict] = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if method != "GET" else {}
        request = urllib.request.Request(self.control + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return json.loads(answer.read())


def _read_line(child: subprocess.Popen, timeout: float) -> str:
    line: List[str] = []
    reader = threading.Thread(target=lambda: line.append(child.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not line or not line[0]:
        raise AssertionError(
            "python -m tests.cloud printed no JSON line within %.0f s (exit status %s)" % (timeout, child.poll())
        )
    return line[0]


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[Standalone]:
    properties = tmp_path / "managed_credentials_providers.properties"
    with open(tmp_path / "emulator.log", "w") as log:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.cloud",
                "--port",
                "0",
                "--secret-name",
                "app-key",
                "--write-properties",
                str(properties),
                "--max-seconds",
                "300",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        info = json.loads(_read_line(child, START_TIMEOUT))
        ConfigLoader.set_config_name(info["properties"])
        registry.reset()
        yield Standalone(child, info)
    finally:
        registry.reset()
        ConfigLoader.set_config_name(None)
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)
        child.stdout.close()


def test_json_line_names_the_endpoints_and_no_secret(standalone: Standalone, tmp_path: Path) -> None:
    info = standalone.info
    assert set(info["endpoints"]) >= {"kms", "ecs", "oss", "cs", "control"}
    assert info["secrets"] == ["app-key"] and info["buckets"] == ["demo-bucket"]
    assert info["properties"] == str(tmp_path / "managed_credentials_providers.properties")
    assert stat.S_IMODE(os.stat(info["properties"]).st_mode) == 0o600  # it holds the KMS caller's secret
    properties = Path(info["properties"]).read_text()
    assert "credentials_access_key_id=%s" % info["kms_access_key_id"] in properties
    assert info["endpoints"]["kms"] in properties
    kms_secret = [line for line in properties.splitlines() if line.startswith("credentials_access_secret=")]
    assert kms_secret and kms_secret[0].split("=", 1)[1] not in json.dumps(info)
    assert standalone.ask("GET", "/")["endpoints"] == info["endpoints"]


def test_revoking_rotation_through_the_control_plane_while_the_application_calls(standalone: Standalone) -> None:
    ecs_host = standalone.info["endpoints"]["ecs"].split("://", 1)[1]
    client = ProxyAcsClient("app-key", region_id="cn-hangzhou", pool_size=4, timeout=TIMEOUT, connect_timeout=TIMEOUT)
    errors: List[BaseException] = []
    successes: List[int] = []  # list.append is atomic: a counter shared by the threads
    stop = threading.Event()

    def describe_regions() -> None:
        request = CommonRequest(domain=ecs_host, version="2014-05-26", action_name="DescribeRegions")
        request.set_protocol_type("http")
        client.do_action_with_exception(request)

    def application() -> None:
        while not stop.is_set():
            try:
                describe_regions()
                successes.append(1)
            except Exception as exc:  # noqa: BLE001 - every error an application thread sees is reported
                errors.append(exc)

    threads = run_threads(4, application)
    try:
        assert wait_until(lambda: len(successes) >= 20 or errors), "the application did not get going"
        rotation = standalone.ask("POST", "/secrets/app-key/rotate", {"mode": "revoke"})
        after = len(successes)
        assert wait_until(lambda: len(successes) >= after + 50 or errors), "calls did not resume after the rotation"
    finally:
        stop.set()
        join_all(threads)
        client.shutdown()
    assert errors == []

    log = standalone.ask("GET", "/calls")["calls"]
    rotated_at = next(i for i, c in enumerate(log) if (c["service"], c["action"]) == ("control", "RotateSecret"))
    assert log[rotated_at]["access_key_id"] == rotation["access_key_id"]
    after_rotation = log[rotated_at + 1 :]
    assert [c["action"] for c in after_rotation if c["service"] == "kms"] == ["GetSecretValue"]
    old, new = rotation["previous_access_key_id"], rotation["access_key_id"]
    ecs = [(c["access_key_id"], c["code"]) for c in after_rotation if c["service"] == "ecs"]
    assert (old, "InvalidAccessKeyId.NotFound") in ecs and ecs[-1] == (new, "OK")
    assert set(ecs) <= {
        (old, "InvalidAccessKeyId.NotFound"),
        (new, "OK"),
        (old, "OK"),
    }  # (old, OK): a call checked just before the rotation, logged just after


def _rehearsal_page() -> str:
    with open(os.path.join(ROOT, "docs", "rehearsal.md"), encoding="utf-8") as handle:
        return handle.read()


def test_the_rehearsal_pages_before_and_after_programs_run_as_written(standalone: Standalone, tmp_path: Path) -> None:
    """docs/rehearsal.md: the command that gives the "before" application its key, before.py (the plain SDK) and
    after.py (ProxyAcsClient), run as written with their /tmp paths pointed at this test's files. Both answer; after
    a revoking rotation the plain SDK is refused and the proxy heals."""
    page = _rehearsal_page()
    key_command = next(line.strip() for line in page.splitlines() if "> /tmp/before.key" in line)
    before, after = re.findall(r"```python\n(.*?)```", page, re.S)[:2]
    (tmp_path / "emulator.json").write_text(json.dumps(standalone.info))

    def as_here(text: str) -> str:
        text = text.replace("/tmp/rehearsal.properties", "<PROPERTIES>").replace("/tmp/", str(tmp_path) + "/")
        text = text.replace("<PROPERTIES>", standalone.info["properties"])
        return text.replace("my-ram-secret", "app-key")  # the fixture's secret

    env = dict(
        os.environ,
        PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        PYTHONPATH=ROOT,
        MANAGED_CREDENTIALS_PROVIDERS_CONFIG=standalone.info["properties"],
    )

    def run(program: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", as_here(program)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )

    done = subprocess.run(["bash", "-c", as_here(key_command)], cwd=tmp_path, env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "before.key").read_text().split()) == 2  # key id and secret
    assert run(before).returncode == 0 and run(after).returncode == 0

    standalone.ask("POST", "/secrets/app-key/rotate", {"mode": "revoke"})
    refused, healed = run(before), run(after)
    assert refused.returncode != 0 and "InvalidAccessKeyId.NotFound" in refused.stderr, refused.stderr[-2000:]
    assert healed.returncode == 0, healed.stderr[-2000:]
