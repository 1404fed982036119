"""The emulator's ROA API (CS clusters, tests/cloud/cs.py) against the PLAIN aliyunsdkcore AcsClient.

These prove the emulator follows aliyunsdkcore's own ROA signer (the `Authorization: acs id:signature` header),
not our proxies: RoaRequest, CommonRequest with a uri_pattern, STS keys with x-acs-security-token, and the
errors a wrong secret, a revoked, disabled or unknown key get.
"""

import json
import time
from typing import Dict, Optional, Tuple

import pytest
import requests
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import AcsRequest, CommonRequest, RoaRequest

from tests.cloud import CloudEmulator
from tests.cloud.roa import roa_signature, roa_string_to_sign

TIMEOUT = 5
VERSION = "2015-12-15"


def acs(key: Tuple[str, str], token: Optional[str] = None) -> AcsClient:
    if token:
        return AcsClient(
            region_id="cn-hangzhou",
            credential=StsTokenCredential(key[0], key[1], token),
            timeout=TIMEOUT,
            connect_timeout=TIMEOUT,
        )
    return AcsClient(key[0], key[1], "cn-hangzhou", timeout=TIMEOUT, connect_timeout=TIMEOUT)


def roa(
    cloud: CloudEmulator,
    method: str,
    uri_pattern: str,
    action: str,
    body: Optional[dict] = None,
    path_params: Optional[Dict[str, str]] = None,
) -> RoaRequest:
    """A RoaRequest as a generated product class builds it (method, uri_pattern, path params, JSON body)."""
    request = RoaRequest("CS", VERSION, action, method=method, uri_pattern=uri_pattern)
    request.set_endpoint(cloud.cs_host)
    request.set_protocol_type("http")
    for name, value in (path_params or {}).items():
        request.add_path_param(name, value)
    if body is not None:
        request.add_header("Content-Type", "application/json")
        request.set_content(json.dumps(body).encode("utf-8"))
    return request


def common(cloud: CloudEmulator, uri_pattern: str = "/clusters", method: str = "GET") -> CommonRequest:
    request = CommonRequest(domain=cloud.cs_host, version=VERSION, uri_pattern=uri_pattern)
    request.set_method(method)
    request.set_protocol_type("http")
    return request


def describe_clusters(cloud: CloudEmulator) -> RoaRequest:
    return roa(cloud, "GET", "/clusters", "DescribeClusters")


def error_of(client: AcsClient, request: AcsRequest) -> ServerException:
    with pytest.raises(ServerException) as info:
        client.do_action_with_exception(request)
    return info.value


def test_roa_request_create_list_detail_delete(cloud: CloudEmulator) -> None:
    client = acs(cloud.add_access_key())
    created = json.loads(
        client.do_action_with_exception(
            roa(cloud, "POST", "/clusters", "CreateCluster", body={"name": "web", "cluster_type": "Kubernetes"})
        )
    )
    cluster_id = created["cluster_id"]
    assert created["request_id"] and created["task_id"]

    listed = json.loads(client.do_action_with_exception(describe_clusters(cloud)))
    assert [(c["cluster_id"], c["name"], c["cluster_type"]) for c in listed] == [(cluster_id, "web", "Kubernetes")]
    detail = json.loads(
        client.do_action_with_exception(
            roa(cloud, "GET", "/clusters/[ClusterId]", "DescribeClusterDetail", path_params={"ClusterId": cluster_id})
        )
    )
    assert detail["name"] == "web" and detail["region_id"] == "cn-hangzhou"

    status, _, _ = client.get_response(
        roa(cloud, "DELETE", "/clusters/[ClusterId]", "DeleteCluster", path_params={"ClusterId": cluster_id})
    )
    assert status == 202 and cloud.cs.cluster_count == 0
    err = error_of(
        client,
        roa(cloud, "GET", "/clusters/[ClusterId]", "DescribeClusterDetail", path_params={"ClusterId": cluster_id}),
    )
    assert (err.get_error_code(), err.get_http_status()) == ("ErrorClusterNotFound", 404)
    assert [c.action for c in cloud.calls] == [
        "CreateCluster",
        "DescribeClusters",
        "DescribeClusterDetail",
        "DeleteCluster",
        "DescribeClusterDetail",
    ]
    assert all(c.service == "cs" for c in cloud.calls)


