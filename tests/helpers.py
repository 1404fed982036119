"""Small helpers shared by the tests: building SDK requests for the emulator, and bounded waiting."""

import asyncio
import itertools
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Optional, Tuple

from aliyunsdkcore.request import CommonRequest

DEADLINE = 10.0


def describe_regions(cloud) -> CommonRequest:
    request = CommonRequest(domain=cloud.ecs_host, version="2014-05-26", action_name="DescribeRegions")
    request.set_protocol_type("http")
    request.set_accept_format("JSON")
    return request


def bad_parameter_request(cloud) -> CommonRequest:
    """A call the service refuses for a reason that has nothing to do with the key."""
    request = CommonRequest(domain=cloud.ecs_host, version="2014-05-26", action_name="DescribeInstances")
    request.set_protocol_type("http")
    request.add_query_param("PageSize", "1000")
    return request


def regions_of(body: bytes):
    return [r["RegionId"] for r in json.loads(body)["Regions"]["Region"]]


_THREAD_NUMBERS = itertools.count(1)  # unique across runs, as Thread-N is


def run_threads(count, target, *args):
    # Named for their target on every Python (3.9 names a thread "Thread-N" only; 3.10+ adds " (target)")
    name = getattr(target, "__name__", "worker")
    threads = [
        threading.Thread(target=target, args=args, daemon=True, name=f"{name}-{next(_THREAD_NUMBERS)}")
        for _ in range(count)
    ]
    for t in threads:
        t.start()
    return threads


def join_all(threads, deadline=DEADLINE * 3):
    end = time.monotonic() + deadline
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "threads did not finish in time"


def wait_until(predicate, deadline=DEADLINE, interval=0.01):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def call_through_rotation(call, rotate, threads=8, calls_after=100):
    """Run ``call()`` in a loop on `threads` threads, then ``rotate()`` while they call, until `calls_after` calls
    have succeeded after it. Returns (every exception a caller saw, what rotate() returned)."""
    errors, after = [], []
    rotated, stop = threading.Event(), threading.Event()

    def caller():
        while not stop.is_set():
            try:
                call()
                if rotated.is_set():
                    after.append(1)
            except Exception as exc:  # noqa: BLE001 - every error reaching a caller is reported
                errors.append(exc)

    running = run_threads(threads, caller)
    try:
        result = rotate()
        rotated.set()
        assert wait_until(lambda: len(after) >= calls_after or len(errors) > 100), "calls did not resume"
    finally:
        stop.set()
        join_all(running)
    return errors, result


def heal_acs_and_oss_through_a_revoking_rotation(cloud, secret_name, key_id, bucket_name="bkt"):
    """A ProxyAcsClient and a ProxyBucket on `secret_name` (signing with `key_id` first) keep calling from 8
    threads while the secret rotates and the old key is revoked: no caller sees an error, and both go on with the
    new key. The call counts are reset first, so the caller can count the fetches. Returns the new key pair."""
    from proxy import ProxyAcsClient, ProxyBucket

    client = ProxyAcsClient(secret_name, region_id="cn-hangzhou", pool_size=8)
    bucket = ProxyBucket(secret_name, cloud.oss_endpoint, bucket_name)
    try:
        assert regions_of(client.do_action_with_exception(describe_regions(cloud)))
        assert client.credentials_provider.get_credentials().access_key_id == key_id

        def acs_and_oss():
            client.do_action_with_exception(describe_regions(cloud))
            name = threading.current_thread().name
            bucket.put_object(name, b"payload")
            assert bucket.get_object(name).read() == b"payload"

        cloud.reset_counts()
        errors, (new_id, new_secret) = call_through_rotation(
            acs_and_oss, lambda: cloud.rotate_secret(secret_name, mode="revoke")
        )
        assert errors == []
        assert cloud.count("DescribeRegions", access_key_id=new_id, code="OK") >= 50
        assert cloud.count("PutObject", access_key_id=new_id, code="OK") >= 50
    finally:
        client.shutdown()
        bucket.shutdown()
    return new_id, new_secret


