"""The emulator's HTTP control plane (tests/cloud/control.py), served in this process, driven over real HTTP.

The standalone process (python -m tests.cloud) is tested in test_standalone_emulator.py; here every route is
checked quickly, with the plain aliyunsdkcore AcsClient as the application whose calls the changes affect.
"""

import http.client
import json
import os
import shutil
import stat
import subprocess
import urllib.error
import urllib.request
from typing import Callable, Iterator, Optional, Tuple

import pytest
from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest

from tests.cloud import CloudEmulator, control
from tests.helpers import wait_until

TIMEOUT = 5
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ask(
    cloud: CloudEmulator, method: str, path: str, body: Optional[dict] = None, headers: Optional[dict] = None
) -> Tuple[int, dict]:
    """One control-plane request: (status, JSON answer). A write says Content-Type: application/json, as the
    control plane requires; `headers` adds or replaces headers."""
    data = json.dumps(body).encode() if body is not None else None
    sent = {"Content-Type": "application/json"} if method != "GET" else {}
    sent.update(headers or {})
    request = urllib.request.Request(cloud.endpoint("control") + path, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def plane() -> Iterator[CloudEmulator]:
    cloud = CloudEmulator()
    service = control.add_to(cloud)
    with cloud:
        yield cloud
    service.close()


def regions_with(key: Tuple[str, str], cloud: CloudEmulator) -> bytes:
    request = CommonRequest(domain=cloud.ecs_host, version="2014-05-26", action_name="DescribeRegions")
    request.set_protocol_type("http")
    return AcsClient(*key, "cn-hangzhou", timeout=TIMEOUT).do_action_with_exception(request)


def secret_value(cloud: CloudEmulator, name: str, timeout: float = TIMEOUT) -> dict:
    request = CommonRequest(domain=cloud.kms_host, version="2016-01-20", action_name="GetSecretValue")
    request.set_protocol_type("http")
    request.add_query_param("SecretName", name)
    client = AcsClient(*cloud.kms_access_key, "cn-hangzhou", auto_retry=False, timeout=timeout, connect_timeout=timeout)
    return json.loads(client.do_action_with_exception(request))


def key_of(cloud: CloudEmulator, name: str) -> Tuple[str, str]:
    data = json.loads(secret_value(cloud, name)["SecretData"])
    return data["AccessKeyId"], data["AccessKeySecret"]


def error_code(call: Callable[..., object], *args: object) -> str:
    with pytest.raises(ServerException) as info:
        call(*args)
    return info.value.get_error_code()


def test_describe_names_every_endpoint_and_no_secret(plane: CloudEmulator) -> None:
    status, info = ask(plane, "GET", "/")
    assert status == 200
    assert set(info["endpoints"]) == {"kms", "ecs", "oss", "cs", "sts", "sls", "mns", "ots", "control"}
    assert info["endpoints"]["kms"] == plane.kms_endpoint and info["region"] == "cn-hangzhou"
    assert info["kms_access_key_id"] == plane.kms_access_key[0]
    assert plane.kms_access_key[1] not in json.dumps(info)


def test_secrets_and_buckets_are_created(plane: CloudEmulator) -> None:
    assert ask(plane, "POST", "/secrets", {"name": "app"})[0] == 201
    assert ask(plane, "POST", "/buckets", {"name": "uploads"}) == (201, {"name": "uploads"})
    status, info = ask(plane, "GET", "/")
    assert (info["secrets"], info["buckets"]) == (["app"], ["uploads"])
    key = key_of(plane, "app")
    assert ask(plane, "GET", "/secrets/app")[1]["access_key_id"] == key[0]
    assert key[1] not in json.dumps(ask(plane, "GET", "/secrets/app")[1])
    assert json.loads(regions_with(key, plane))["Regions"]

    assert ask(plane, "POST", "/secrets", {"name": "app"})[0] == 400  # exists already
    assert ask(plane, "POST", "/secrets", {})[0] == 400
    assert ask(plane, "GET", "/secrets/nobody")[0] == 404


def test_a_tablestore_instance_is_created_for_the_plain_sdk(plane: CloudEmulator) -> None:
    """What a standalone emulator needs before an OTSClient can work (instances are made in the console)."""
    from tablestore import CapacityUnit, OTSClient, OTSServiceError, ReservedThroughput, TableMeta, TableOptions

    key = plane.add_access_key()
    client = OTSClient(plane.ots_endpoint, key[0], key[1], "rehearsal")
    with pytest.raises(OTSServiceError) as info:
        client.list_table()
    assert info.value.get_error_message() == "The instance is not found."
    assert ask(plane, "POST", "/ots/instances", {"name": "rehearsal"}) == (201, {"name": "rehearsal"})
    client.create_table(TableMeta("t", [("id", "STRING")]), TableOptions(), ReservedThroughput(CapacityUnit(0, 0)))
    assert client.list_table() == ("t",)
    assert ask(plane, "POST", "/ots/instances", {})[0] == 400


def test_revoking_rotation_fails_the_old_key_at_once(plane: CloudEmulator) -> None:
    ask(plane, "POST", "/secrets", {"name": "app"})
    old = key_of(plane, "app")
    status, answer = ask(plane, "POST", "/secrets/app/rotate", {"mode": "revoke"})
    assert status == 200 and answer["previous_access_key_id"] == old[0]
    assert error_code(regions_with, old, plane) == "InvalidAccessKeyId.NotFound"
    new = key_of(plane, "app")
    assert new[0] == answer["access_key_id"] != old[0]
    assert json.loads(regions_with(new, plane))["Regions"]


def test_grace_rotation_keeps_the_old_key_for_the_grace_period(plane: CloudEmulator) -> None:
    ask(plane, "POST", "/secrets", {"name": "app"})
    ask(plane, "POST", "/secrets", {"name": "short"})
    old, old_short = key_of(plane, "app"), key_of(plane, "short")
    status, answer = ask(plane, "POST", "/secrets/app/rotate", {"mode": "grace", "grace_seconds": 600})
    assert status == 200 and answer["mode"] == "grace" and answer["previous_key_revoked_at"]
    assert json.loads(regions_with(old, plane))["Regions"]  # within its grace period
    assert json.loads(regions_with(key_of(plane, "app"), plane))["Regions"]  # and the new key works

    ask(plane, "POST", "/secrets/short/rotate", {"mode": "grace", "grace_seconds": 0.1})
    assert wait_until(lambda: plane.count("RevokeKey", access_key_id=old_short[0], service="control") == 1)
    assert error_code(regions_with, old_short, plane) == "InvalidAccessKeyId.NotFound"

    ask(plane, "POST", "/secrets/app/rotate", {"mode": "grace"})  # no grace_seconds: until the next rotation
    assert json.loads(regions_with(key_of(plane, "app"), plane))["Regions"]
    assert ask(plane, "POST", "/secrets/app/rotate", {"mode": "later"})[0] == 400
    assert ask(plane, "POST", "/secrets/app/rotate", {"mode": "revoke", "grace_seconds": 3})[0] == 400
    assert ask(plane, "POST", "/secrets/nobody/rotate", {})[0] == 404


def test_kms_faults_error_hang_refuse_then_clear(plane: CloudEmulator) -> None:
    ask(plane, "POST", "/secrets", {"name": "app"})
    assert ask(plane, "POST", "/faults/kms", {"fault": "error", "times": 1}) == (200, {"fault": "error"})
    assert error_code(secret_value, plane, "app") == "ServiceUnavailable"
    assert secret_value(plane, "app")["SecretName"] == "app"  # times=1: used up

    ask(plane, "POST", "/faults/kms", {"fault": "error", "status": 500, "code": "InternalError"})
    assert error_code(secret_value, plane, "app") == "InternalError"
    assert error_code(secret_value, plane, "app") == "InternalError"  # no times: until cleared
    ask(plane, "DELETE", "/faults")
    assert secret_value(plane, "app")["SecretName"] == "app"

    ask(plane, "POST", "/faults/kms", {"fault": "hang", "seconds": 30, "times": 1})
    with pytest.raises(ClientException):  # the client's read timeout ends the wait, not the emulator
        secret_value(plane, "app", timeout=1)
    ask(plane, "POST", "/faults/kms", {"fault": "refuse"})
    with pytest.raises(ClientException):
        secret_value(plane, "app")
    ask(plane, "DELETE", "/faults")
    assert secret_value(plane, "app")["SecretName"] == "app"
    assert ask(plane, "POST", "/faults/kms", {"fault": "meteor"})[0] == 400
    assert ask(plane, "POST", "/faults/kms", {"fault": "error", "status": 200})[0] == 400


def test_kms_throttle_through_the_control_plane(plane: CloudEmulator) -> None:
    ask(plane, "POST", "/secrets", {"name": "app"})
    assert ask(plane, "POST", "/faults/kms", {"fault": "throttle", "times": 2}) == (200, {"fault": "throttle"})
    for _ in range(2):
        assert error_code(secret_value, plane, "app") == "Rejected.Throttling"
    assert secret_value(plane, "app")["SecretName"] == "app"  # times=2: used up
    ask(plane, "POST", "/faults/kms", {"fault": "throttle", "seconds": 600})
    assert error_code(secret_value, plane, "app") == "Rejected.Throttling"
    assert plane.state.pending_fault("kms").until is not None  # a window of time
    ask(plane, "DELETE", "/faults")
    assert secret_value(plane, "app")["SecretName"] == "app"
    assert ask(plane, "POST", "/faults/kms", {"fault": "throttle", "seconds": 0})[0] == 400
    assert ask(plane, "POST", "/faults/kms", {"fault": "throttle", "retry_after": ""})[0] == 400


def test_request_log_pages_with_since_and_filters(plane: CloudEmulator) -> None:
    ask(plane, "POST", "/secrets", {"name": "app"})
    key = key_of(plane, "app")
    regions_with(key, plane)
    status, log = ask(plane, "GET", "/calls")
    assert [(c["service"], c["action"], c["code"]) for c in log["calls"]] == [
        ("control", "CreateSecret", "OK"),
        ("kms", "GetSecretValue", "OK"),
        ("ecs", "DescribeRegions", "OK"),
    ]
    assert log["calls"][2]["access_key_id"] == key[0]
    regions_with(key, plane)
    page = ask(plane, "GET", "/calls?since=%d" % log["next"])[1]
    assert [c["action"] for c in page["calls"]] == ["DescribeRegions"] and page["next"] == log["next"] + 1
    assert [c["action"] for c in ask(plane, "GET", "/calls?service=kms")[1]["calls"]] == ["GetSecretValue"]
    assert len(ask(plane, "GET", "/calls?action=DescribeRegions")[1]["calls"]) == 2
    assert ask(plane, "DELETE", "/calls")[0] == 200 and ask(plane, "GET", "/calls")[1] == {"calls": [], "next": 0}
    assert ask(plane, "GET", "/calls?since=x")[0] == 400


def test_unknown_routes_methods_and_bodies(plane: CloudEmulator) -> None:
    assert ask(plane, "GET", "/nothing")[0] == 404
    assert ask(plane, "PUT", "/secrets")[0] == 405
    request = urllib.request.Request(
        plane.endpoint("control") + "/secrets",
        data=b"{not json",
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=TIMEOUT)
    assert info.value.code == 400 and "not JSON" in json.loads(info.value.read())["error"]


# ---- who may call it (issue 19 p): loopback Host and Origin, JSON writes --------------------------------------------


def test_a_host_that_is_not_a_loopback_name_is_refused_and_changes_nothing(plane: CloudEmulator) -> None:
    """DNS rebinding: a page's own name, pointed at 127.0.0.1, arrives as its Host."""
    port = plane.endpoint("control").rsplit(":", 1)[1]
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.evil.example:{port}", "localhost.evil.example"):
        status, answer = ask(plane, "POST", "/secrets", {"name": "app"}, headers={"Host": host})
        assert status == 403 and "Host" in answer["error"], (host, answer)
        assert ask(plane, "GET", "/calls", headers={"Host": host})[0] == 403  # nor read
    assert ask(plane, "GET", "/")[1]["secrets"] == [] and plane.calls == []
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "LOCALHOST", f"127.0.0.2:{port}"):
        assert ask(plane, "GET", "/", headers={"Host": host})[0] == 200, host


