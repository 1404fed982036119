"""Conformance matrix for ProxyAcsClient: every kind of request, through every public way of sending it, is
called once right after a revoking rotation and succeeds with exactly one GetSecretValue.

REQUESTS and CALLS are the matrix; the README's "Which calls heal" table for ACS is checked against them
(tests/test_docs.py::test_which_calls_heal_acs_table_matches_the_matrix).
"""

import itertools
import json
import warnings
from pathlib import Path
from typing import Callable, Dict, Iterator, Tuple

import pytest
from aliyunsdkcore.request import AcsRequest, CommonRequest, RoaRequest, RpcRequest
from aliyunsdkecs.request.v20140526.DescribeRegionsRequest import DescribeRegionsRequest

from credentials import ConfigLoader, CredentialsToolProvider, registry
from proxy import ProxyAcsClient
from tests.cloud import CloudEmulator

_names = itertools.count()


@pytest.fixture(scope="module")
def shared_cloud() -> Iterator[CloudEmulator]:
    """One emulator for the whole matrix (each test has a secret of its own): starting and stopping one per test
    would cost more than the calls."""
    with CloudEmulator() as cloud:
        yield cloud


@pytest.fixture
def cloud(shared_cloud: CloudEmulator, tmp_path: Path) -> Iterator[CloudEmulator]:
    """The shared emulator, its call log emptied, the registry empty and pointed at it."""
    ConfigLoader.set_config_name(shared_cloud.write_properties(str(tmp_path / "managed.properties")))
    registry.reset()
    shared_cloud.reset_counts()
    try:
        yield shared_cloud
    finally:
        registry.reset()
        ConfigLoader.set_config_name(None)


def _rpc(cloud: CloudEmulator) -> AcsRequest:
    request = RpcRequest("Ecs", "2014-05-26", "DescribeRegions")
    request.set_endpoint(cloud.ecs_host)
    request.set_protocol_type("http")
    return request


def _roa(cloud: CloudEmulator) -> AcsRequest:
    request = RoaRequest("CS", "2015-12-15", "DescribeClusters", method="GET", uri_pattern="/clusters")
    request.set_endpoint(cloud.cs_host)
    request.set_protocol_type("http")
    return request


def _common_rpc(cloud: CloudEmulator) -> AcsRequest:
    request = CommonRequest(domain=cloud.ecs_host, version="2014-05-26", action_name="DescribeRegions")
    request.set_protocol_type("http")
    return request


def _common_roa(cloud: CloudEmulator) -> AcsRequest:
    request = CommonRequest(domain=cloud.cs_host, version="2015-12-15", uri_pattern="/clusters")
    request.add_query_param("name", "web")
    request.set_protocol_type("http")
    return request


def _generated(cloud: CloudEmulator) -> AcsRequest:
    """A generated product request, endpoint resolved by the client (add_endpoint), as applications use them."""
    request = DescribeRegionsRequest()
    request.set_protocol_type("http")
    return request


# test id -> (the row's name in the README table, factory, the action the emulator logs)
REQUESTS: Dict[str, Tuple[str, Callable[..., AcsRequest], str]] = {
    "rpc": ("`RpcRequest`", _rpc, "DescribeRegions"),
    "roa": ("`RoaRequest`", _roa, "DescribeClusters"),
    "common-rpc": ("`CommonRequest`, RPC style (`action_name`)", _common_rpc, "DescribeRegions"),
    "common-roa": ("`CommonRequest`, ROA style (`uri_pattern`)", _common_roa, "DescribeClusters"),
    "generated": ("generated product class (`aliyunsdkecs` `DescribeRegionsRequest`)", _generated, "DescribeRegions"),
}


def _with_exception(client: ProxyAcsClient, request: AcsRequest) -> bytes:
    return client.do_action_with_exception(request)


def _do_action(client: ProxyAcsClient, request: AcsRequest) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return client.do_action(request)  # deprecated: returns the body, an error body too