class SilentPort:
    """A port that accepts TCP connections and never reads or answers them (they wait in the listen backlog): a
    server that hangs. ``connections()`` counts the connections made so far, one per attempt of a client, without
    a thread: every connection a client completed is in the backlog, taken here."""

    def __init__(self, backlog: int = 64):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.sock.setblocking(False)
        self._taken = []

    @property
    def host(self) -> str:
        return "127.0.0.1:%d" % self.sock.getsockname()[1]

    def connections(self) -> int:
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return len(self._taken)
            self._taken.append(conn)

    def close(self) -> None:
        for conn in self._taken:
            conn.close()
        self.sock.close()


class LoopTicker:
    """KMS held (``cloud.kms_hold``) until a 10 ms ticker on the event loop has ticked `enough` times while a request
    was held: a loop blocked by the fetch gets no tick in, and then only the fallback timer (DEADLINE) lets KMS
    answer, so the test fails instead of hanging. Also keeps the largest gap between ticks (a figure, not asserted).

        with LoopTicker(cloud) as ticker:
            async def main():
                ticker.start()          # inside the loop
                ...                     # code that must not block the loop while KMS holds its fetch
                await ticker.finish()
            asyncio.run(main())
        assert ticker.ticks_while_held >= 20
    """

    def __init__(self, cloud, enough=20):
        self.cloud, self.enough = cloud, enough
        self.gate = cloud.kms_hold(times=1)
        self._fallback = threading.Timer(DEADLINE, self.gate.set)
        self.ticks_while_held = 0
        self.largest_gap = 0.0
        self._stop = self._task = None

    def __enter__(self):
        self._fallback.start()
        return self

    def __exit__(self, *exc_info):
        self._fallback.cancel()
        self.gate.set()

    def start(self):
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def finish(self):
        self._stop.set()
        await asyncio.wait_for(self._task, DEADLINE)

    async def _run(self):
        last = time.monotonic()
        while not self._stop.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            self.largest_gap, last = max(self.largest_gap, now - last), now
            if self.cloud.kms_held():
                self.ticks_while_held += 1
                if self.ticks_while_held >= self.enough:
                    self.gate.set()


def control_request(cloud, method: str, path: str, body: Optional[dict] = None) -> Tuple[int, dict]:
    """One request to the emulator's HTTP control plane (tests/cloud/control.py): (status, JSON answer)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if method != "GET" else {}  # the control plane requires it on writes
    request = urllib.request.Request(cloud.endpoint("control") + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def managed_key(cloud, name: str) -> Tuple[str, str]:
    """A managed secret created through the control plane (added to `cloud` if missing), and the key it holds."""
    from tests.cloud import control

    if not hasattr(cloud, "control"):
        control.add_to(cloud)
    assert control_request(cloud, "POST", "/secrets", {"name": name})[0] == 201
    return cloud.current_key(name)


def revoke_through_control_plane(cloud, name: str) -> str:
    """A revoking rotation of the secret through the control plane, as an operator rehearses it: the key id that the
    application still holds and that now fails everywhere."""
    status, answer = control_request(cloud, "POST", "/secrets/%s/rotate" % name, {"mode": "revoke"})
    assert status == 200, answer
    return answer["previous_access_key_id"]


REFUSED_KEYS = ("unknown key", "disabled key", "wrong secret", "expired token", "token of another key")


def refused_key(cloud, case: str) -> Tuple[Tuple[str, str], Optional[str]]:
    """(key pair, security token or None) that every emulated service refuses, one per REFUSED_KEYS case."""
    key = cloud.add_access_key()
    if case == "unknown key":
        return ("LTAI5tUnknownKey000000", "secret"), None
    if case == "disabled key":
        cloud.disable_key(key[0])
        return key, None
    if case == "wrong secret":
        return (key[0], "not-the-secret"), None
    if case == "expired token":
        expired = cloud.add_access_key(security_token=True, expires_at=time.time() - 1)
        return expired, cloud.security_token_of(expired[0])
    if case == "token of another key":
        other = cloud.add_access_key(security_token=True)
        return cloud.add_access_key(security_token=True), cloud.security_token_of(other[0])
    raise ValueError("no such case %r; one of %s" % (case, ", ".join(REFUSED_KEYS)))