def test_common_request_with_uri_pattern_query_path_params_and_body(cloud: CloudEmulator) -> None:
    client = acs(cloud.add_access_key())
    create = common(cloud, method="POST")
    create.add_header("Content-Type", "application/json")
    create.set_content(json.dumps({"name": "a b&c=d/ü"}).encode("utf-8"))  # Content-MD5 and type are signed
    cluster_id = json.loads(client.do_action_with_exception(create))["cluster_id"]

    listing = common(cloud)
    listing.add_query_param("name", "a b&c=d/ü")  # sent encoded, signed decoded
    assert [c["cluster_id"] for c in json.loads(client.do_action_with_exception(listing))] == [cluster_id]
    other = common(cloud)
    other.add_query_param("name", "nobody")
    assert json.loads(client.do_action_with_exception(other)) == []

    detail = common(cloud, "/clusters/[ClusterId]")
    detail.add_path_param("ClusterId", cluster_id)
    assert json.loads(client.do_action_with_exception(detail))["cluster_id"] == cluster_id
    assert cloud.count(service="cs", code="OK") == 4


def test_sts_key_signs_with_x_acs_security_token(cloud: CloudEmulator) -> None:
    key = cloud.add_access_key(security_token=True, expires_at=time.time() + 3600)
    token = cloud.security_token_of(key[0])
    assert json.loads(acs(key, token).do_action_with_exception(describe_clusters(cloud))) == []
    assert json.loads(acs(key, token).do_action_with_exception(common(cloud))) == []

    err = error_of(acs(key), describe_clusters(cloud))  # the token left out
    assert err.get_error_code() == "InvalidSecurityToken.MismatchWithAccessKey"
    other = cloud.add_access_key(security_token=True)
    err = error_of(acs(key, cloud.security_token_of(other[0])), describe_clusters(cloud))  # another key's token
    assert err.get_error_code() == "InvalidSecurityToken.MismatchWithAccessKey"
    expired = cloud.add_access_key(security_token=True, expires_at=time.time() - 1)
    err = error_of(acs(expired, cloud.security_token_of(expired[0])), describe_clusters(cloud))
    assert (err.get_error_code(), err.get_http_status()) == ("InvalidSecurityToken.Expired", 400)
    assert cloud.count("DescribeClusters", access_key_id=key[0], code="OK") == 2


def test_wrong_secret_is_signature_does_not_match(cloud: CloudEmulator) -> None:
    key_id, _ = cloud.add_access_key()
    for request in (describe_clusters(cloud), common(cloud)):
        err = error_of(acs((key_id, "not-the-secret")), request)
        assert (err.get_error_code(), err.get_http_status()) == ("SignatureDoesNotMatch", 400)
        assert "server string to sign is:GET\napplication/json\n" in err.get_error_msg()
        assert err.get_request_id()