def test_a_request_without_a_host_is_refused(plane: CloudEmulator) -> None:
    connection = http.client.HTTPConnection(plane.endpoint("control")[len("http://") :], timeout=TIMEOUT)
    try:
        connection.putrequest("GET", "/", skip_host=True)
        connection.endheaders()
        answer = connection.getresponse()
        assert answer.status == 403 and "Host" in json.loads(answer.read())["error"]
    finally:
        connection.close()


def test_an_origin_that_is_not_loopback_is_refused_and_changes_nothing(plane: CloudEmulator) -> None:
    """Cross-site requests from a web page in the developer's browser carry its Origin."""
    ask(plane, "POST", "/secrets", {"name": "app"})
    key_id = ask(plane, "GET", "/secrets/app")[1]["access_key_id"]
    for origin in ("https://evil.example", "http://evil.example:8700", "null", "http://127.0.0.1.evil.example"):
        status, answer = ask(plane, "POST", "/secrets/app/rotate", {"mode": "revoke"}, headers={"Origin": origin})
        assert status == 403 and "Origin" in answer["error"], (origin, answer)
        assert ask(plane, "GET", "/calls", headers={"Origin": origin})[0] == 403
    assert ask(plane, "GET", "/secrets/app")[1]["access_key_id"] == key_id  # not rotated
    assert plane.count("RotateSecret") == 0
    for origin in ("http://localhost:3000", "http://127.0.0.1:8700", "https://[::1]"):
        assert ask(plane, "GET", "/", headers={"Origin": origin})[0] == 200, origin
    status, _ = ask(plane, "POST", "/secrets/app/rotate", {"mode": "revoke"}, headers={"Origin": "http://localhost"})
    assert status == 200 and plane.count("RotateSecret") == 1


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"],
)
def test_a_write_without_json_content_type_is_refused_and_changes_nothing(plane: CloudEmulator, content_type) -> None:
    """What a page may send cross-site without a CORS preflight (text/plain, a form), and curl's -d default."""
    ask(plane, "POST", "/secrets", {"name": "app"})
    headers = {"Content-Type": content_type} if content_type else {}
    writes = [
        ("POST", "/secrets", {"name": "other"}),
        ("POST", "/secrets/app/rotate", {"mode": "revoke"}),
        ("POST", "/buckets", {"name": "uploads"}),
        ("POST", "/faults/kms", {"fault": "refuse"}),
        ("DELETE", "/faults", None),
        ("DELETE", "/calls", None),
    ]
    for method, path, body in writes:
        request = urllib.request.Request(
            plane.endpoint("control") + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers=headers,
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=TIMEOUT)
        assert info.value.code == 415 and "application/json" in json.loads(info.value.read())["error"], path
    status, info = ask(plane, "GET", "/")
    assert (info["secrets"], info["buckets"]) == (["app"], [])
    assert [c.action for c in plane.calls] == ["CreateSecret"]  # not rotated, no fault, the log not emptied
    key_of(plane, "app")  # KMS still answers
    with_charset = {"Content-Type": "Application/JSON; charset=utf-8"}
    assert ask(plane, "POST", "/buckets", {"name": "b"}, headers=with_charset)[0] == 201


