"""The local cloud emulator, driven over real HTTP by the real SDKs (aliyunsdkcore, oss2, tea-openapi)."""

import json
import socket
import threading
import time
import types
import urllib.parse

import oss2
import pytest
import requests
from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
from aliyunsdkcore.auth.composer import rpc_signature_composer
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest, RpcRequest

from tests.cloud import CloudEmulator, Response
from tests.cloud.crc64 import crc64
from tests.helpers import wait_until

TIMEOUT = 5


# ---- helpers -------------------------------------------------------------------------------------------------------


def acs(key, token=None):
    if token:
        return AcsClient(
            region_id="cn-hangzhou",
            credential=StsTokenCredential(key[0], key[1], token),
            timeout=TIMEOUT,
            connect_timeout=TIMEOUT,
        )
    return AcsClient(key[0], key[1], "cn-hangzhou", timeout=TIMEOUT, connect_timeout=TIMEOUT)


def get_secret_request(cloud, name, method="POST", extended=True, stage=None):
    request = CommonRequest(domain=cloud.kms_host, version="2016-01-20", action_name="GetSecretValue")
    request.set_protocol_type("http")
    request.set_method(method)
    request.add_query_param("SecretName", name)
    if extended:
        request.add_query_param("FetchExtendedConfig", "true")
    if stage:
        request.add_query_param("VersionStage", stage)
    return request


def get_secret(cloud, name, key=None, **kwargs):
    return json.loads(
        acs(key or cloud.kms_access_key).do_action_with_exception(get_secret_request(cloud, name, **kwargs))
    )


def describe_regions(cloud, key, token=None):
    request = CommonRequest(domain=cloud.ecs_host, version="2014-05-26", action_name="DescribeRegions")
    request.set_protocol_type("http")
    return json.loads(acs(key, token).do_action_with_exception(request))


def server_error(fn, *args, **kwargs) -> ServerException:
    with pytest.raises(ServerException) as info:
        fn(*args, **kwargs)
    return info.value


def rpc_error_code(cloud, key, token=None):
    return server_error(describe_regions, cloud, key, token).get_error_code()


def bucket(cloud, key, name="bucket", v4=False, token=None, **kwargs):
    if token:
        auth = oss2.StsAuth(key[0], key[1], token, auth_version=oss2.AUTH_VERSION_4 if v4 else oss2.AUTH_VERSION_1)
    else:
        auth = oss2.AuthV4(*key) if v4 else oss2.Auth(*key)
    region = {"region": "cn-hangzhou"} if v4 else {}
    return oss2.Bucket(auth, cloud.oss_endpoint, name, connect_timeout=TIMEOUT, **region, **kwargs)


def oss_error(fn, *args, **kwargs) -> oss2.exceptions.ServerError:
    with pytest.raises(oss2.exceptions.ServerError) as info:
        fn(*args, **kwargs)
    return info.value