@pytest.mark.parametrize("style", ["roa", "common"])
def test_revoked_disabled_and_unknown_keys_get_the_real_error_shape(cloud: CloudEmulator, style: str) -> None:
    request = describe_clusters if style == "roa" else common
    key_id, _ = cloud.create_secret("app")
    key = cloud.current_key("app")
    assert json.loads(acs(key).do_action_with_exception(request(cloud))) == []

    cloud.rotate_secret("app", mode="revoke")
    err = error_of(acs(key), request(cloud))
    assert (err.get_error_code(), err.get_http_status()) == ("InvalidAccessKeyId.NotFound", 404)
    assert err.get_error_msg() == "Specified access key is not found." and err.get_request_id()

    disabled = cloud.add_access_key()
    cloud.disable_key(disabled[0])
    err = error_of(acs(disabled), request(cloud))
    assert (err.get_error_code(), err.get_http_status()) == ("InvalidAccessKeyId.Inactive", 400)
    err = error_of(acs(("LTAI5tUnknownUnknown1234", "x")), request(cloud))
    assert err.get_error_code() == "InvalidAccessKeyId.NotFound"
    assert cloud.count("DescribeClusters", access_key_id=key_id, code="InvalidAccessKeyId.NotFound") == 1


def test_tampered_requests_and_stale_dates_are_refused(cloud: CloudEmulator) -> None:
    """A request aliyunsdkcore signed, then changed in flight: the emulator notices each change."""
    key = cloud.add_access_key()
    request = common(cloud)
    request.add_query_param("name", "web")
    request.trans_to_acs_request()
    headers = request.get_signed_header("cn-hangzhou", *key)
    url = "http://%s%s" % (cloud.cs_host, request.get_url("cn-hangzhou", *key))
    assert requests.get(url, headers=headers, timeout=TIMEOUT).status_code == 200

    def code(response: requests.Response) -> Tuple[int, str]:
        return response.status_code, response.json()["Code"]

    assert code(requests.get(url.replace("name=web", "name=db"), headers=headers, timeout=TIMEOUT)) == (
        400,
        "SignatureDoesNotMatch",
    )
    assert code(requests.get(url, headers=dict(headers, **{"x-acs-region-id": "cn-beijing"}), timeout=TIMEOUT)) == (
        400,
        "SignatureDoesNotMatch",
    )
    assert code(requests.get(url, headers=dict(headers, Accept="application/xml"), timeout=TIMEOUT)) == (
        400,
        "SignatureDoesNotMatch",
    )
    assert code(requests.get(url, headers=dict(headers, **{"x-acs-version": "2014-05-26"}), timeout=TIMEOUT)) == (
        400,
        "InvalidVersion",
    )

    # A signature made long ago, correct in every other way, is refused for its Date.
    stale = dict(headers, Date="Mon, 01 Jan 2024 00:00:00 GMT")
    lower = {k.lower(): v for k, v in stale.items()}
    stale["Authorization"] = "acs %s:%s" % (
        key[0],
        roa_signature(
            roa_string_to_sign("GET", lower, "/clusters", [("RegionId", "cn-hangzhou"), ("name", "web")]), key[1]
        ),
    )
    assert code(requests.get(url, headers=stale, timeout=TIMEOUT)) == (400, "InvalidTimeStamp.Expired")

    body = json.dumps({"name": "web"}).encode()
    create = common(cloud, method="POST")
    create.add_header("Content-Type", "application/json")
    create.set_content(body)
    create.trans_to_acs_request()
    headers = create.get_signed_header("cn-hangzhou", *key)
    url = "http://%s%s" % (cloud.cs_host, create.get_url("cn-hangzhou", *key))
    assert code(requests.post(url, data=body.replace(b"web", b"wed"), headers=headers, timeout=TIMEOUT)) == (
        400,
        "InvalidContent.MD5Mismatch",
    )
    assert requests.post(url, data=body, headers=headers, timeout=TIMEOUT).status_code == 200
    assert cloud.cs.cluster_count == 1


def test_unknown_route_and_missing_authorization(cloud: CloudEmulator) -> None:
    err = error_of(acs(cloud.add_access_key()), common(cloud, "/no-such-thing"))
    assert (err.get_error_code(), err.get_http_status()) == ("InvalidAction.NotFound", 404)
    answer = requests.get("http://%s/clusters" % cloud.cs_host, timeout=TIMEOUT)
    assert (answer.status_code, answer.json()["Code"]) == (400, "MissingAuthorization")