def test_the_readme_commands_drive_the_control_plane(plane: CloudEmulator) -> None:
    """Every curl line of the rehearsal page (docs/rehearsal.md), run as written (port 8700 -> this plane's),
    succeeds."""
    if shutil.which("curl") is None or shutil.which("bash") is None:
        pytest.skip("needs curl and bash")
    section = open(os.path.join(ROOT, "docs", "rehearsal.md"), encoding="utf-8").read()
    lines = [line.strip() for line in section.splitlines() if line.startswith(("    curl ", "    JSON="))]
    prelude, commands = lines[0], lines[1:]
    assert prelude.startswith("JSON=") and len(commands) >= 10
    ask(plane, "POST", "/secrets", {"name": "my-ram-secret"})
    port = plane.endpoint("control").rsplit(":", 1)[1]
    for command in commands:
        command = command.split(" # ", 1)[0].replace(":8700", ":" + port)
        done = subprocess.run(
            ["bash", "-c", f"{prelude}\n{command} -w '\\n%{{http_code}}'"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        body, _, status = done.stdout.rpartition("\n")
        assert done.returncode == 0 and status.startswith("2"), (command, done.stdout, done.stderr)
        json.loads(body)


def test_the_files_it_writes_with_a_secret_are_owner_only(plane: CloudEmulator, tmp_path) -> None:
    """--write-properties and --write-dkms-properties (cloud.write_properties / write_dkms_properties) and the
    client key files they issue: 0600 from creation, also over a file that was there with 0644."""
    existing = tmp_path / "existing.properties"
    existing.write_text("old\n")
    os.chmod(existing, 0o644)
    written = [
        plane.write_properties(str(tmp_path / "m.properties"), ["app"]),
        plane.write_properties(str(existing)),
        plane.write_dkms_properties(str(tmp_path / "dkms.properties")),
        plane.dkms.client_key.key_file,
        plane.dkms.client_key.password_file,
        plane.write_client_key_properties(str(tmp_path / "client-key.properties")),
    ]
    for path in written:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert plane.kms_access_key[1] in existing.read_text()