def tea_call(cloud, key, algorithm=None, token=None, in_body=False, method="POST"):
    from alibabacloud_tea_openapi.client import Client
    from alibabacloud_tea_openapi.models import Config, OpenApiRequest, Params
    from darabonba.runtime import RuntimeOptions

    config = Config(
        access_key_id=key[0],
        access_key_secret=key[1],
        security_token=token,
        endpoint=cloud.kms_host,
        protocol="http",
        read_timeout=TIMEOUT * 1000,
        connect_timeout=TIMEOUT * 1000,
    )
    if algorithm:
        config.signature_algorithm = algorithm
    params = Params(
        action="GetSecretValue",
        version="2016-01-20",
        protocol="HTTP",
        pathname="/",
        method=method,
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    query = {"SecretName": "s1", "FetchExtendedConfig": "true"}
    request = OpenApiRequest(body=query) if in_body else OpenApiRequest(query=query)
    return Client(config).call_api(params, request, RuntimeOptions(autoretry=False))["body"]


def signed_oss_put_head(cloud, key, bucket_name, object_key, length) -> bytes:
    """The head of a PUT that oss2 itself signed (V1), for raw-socket tests."""
    url = "%s/%s/%s" % (cloud.oss_endpoint, bucket_name, object_key)
    req = oss2.http.Request("PUT", url, headers={"Content-Type": "text/plain", "Content-Length": str(length)})
    oss2.Auth(*key)._sign_request(req, bucket_name, object_key)
    lines = ["PUT /%s/%s HTTP/1.1" % (bucket_name, object_key), "Host: %s" % cloud.oss_host]
    lines += ["%s: %s" % (k, v) for k, v in req.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_until_closed(sock) -> bytes:
    """Everything the server sends until it closes the connection (bounded by the socket timeout)."""
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


# ---- KMS -----------------------------------------------------------------------------------------------------------


def test_kms_get_secret_value_shape(cloud_emulator):
    cloud = cloud_emulator
    key_id, key_secret = cloud.create_secret("s1")
    for method in ("GET", "POST"):
        value = get_secret(cloud, "s1", method=method)
        data = json.loads(value["SecretData"])
        assert (data["AccessKeyId"], data["AccessKeySecret"]) == (key_id, key_secret)
        assert time.strptime(data["GenerateTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
        assert value["SecretName"] == "s1" and value["SecretType"] == "RAMCredentials"
        assert value["SecretDataType"] == "text" and value["VersionStages"] == {"VersionStage": ["ACSCurrent"]}
        assert value["RotationInterval"] == "604800s" and value["AutomaticRotation"] == "Enabled"
        assert json.loads(value["ExtendedConfig"])["SecretSubType"] == "RamUserAccessKey"
        next_rotation = time.mktime(time.strptime(value["NextRotationDate"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        assert abs(next_rotation - (time.time() + 604800)) < 60
        assert value["RequestId"] and value["VersionId"] and value["CreateTime"]

    form = get_secret_request(cloud, "s1", method="POST", extended=False)
    form.add_body_params("VersionStage", "ACSCurrent")  # form-body parameters are signed and read too
    assert json.loads(acs(cloud.kms_access_key).do_action_with_exception(form))["SecretName"] == "s1"

    plain = get_secret(cloud, "s1", extended=False)
    assert "RotationInterval" not in plain and "ExtendedConfig" not in plain

    cloud.create_secret("static", rotation_interval=None)
    static = get_secret(cloud, "static")
    assert "RotationInterval" not in static and "NextRotationDate" not in static

    err = server_error(get_secret, cloud, "no-such-secret")
    assert (err.get_error_code(), err.get_http_status()) == ("Forbidden.ResourceNotFound", 404)
    assert cloud.count("GetSecretValue") == 6
    assert cloud.count("GetSecretValue", code="OK") == 5
    assert cloud.count("GetSecretValue", access_key_id=cloud.kms_access_key[0], code="Forbidden.ResourceNotFound") == 1


def test_kms_wrong_secret_is_signature_does_not_match(cloud_emulator):
    cloud = cloud_emulator
    cloud.create_secret("s1")
    wrong = (cloud.kms_access_key[0], "not-the-secret")
    err = server_error(get_secret, cloud, "s1", key=wrong)
    assert (err.get_error_code(), err.get_http_status()) == ("SignatureDoesNotMatch", 400)
    assert "server string to sign is:POST&%2F&" in err.get_error_msg()

    # A typed RpcRequest keeps its string-to-sign; aliyunsdkcore compares it with the server's and, equal, reports
    # InvalidAccessKeySecret. (With CommonRequest the comparison never matches: see the report.)
    typed = RpcRequest("Kms", "2016-01-20", "GetSecretValue")
    typed.set_endpoint(cloud.kms_host)
    typed.set_protocol_type("http")
    typed.add_query_param("SecretName", "s1")
    err = server_error(acs(wrong).do_action_with_exception, typed)
    assert err.get_error_code() == "InvalidAccessKeySecret"
    assert cloud.count("GetSecretValue", code="SignatureDoesNotMatch") == 2


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_kms_tea_openapi(cloud_emulator, algorithm):
    from alibabacloud_tea_openapi.exceptions import ClientException as TeaClientException

    cloud = cloud_emulator
    key_id, _ = cloud.create_secret("s1")
    for in_body, method in ((False, "POST"), (True, "POST"), (False, "GET")):
        value = tea_call(cloud, cloud.kms_access_key, algorithm, in_body=in_body, method=method)
        assert json.loads(value["SecretData"])["AccessKeyId"] == key_id
        assert value["RotationInterval"] == "604800s"
    with pytest.raises(TeaClientException) as info:
        tea_call(cloud, (cloud.kms_access_key[0], "wrong"), algorithm)
    assert (info.value.code, info.value.status_code) == ("SignatureDoesNotMatch", 400)
    assert cloud.count("GetSecretValue", code="OK") == 3


def test_kms_permissions(cloud_emulator):
    cloud = cloud_emulator
    managed = cloud.create_secret("s1")
    err = server_error(get_secret, cloud, "s1", key=managed)  # a managed key may not read KMS
    assert (err.get_error_code(), err.get_http_status()) == ("Forbidden.NoPermission", 403)

    cloud.deny_kms(cloud.kms_access_key[0])
    assert server_error(get_secret, cloud, "s1").get_error_code() == "Forbidden.NoPermission"
    cloud.allow_kms(cloud.kms_access_key[0])
    assert get_secret(cloud, "s1")["SecretName"] == "s1"

    err = server_error(get_secret, cloud, "s1", key=("LTAI5tUnknownUnknown1234", "x"))
    assert (err.get_error_code(), err.get_http_status()) == ("InvalidAccessKeyId.NotFound", 404)


def test_tampered_parameters_fail(cloud_emulator):
    cloud = cloud_emulator
    cloud.create_secret("s1")
    cloud.create_secret("other")
    ak, secret = cloud.kms_access_key
    params = {"Action": "GetSecretValue", "Version": "2016-01-20", "SecretName": "s1", "RegionId": "cn-hangzhou"}
    path, _ = rpc_signature_composer.get_signed_url(dict(params), ak, secret, "JSON", "GET", {})
    url = cloud.kms_endpoint + path
    assert requests.get(url, timeout=TIMEOUT).json()["SecretName"] == "s1"

    tampered = url.replace("SecretName=s1", "SecretName=other")
    assert tampered != url
    answer = requests.get(tampered, timeout=TIMEOUT)
    assert (answer.status_code, answer.json()["Code"]) == (400, "SignatureDoesNotMatch")
    assert set(answer.json()) == {"RequestId", "HostId", "Code", "Message", "Recommend"}

    # a signed query moved into a POST form body is signed for GET, so it fails too
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    answer = requests.post(cloud.kms_endpoint + "/", data=query, timeout=TIMEOUT)
    assert answer.json()["Code"] == "SignatureDoesNotMatch"

    # ACS3: sign with tea-openapi's own signer, then change the query
    from alibabacloud_tea_openapi.utils import Utils

    headers = {
        "host": cloud.kms_host,
        "x-acs-action": "GetSecretValue",
        "x-acs-version": "2016-01-20",
        "x-acs-date": Utils.get_timestamp(),
        "x-acs-signature-nonce": Utils.get_nonce(),
        "x-acs-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    }
    request = types.SimpleNamespace(pathname="/", method="GET", query={"SecretName": "s1"}, headers=headers)
    headers["Authorization"] = Utils.get_authorization(
        request, "ACS3-HMAC-SHA256", headers["x-acs-content-sha256"], ak, secret
    )
    good = requests.get(cloud.kms_endpoint + "/?SecretName=s1", headers=headers, timeout=TIMEOUT)
    assert good.json()["SecretName"] == "s1"
    bad = requests.get(cloud.kms_endpoint + "/?SecretName=other", headers=headers, timeout=TIMEOUT)
    assert bad.json()["Code"] == "SignatureDoesNotMatch"
    body = requests.get(cloud.kms_endpoint + "/?SecretName=s1", headers=headers, data=b"x", timeout=TIMEOUT)
    assert body.json()["Code"] == "SignatureDoesNotMatch"  # the payload hash is checked against the real body


def test_kms_versions_rotation_and_malformed_data(cloud_emulator):
    cloud = cloud_emulator
    first = cloud.create_secret("s1")
    second = cloud.rotate_secret("s1")
    assert second != first and cloud.current_key("s1") == second
    current = get_secret(cloud, "s1")
    previous = get_secret(cloud, "s1", stage="ACSPrevious")
    assert json.loads(current["SecretData"])["AccessKeyId"] == second[0]
    assert json.loads(previous["SecretData"])["AccessKeyId"] == first[0]
    assert previous["VersionStages"] == {"VersionStage": ["ACSPrevious"]}
    assert current["LastRotationDate"]

    cloud.set_secret_data("s1", "{not json")
    assert get_secret(cloud, "s1")["SecretData"] == "{not json"
    assert rpc_error_code(cloud, first) == "InvalidAccessKeyId.NotFound"
    assert describe_regions(cloud, second)["Regions"]["Region"]  # the key itself still works
    third = cloud.rotate_secret("s1")
    assert json.loads(get_secret(cloud, "s1")["SecretData"])["AccessKeyId"] == third[0]


# ---- faults and availability ---------------------------------------------------------------------------------------


def test_kms_fault_then_clear(cloud_emulator):
    cloud = cloud_emulator
    cloud.create_secret("s1")
    cloud.kms_fault(status=503, code="ServiceUnavailable")
    for _ in range(3):
        err = server_error(get_secret, cloud, "s1")
        assert (err.get_error_code(), err.get_http_status()) == ("ServiceUnavailable", 503)
    assert describe_regions(cloud, cloud.current_key("s1"))  # faults are for KMS only
    cloud.clear_faults()
    assert get_secret(cloud, "s1")["SecretName"] == "s1"

    cloud.kms_fault(status=500, code="InternalFailure", times=2)
    codes = []
    for _ in range(3):
        try:
            get_secret(cloud, "s1")
            codes.append("OK")
        except ServerException as exc:
            codes.append(exc.get_error_code())
    assert codes == ["InternalFailure", "InternalFailure", "OK"]
    assert cloud.count("GetSecretValue", code="ServiceUnavailable") == 3
    assert cloud.count("GetSecretValue", code="OK") == 2


def test_kms_fault_delay(cloud_emulator):
    cloud = cloud_emulator
    cloud.create_secret("s1")
    cloud.kms_fault(delay=0.3, times=1)
    started = time.monotonic()
    assert get_secret(cloud, "s1")["SecretName"] == "s1"
    assert time.monotonic() - started >= 0.3  # a lower bound: load only makes it longer
    assert cloud.state.pending_fault("kms") is None  # times=1: the next request is not delayed (not timed: a
    get_secret(cloud, "s1")  # loaded machine may take 0.3 s for any request)
    assert cloud.count("GetSecretValue", code="OK") == 2


class _TestClock:
    """A clock the test moves by hand (the emulator's throttling window is measured on it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_kms_throttle_answers_429_rejected_throttling_for_a_window_of_time_then_admits(cloud_emulator):
    """The plain SDK sees what KMS documents for its quota: HTTP 429, Rejected.Throttling, "QPS Limit Exceeded"."""
    cloud = cloud_emulator
    cloud.create_secret("s1")
    clock = _TestClock()
    cloud.kms_throttle(seconds=1.5, clock=clock)
    for _ in range(3):
        err = server_error(get_secret, cloud, "s1")
        assert (err.get_http_status(), err.get_error_code()) == (429, "Rejected.Throttling")
        assert "QPS Limit Exceeded" in err.get_error_msg()
    clock.now += 1.4
    assert server_error(get_secret, cloud, "s1").get_error_code() == "Rejected.Throttling"
    clock.now += 0.1  # the window has passed
    assert get_secret(cloud, "s1")["SecretName"] == "s1"
    assert cloud.state.pending_fault("kms") is None
    assert describe_regions(cloud, cloud.current_key("s1"))  # KMS only
    assert cloud.count("GetSecretValue", code="Rejected.Throttling") == 4


def test_kms_throttle_for_a_count_of_requests_with_a_retry_after(cloud_emulator):
    cloud = cloud_emulator
    cloud.create_secret("s1")
    cloud.kms_throttle(times=2, retry_after="3")
    codes = []
    for _ in range(3):
        try:
            codes.append(get_secret(cloud, "s1")["SecretName"])
        except ServerException as exc:
            codes.append(exc.get_error_code())
    assert codes == ["Rejected.Throttling", "Rejected.Throttling", "s1"]
    cloud.kms_throttle(times=1, retry_after="3")
    # The SDK's exception does not carry headers: the answer itself, as any HTTP client sees it.
    answer = requests.post("http://%s/" % cloud.kms_host, data={"Action": "GetSecretValue"}, timeout=10)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "3"
    assert answer.json()["Code"] == "Rejected.Throttling"


def test_kms_hold_keeps_requests_unanswered_until_the_test_releases_them(cloud_emulator):
    """The plain SDK's GetSecretValue waits at the gate (counted as held, not answered) until it is set."""
    cloud = cloud_emulator
    cloud.create_secret("s1")
    gate = cloud.kms_hold(times=1)
    answers = []
    caller = threading.Thread(target=lambda: answers.append(get_secret(cloud, "s1")["SecretName"]), daemon=True)
    caller.start()
    try:
        assert wait_until(lambda: cloud.kms_held() == 1)
        assert answers == [] and cloud.count("GetSecretValue") == 0
    finally:
        gate.set()
        caller.join(TIMEOUT)
    assert answers == ["s1"] and cloud.kms_held() == 0
    assert cloud.state.pending_fault("kms") is None  # times=1: the next request is not held
    assert get_secret(cloud, "s1")["SecretName"] == "s1"
    assert cloud.count("GetSecretValue", code="OK") == 2


def test_kms_down_and_up_on_the_same_port(cloud_emulator):
    cloud = cloud_emulator
    cloud.create_secret("s1")
    port = cloud.kms_host
    session = requests.Session()
    assert session.get(cloud.kms_endpoint + "/", timeout=TIMEOUT).status_code == 400  # a pooled keep-alive conn

    cloud.kms_down()
    with pytest.raises(requests.ConnectionError):
        session.get(cloud.kms_endpoint + "/", timeout=TIMEOUT)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(port.split(":")[1])), timeout=TIMEOUT).close()
    with pytest.raises(ClientException) as info:
        get_secret(cloud, "s1")
    assert info.value.get_error_code() == "SDK.HttpError"
    assert describe_regions(cloud, cloud.current_key("s1"))  # the other services stay up

    cloud.kms_up()
    assert cloud.kms_host == port
    assert get_secret(cloud, "s1")["SecretName"] == "s1"


# ---- RPC keys ------------------------------------------------------------------------------------------------------


def test_rpc_key_errors(cloud_emulator):
    cloud = cloud_emulator
    key = cloud.create_secret("s1")
    assert "cn-hangzhou" in [r["RegionId"] for r in describe_regions(cloud, key)["Regions"]["Region"]]
    assert describe_regions(cloud, cloud.kms_access_key)  # any live key may call ECS

    request = CommonRequest(domain=cloud.ecs_host, version="2014-05-26", action_name="DescribeInstances")
    request.set_protocol_type("http")
    request.add_query_param("PageSize", "1000")
    err = server_error(acs(key).do_action_with_exception, request)
    assert (err.get_error_code(), err.get_http_status()) == ("InvalidParameter", 400)

    assert rpc_error_code(cloud, (key[0], "wrong")) == "SignatureDoesNotMatch"
    cloud.disable_key(key[0])
    err = server_error(describe_regions, cloud, key)
    assert (err.get_error_code(), err.get_http_status()) == ("InvalidAccessKeyId.Inactive", 400)
    cloud.revoke_key(key[0])
    err = server_error(describe_regions, cloud, key)
    assert (err.get_error_code(), err.get_http_status()) == ("InvalidAccessKeyId.NotFound", 404)
    assert cloud.count("DescribeRegions", access_key_id=key[0]) == 4
    assert cloud.count("DescribeRegions", code="SignatureDoesNotMatch") == 1


def test_rotation_revoke_versus_grace(cloud_emulator):
    cloud = cloud_emulator
    first = cloud.create_secret("s1")
    second = cloud.rotate_secret("s1", mode="revoke")
    assert rpc_error_code(cloud, first) == "InvalidAccessKeyId.NotFound"
    assert oss_error(bucket(cloud, first).put_object, "k", b"x").code == "InvalidAccessKeyId"
    assert describe_regions(cloud, second)

    third = cloud.rotate_secret("s1", mode="grace")
    assert describe_regions(cloud, second) and describe_regions(cloud, third)
    assert bucket(cloud, second).put_object("k", b"x").status == 200
    cloud.revoke_key(second[0])
    assert rpc_error_code(cloud, second) == "InvalidAccessKeyId.NotFound"
    assert oss_error(bucket(cloud, second).get_object, "k").code == "InvalidAccessKeyId"
    assert bucket(cloud, third).get_object("k").read() == b"x"


def test_sts_style_keys(cloud_emulator):
    cloud = cloud_emulator
    cloud.create_secret("s1")
    key = cloud.add_access_key(security_token="token-1")
    other = cloud.add_access_key(security_token="token-2")
    assert describe_regions(cloud, key, token="token-1")
    assert rpc_error_code(cloud, key) == "InvalidSecurityToken.MismatchWithAccessKey"
    assert rpc_error_code(cloud, key, token="token-2") == "InvalidSecurityToken.MismatchWithAccessKey"
    assert rpc_error_code(cloud, key, token="made-up") == "InvalidSecurityToken.Malformed"
    assert tea_call(cloud, key, token="token-1") and tea_call(cloud, key, "v2", token="token-1")  # KMS via STS

    assert bucket(cloud, key, token="token-1").put_object("k", b"sts").status == 200
    assert bucket(cloud, key, v4=True, token="token-1").get_object("k").read() == b"sts"
    assert oss_error(bucket(cloud, key).get_object, "k").code == "InvalidAccessKeyId"
    assert oss_error(bucket(cloud, key, token="token-2").get_object, "k").code == "InvalidSecurityToken"

    expired = cloud.add_access_key(security_token=True, expires_at=time.time() - 1)
    token = cloud.security_token_of(expired[0])
    assert rpc_error_code(cloud, expired, token=token) == "InvalidSecurityToken.Expired"
    err = oss_error(bucket(cloud, expired, token=token).get_object, "k")
    assert (err.status, err.code) == (403, "SecurityTokenExpired")
    assert other


# ---- OSS -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("v4", [False, True])
def test_oss_objects(cloud_emulator, v4):
    cloud = cloud_emulator
    key = cloud.create_secret("s1")
    b = bucket(cloud, key, v4=v4)
    odd_key = "dir/a b+c~%&?.txt"
    result = b.put_object(odd_key, b"hello", headers={"x-oss-meta-owner": "me"})
    assert result.status == 200 and result.crc == crc64(b"hello")
    assert cloud.oss_object("bucket", odd_key) == b"hello"
    got = b.get_object(odd_key)  # oss2 checks the CRC64 (enable_crc=True)
    assert got.read() == b"hello" and got.headers["x-oss-meta-owner"] == "me"
    assert b.get_object(odd_key, byte_range=(1, 3)).read() == b"ell"
    assert b.head_object(odd_key).content_length == 5
    b.put_object("dir/sub/x", b"1")
    b.put_object("top", b"2")
    listed = b.list_objects(prefix="dir/", delimiter="/")
    assert [o.key for o in listed.object_list] == [odd_key] and listed.prefix_list == ["dir/sub/"]
    everything = sorted([odd_key, "dir/sub/x", "top"])
    assert [o.key for o in oss2.ObjectIterator(b, max_keys=1)] == everything
    assert [o.key for o in oss2.ObjectIteratorV2(b, max_keys=1)] == everything
    v2 = b.list_objects_v2(delimiter="/")
    assert [o.key for o in v2.object_list] == ["top"] and v2.prefix_list == ["dir/"]
    service = oss2.Service(
        oss2.AuthV4(*key) if v4 else oss2.Auth(*key),
        cloud.oss_endpoint,
        region="cn-hangzhou" if v4 else None,
        connect_timeout=TIMEOUT,
    )
    assert [x.name for x in service.list_buckets().buckets] == ["bucket"]

    b.delete_object(odd_key)
    assert cloud.oss_object("bucket", odd_key) is None
    err = oss_error(b.get_object, odd_key)
    assert (err.status, err.code, err.details["Key"]) == (404, "NoSuchKey", odd_key)
    assert oss_error(b.head_object, odd_key).code == "NoSuchKey"  # from x-oss-err, HEAD has no body
    assert oss_error(bucket(cloud, key, name="never-made", v4=v4).get_object, "k").code == "NoSuchBucket"
    err = oss_error(bucket(cloud, (key[0], "wrong"), v4=v4).get_object, "top")
    assert (err.status, err.code) == (403, "SignatureDoesNotMatch") and err.request_id
    for action in ("PutObject", "GetObject", "HeadObject", "DeleteObject", "ListObjects", "ListBuckets"):
        assert cloud.count(action, access_key_id=key[0]) >= 1


def test_oss_revoked_and_disabled_keys(cloud_emulator):
    cloud = cloud_emulator
    key = cloud.create_secret("s1")
    session = oss2.Session()
    cloud.disable_key(key[0])
    err = oss_error(bucket(cloud, key, session=session).put_object, "k", b"x" * 200000)
    assert (err.status, err.code, err.details["OSSAccessKeyId"]) == (403, "InvalidAccessKeyId", key[0])
    cloud.revoke_key(key[0])
    assert oss_error(bucket(cloud, key, v4=True).get_object, "k").code == "InvalidAccessKeyId"
    # the refused upload's body was drained: the same pooled connection serves the next request
    fresh = cloud.create_secret("s2")
    assert bucket(cloud, fresh, session=session).put_object("k", b"y").status == 200
    assert cloud.oss_object("bucket", "k") == b"y"
    assert cloud.count("PutObject", code="InvalidAccessKeyId") == 1


def test_oss_chunked_generator_upload_is_stored_whole(cloud_emulator):
    cloud = cloud_emulator
    b = bucket(cloud, cloud.create_secret("s1"))
    parts = [bytes([i]) * 10000 for i in range(20)]
    result = b.put_object("gen", (p for p in parts))  # a generator: oss2 sends Transfer-Encoding: chunked
    assert result.status == 200
    assert cloud.oss_object("bucket", "gen") == b"".join(parts)
    assert result.crc == crc64(b"".join(parts))


def test_oss_short_body_stores_nothing(cloud_emulator):
    cloud = cloud_emulator
    key = cloud.create_secret("s1")
    host, port = cloud.oss_host.split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(signed_oss_put_head(cloud, key, "bucket", "cut", 100) + b"x" * 50)
        sock.shutdown(socket.SHUT_WR)  # hang up after half the body
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400") and b"IncompleteBody" in answer
    assert cloud.oss_object("bucket", "cut") is None
    assert cloud.count("PutObject", code="IncompleteBody") == 1

    # the same request, whole, is stored
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(signed_oss_put_head(cloud, key, "bucket", "cut", 100) + b"x" * 100)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    assert cloud.oss_object("bucket", "cut") == b"x" * 100


def test_expect_100_continue(cloud_emulator):
    cloud = cloud_emulator
    key = cloud.create_secret("s1")
    host, port = cloud.oss_host.split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        head = signed_oss_put_head(cloud, key, "bucket", "k", 5)
        sock.sendall(head[:-2] + b"Expect: 100-continue\r\n\r\n")
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    assert cloud.oss_object("bucket", "k") == b"hello"
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:  # refused: no 100, error, close
        head = signed_oss_put_head(cloud, (key[0], "wrong"), "bucket", "k2", 5)
        sock.sendall(head[:-2] + b"Expect: 100-continue\r\n\r\n")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 403") and b"Connection: close" in answer
    assert cloud.oss_object("bucket", "k2") is None


def test_refused_upload_is_answered_without_waiting_for_the_body():
    """The body never comes and the emulator's body timeout is an hour: an answer within the socket's 5 s
    deadline can only be one that did not wait for the body (not a timed assertion: 5 s against an hour)."""
    with CloudEmulator(body_timeout=3600.0) as cloud:
        key = cloud.create_secret("s1")
        cloud.revoke_key(key[0])
        host, port = cloud.oss_host.split(":")
        with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
            sock.sendall(signed_oss_put_head(cloud, key, "bucket", "k", 1000) + b"x" * 10)  # and then nothing
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 403") and b"x-oss-request-id" in answer
        assert cloud.count("PutObject", code="InvalidAccessKeyId") == 1


def test_oss_stalled_body_times_out():
    with CloudEmulator(body_timeout=0.3) as cloud:
        key = cloud.create_secret("s1")
        host, port = cloud.oss_host.split(":")
        with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
            sock.sendall(signed_oss_put_head(cloud, key, "bucket", "stall", 100) + b"x" * 10)
            started = time.monotonic()
            answer = read_until_closed(sock)  # the client never sends the rest
            assert 0.25 < time.monotonic() - started < TIMEOUT
        assert answer.startswith(b"HTTP/1.1 400") and b"RequestTimeout" in answer
        assert cloud.oss_object("bucket", "stall") is None


# ---- facade --------------------------------------------------------------------------------------------------------


def test_call_log_and_reset(cloud_emulator):
    cloud = cloud_emulator
    key = cloud.create_secret("s1")
    get_secret(cloud, "s1")
    describe_regions(cloud, key)
    bucket(cloud, key).put_object("k", b"v")
    records = cloud.calls
    assert [(r.service, r.action, r.access_key_id, r.status, r.code) for r in records] == [
        ("kms", "GetSecretValue", cloud.kms_access_key[0], 200, "OK"),
        ("ecs", "DescribeRegions", key[0], 200, "OK"),
        ("oss", "PutObject", key[0], 200, "OK"),
    ]
    assert records[0]["action"] == "GetSecretValue" and records[0].time <= time.time()
    records.clear()
    assert len(cloud.calls) == 3  # a copy
    cloud.reset_counts()
    assert cloud.calls == [] and cloud.count() == 0


def test_write_properties_and_lifecycle(tmp_path):
    cloud = CloudEmulator()
    with pytest.raises(RuntimeError):
        _ = cloud.kms_endpoint  # not started
    with cloud:
        path = cloud.write_properties(str(tmp_path / "p.properties"), secret_names=["a", "b"])
        text = open(path).read().splitlines()
        assert "credentials_type=ak" in text and "secret_names=a,b" in text
        assert "credentials_access_key_id=%s" % cloud.kms_access_key[0] in text
        assert "credentials_access_secret=%s" % cloud.kms_access_key[1] in text
        assert 'cache_client_region_id=[{"regionId":"cn-hangzhou","endpoint":"%s"}]' % cloud.kms_endpoint in text
        ports = {cloud.kms_host, cloud.ecs_host, cloud.oss_host}
        assert len(ports) == 3 and cloud.kms_endpoint == "http://" + cloud.kms_host
    cloud.stop()  # idempotent
    for hostport in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", int(hostport.split(":")[1])), timeout=TIMEOUT).close()


def test_stop_cuts_delayed_requests_and_open_connections():
    cloud = CloudEmulator().start()
    try:
        cloud.create_secret("s1")
        cloud.kms_fault(delay=3600, times=1)
        outcome = []

        def fetch():
            try:
                get_secret(cloud, "s1")
                outcome.append("answered")
            except ClientException as exc:
                outcome.append(exc.get_error_code())

        worker = threading.Thread(target=fetch, daemon=True)
        worker.start()
        idle = requests.Session()
        idle.get(cloud.ecs_endpoint + "/", timeout=TIMEOUT)  # leaves an idle keep-alive connection
        assert wait_until(lambda: cloud.state.pending_fault("kms") is None), "the request never reached KMS"
    finally:
        stopper = threading.Thread(target=cloud.stop, daemon=True)  # must not wait out the hour's delay
        stopper.start()
        stopper.join(TIMEOUT * 2)
    assert not stopper.is_alive(), "stop() waited for the delayed request"
    worker.join(TIMEOUT)
    assert outcome == ["SDK.HttpError"]  # the delayed request was cut, not answered


def test_add_service_hook(cloud_emulator):
    class Hello:
        name = "hello"

        def handle(self, request):
            body = request.read_body()
            return Response(200, b"hello " + body, [("Content-Type", "text/plain")])

    listener = cloud_emulator.add_service("hello", Hello())
    assert listener.running
    answer = requests.post(cloud_emulator.endpoint("hello") + "/x", data=b"you", timeout=TIMEOUT)
    assert answer.text == "hello you"


def test_crc64_matches_the_published_check_value():
    assert crc64(b"123456789") == 0x995DC9BBDF1939FA
    assert crc64(b"6789", crc64(b"12345")) == crc64(b"123456789")