def _get_response(client: ProxyAcsClient, request: AcsRequest) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        status, _headers, body = client.get_response(request)
    assert status == 200, body
    return body


# the AcsClient method (a column of the README table) -> how it is called; returns the response body
CALLS: Dict[str, Callable[[ProxyAcsClient, AcsRequest], bytes]] = {
    "do_action_with_exception": _with_exception,
    "do_action": _do_action,
    "get_response": _get_response,
}


def _succeeded(action: str, body: bytes) -> bool:
    answer = json.loads(body)
    if action == "DescribeRegions":
        return "cn-hangzhou" in [r["RegionId"] for r in answer.get("Regions", {}).get("Region", [])]
    return answer == []  # DescribeClusters: no cluster yet (an error is a JSON object)


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("kind", list(REQUESTS))
def test_call_right_after_a_revoking_rotation_heals_with_one_fetch(cloud: CloudEmulator, kind: str, call: str) -> None:
    """The request object sent before the rotation is sent again (applications reuse them): what the first
    signing left on it must not spoil the re-signing."""
    _, make_request, action = REQUESTS[kind]
    send = CALLS[call]
    secret = "app-key-%d" % next(_names)
    cloud.create_secret(secret)
    client = ProxyAcsClient(secret, region_id="cn-hangzhou", timeout=5, connect_timeout=5)
    client.add_endpoint("cn-hangzhou", "Ecs", cloud.ecs_host)
    request = make_request(cloud)
    try:
        assert _succeeded(action, send(client, request))
        old_id, _ = cloud.current_key(secret)
        new_id, _ = cloud.rotate_secret(secret, mode="revoke")
        cloud.reset_counts()

        assert _succeeded(action, send(client, request))

        assert cloud.count("GetSecretValue") == 1
        assert [(c.action, c.access_key_id, c.code) for c in cloud.calls if c.service != "kms"] == [
            (action, old_id, "InvalidAccessKeyId.NotFound"),
            (action, new_id, "OK"),
        ]
    finally:
        client.shutdown()


@pytest.mark.parametrize("kind", list(REQUESTS))
def test_an_expired_sts_token_heals_for_every_kind_of_request(
    cloud: CloudEmulator, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STS keys from a RAM role (the Credentials tool over the emulator's STS): the token travels as
    SecurityToken (RPC) or x-acs-security-token (ROA), and a request refused for an expired token is re-issued
    with a new one."""
    from tests.test_tool_provider import TOOL_ENV

    for name in TOOL_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SSL_CERT_FILE", cloud.sts.ca_file)  # the tool's STS is https only
    _, make_request, action = REQUESTS[kind]
    key_id, key_secret = cloud.add_access_key()
    provider = CredentialsToolProvider(
        {
            "type": "ram_role_arn",
            "access_key_id": key_id,
            "access_key_secret": key_secret,
            "role_arn": cloud.sts.role_arn(),
            "role_session_name": "matrix",
            "sts_endpoint": cloud.sts.host,
        }
    )
    client = ProxyAcsClient(credentials_provider=provider, region_id="cn-hangzhou", timeout=5, connect_timeout=5)
    client.add_endpoint("cn-hangzhou", "Ecs", cloud.ecs_host)
    request = make_request(cloud)
    try:
        assert _succeeded(action, client.do_action_with_exception(request))
        first = provider.get_credentials()
        cloud.sts.expire(first.access_key_id)
        cloud.reset_counts()

        assert _succeeded(action, client.do_action_with_exception(request))

        second = provider.get_credentials()
        assert second.access_key_id != first.access_key_id and second.security_token != first.security_token
        assert cloud.count("AssumeRole") == 1
        assert [(c.access_key_id, c.code) for c in cloud.calls if c.action == action] == [
            (first.access_key_id, "InvalidSecurityToken.Expired"),
            (second.access_key_id, "OK"),
        ]
    finally:
        client.shutdown()
        provider.close()
