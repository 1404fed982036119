"""The emulator's HTTP control plane (tests/cloud/control.py), served in this process, driven over real HTTP.

The standalone process (python -m tests.cloud) is tested in test_standalone_emulator.py; here every route is
checked quickly, with the plain aliyunsdkcore AcsClient as the application whose calls the changes affect.
"""

import json
import urllib.error
import urllib.request
from typing import Callable, Iterator, Tuple

import pytest
from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest

from tests.cloud import CloudEmulator, control
from tests.helpers import control_request as ask
from tests.helpers import wait_until

TIMEOUT = 5


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
    request = urllib.request.Request(plane.endpoint("control") + "/secrets", data=b"{not json", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=TIMEOUT)
    assert info.value.code == 400 and "not JSON" in json.loads(info.value.read())["error"]
