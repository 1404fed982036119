"""The local cloud a benchmark runs against: the test emulator on 127.0.0.1, started and always stopped.

Two ways: in this process (``local_cloud``: the benchmark can rotate keys and read the
emulator's call counters), or in a child process (``cloud_process``: client and server
do not share one interpreter lock, as with a real service; used for per-call latency).

The emulator's sockets run with Nagle's algorithm off (tests/cloud/server.py): otherwise
every call on a reused keep-alive connection would wait about 40 ms for a delayed ACK, a
latency floor that would hide any client cost.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

SECRET = "bench-ram-secret"
BUCKET = "bench-bucket"
OTS_INSTANCE = "bench-instance"
SLS_PROJECT, SLS_LOGSTORE = "bench-project", "bench-log"  # Log Service: reached as <project>.127.0.0.1 (loopback_names)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_TIMEOUT = 30.0


@dataclass
class Cloud:
    secret_name: str
    key: Tuple[str, str]  # the secret's current key, for the plain SDK clients
    properties: str  # path of the properties file that reaches the emulator's KMS
    bucket: str
    region_id: str
    ecs_host: str
    oss_endpoint: str
    kms_host: str
    mns_endpoint: str = ""  # Message Service (http://127.0.0.1:PORT)
    ots_endpoint: str = ""  # Tablestore, with the instance OTS_INSTANCE made
    sls_endpoint: Optional[str] = None  # host:port of the emulator's Log Service (logstore SLS_PROJECT/SLS_LOGSTORE)
    emulator: Optional[object] = None  # the tests.cloud.CloudEmulator, when it runs in this process
    _channel: Optional["_Channel"] = None  # commands to the emulator process, when it runs in a child

    def rotate(self, mode: str = "revoke") -> Tuple[str, float, float]:
        """Rotate the secret: (new key id, perf_counter before, perf_counter after the state changed).

        perf_counter is CLOCK_MONOTONIC, one clock for every process on the machine."""
        if self._channel is not None:
            answer = self._channel.ask("rotate", mode)
            return answer["key_id"], answer["before"], answer["after"]
        return _rotate(self.emulator, self.secret_name, mode)

    def count(self, action: str) -> int:
        if self._channel is not None:
            return self._channel.ask("count", action)["count"]
        return self.emulator.count(action)

    def reset_counts(self) -> None:
        if self._channel is not None:
            self._channel.ask("reset_counts")
        else:
            self.emulator.reset_counts()

    def as_dict(self):
        return {
            "secret_name": self.secret_name,
            "key": list(self.key),
            "properties": self.properties,
            "bucket": self.bucket,
            "region_id": self.region_id,
            "ecs_host": self.ecs_host,
            "oss_endpoint": self.oss_endpoint,
            "kms_host": self.kms_host,
            "mns_endpoint": self.mns_endpoint,
            "ots_endpoint": self.ots_endpoint,
            "sls_endpoint": self.sls_endpoint,
        }


def _rotate(emulator, secret_name: str, mode: str) -> Tuple[str, float, float]:
    import time

    before = time.perf_counter()
    key_id, _ = emulator.rotate_secret(secret_name, mode=mode)
    return key_id, before, time.perf_counter()


class _Channel:
    """One JSON line out, one JSON line back, over the emulator process's stdin and stdout."""

    def __init__(self, child: subprocess.Popen, timeout: float):
        self._child = child
        self._timeout = timeout
        self._lock = threading.Lock()

    def ask(self, *command: str):
        with self._lock:
            self._child.stdin.write(" ".join(command) + "\n")
            self._child.stdin.flush()
            answer = json.loads(_read_line(self._child, self._timeout))
        if "error" in answer:
            raise RuntimeError(f"emulator process: {answer['error']}")
        return answer


def serve_commands(cloud: "Cloud", stdin, stdout) -> None:
    """The emulator process's side of _Channel: answer commands until stdin closes."""
    for line in stdin:
        parts = line.split()
        try:
            if parts[:1] == ["rotate"]:
                key_id, before, after = _rotate(cloud.emulator, cloud.secret_name, parts[1])
                answer = {"key_id": key_id, "before": before, "after": after}
            elif parts[:1] == ["count"]:
                answer = {"count": cloud.emulator.count(parts[1])}
            elif parts[:1] == ["reset_counts"]:
                cloud.emulator.reset_counts()
                answer = {}
            else:
                answer = {"error": f"unknown command {line.strip()!r}"}
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


@contextlib.contextmanager
def _pointed_at(properties: str) -> Iterator[None]:
    """The library's registry reads this properties file, and starts and ends empty."""
    from credentials import ConfigLoader, registry

    ConfigLoader.set_config_name(properties)
    registry.reset()
    try:
        yield
    finally:
        registry.reset()
        ConfigLoader.set_config_name(None)


@contextlib.contextmanager
def local_cloud(rotation_interval: Optional[int] = 604800) -> Iterator[Cloud]:
    """A started emulator in this process, with one managed secret and one bucket; the registry pointed at it."""
    from tests.cloud import CloudEmulator

    emulator = CloudEmulator()
    workdir = tempfile.mkdtemp(prefix="bench-")
    try:
        emulator.start()
        key = emulator.create_secret(SECRET, rotation_interval=rotation_interval)
        emulator.create_bucket(BUCKET)
        emulator.ots.create_instance(OTS_INSTANCE)
        emulator.sls.create_logstore(SLS_PROJECT, SLS_LOGSTORE)
        properties = emulator.write_properties(os.path.join(workdir, "managed_credentials_providers.properties"))
        cloud = Cloud(
            SECRET,
            key,
            properties,
            BUCKET,
            emulator.region_id,
            emulator.ecs_host,
            emulator.oss_endpoint,
            emulator.kms_host,
            emulator.mns_endpoint,
            emulator.ots_endpoint,
            emulator.sls_endpoint,
            emulator,
        )
        with _pointed_at(properties):
            yield cloud
    finally:
        emulator.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def cloud_process(max_seconds: float = 900.0) -> Iterator[Cloud]:
    """The emulator in a child process (benchmarks/emulator_process.py); stopped by closing its stdin."""
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.emulator_process", "--max-seconds", str(max_seconds)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = _read_line(child, START_TIMEOUT)
        info = json.loads(line)
        cloud = Cloud(
            info["secret_name"],
            tuple(info["key"]),
            info["properties"],
            info["bucket"],
            info["region_id"],
            info["ecs_host"],
            info["oss_endpoint"],
            info["kms_host"],
            info.get("mns_endpoint", ""),
            info.get("ots_endpoint", ""),
            info.get("sls_endpoint"),
            _channel=_Channel(child, START_TIMEOUT),
        )
        with _pointed_at(cloud.properties):
            yield cloud
    finally:
        with contextlib.suppress(OSError):
            child.stdin.close()
        try:
            child.wait(10.0)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5.0)


def _read_line(child: subprocess.Popen, timeout: float) -> str:
    result = []
    reader = threading.Thread(target=lambda: result.append(child.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not result or not result[0]:
        raise RuntimeError(f"the emulator process did not start within {timeout:.0f} s")
    return result[0]


def describe_regions(cloud: Cloud):
    """A new DescribeRegions request (a request object is not reused: the SDK adds to it when signing)."""
    from aliyunsdkcore.request import CommonRequest

    request = CommonRequest(domain=cloud.ecs_host, version="2014-05-26", action_name="DescribeRegions")
    request.set_protocol_type("http")
    request.set_accept_format("JSON")
    return request
