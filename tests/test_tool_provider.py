"""CredentialsToolProvider over real HTTP against the emulator's STS (TLS), ECS metadata and credentials URI:
every Credentials-tool type, as a proxy's provider and for KMS access, the default chain's order, our caching by
real expiry, forced refresh, bad configuration, logging and redaction."""

import json
import logging
import math
import os
import subprocess
import sys
import threading
import time

import pytest

from credentials import (
    ConfigError,
    ConfigLoader,
    CredentialsError,
    CredentialsProvider,
    CredentialsToolProvider,
    registry,
)
from credentials.config import read_config
from credentials.fetch_outcome import advisory_margin, mandatory_margin
from credentials.kms.access import kms_access_provider
from proxy import ProxyAcsClient, ProxyBucket
from tests.helpers import describe_regions, join_all, regions_of, run_threads, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL_ENV = (
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALIBABA_CLOUD_ROLE_ARN",
    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
    "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
    "ALIBABA_CLOUD_ROLE_SESSION_NAME",
    "ALIBABA_CLOUD_PROFILE",
    "ALIBABA_CLOUD_CREDENTIALS_FILE",
    "ALIBABA_CLOUD_CLI_PROFILE_DISABLED",
    "ALIBABA_CLOUD_ECS_METADATA",
    "ALIBABA_CLOUD_ECS_METADATA_DISABLED",
    "ALIBABA_CLOUD_IMDSV1_DISABLED",
    "ALIBABA_CLOUD_IMDS_ENDPOINT",
    "ALIBABA_CLOUD_CREDENTIALS_URI",
    "ALIBABA_CLOUD_STS_ENDPOINT",
    "ALIBABA_CLOUD_STS_REGION",
    "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED",
)


@pytest.fixture
def env(cloud, tmp_path, monkeypatch):
    """A clean Credentials-tool environment: no ALIBABA_CLOUD_* variables, an empty HOME, the test CA trusted."""
    for name in TOOL_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SSL_CERT_FILE", cloud.sts.ca_file)  # STS is https only; the tool trusts SSL_CERT_FILE
    return monkeypatch


@pytest.fixture
def registry_reset():
    registry.reset()
    try:
        yield
    finally:
        registry.reset()
        ConfigLoader.set_config_name(None)


def oidc_token_file(cloud, tmp_path) -> str:
    path = tmp_path / "oidc-token"
    path.write_text(cloud.sts.issue_oidc_token())
    return str(path)


def tool_config(kind, cloud, tmp_path):
    """A Config (as a dict of its fields) of each type, pointed at the emulator."""
    if kind in ("access_key", "sts", "ram_role_arn"):
        token = kind == "sts"
        key_id, secret = cloud.add_access_key(security_token=token or None)
        config = {"type": kind, "access_key_id": key_id, "access_key_secret": secret}
        if token:
            config["security_token"] = cloud.security_token_of(key_id)
        if kind == "ram_role_arn":
            config.update(role_arn=cloud.sts.role_arn(), role_session_name="test", sts_endpoint=cloud.sts.host)
        return config
    if kind == "ecs_ram_role":
        return {"type": kind, "role_name": cloud.metadata.role_name, "host": cloud.metadata.host}
    if kind == "oidc_role_arn":
        return {
            "type": kind,
            "role_arn": cloud.sts.role_arn(),
            "oidc_provider_arn": cloud.sts.oidc_provider_arn(),
            "oidc_token_file_path": oidc_token_file(cloud, tmp_path),
            "sts_endpoint": cloud.sts.host,
        }
    assert kind == "credentials_uri"
    return {"type": kind, "credentials_uri": cloud.credentials_uri.url}


SESSION_TYPES = ("ram_role_arn", "ecs_ram_role", "oidc_role_arn", "credentials_uri")
ALL_TYPES = ("access_key", "sts") + SESSION_TYPES


# --- every type, as a proxy's provider ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_TYPES)
def test_each_type_signs_proxy_acs_client_calls(kind, cloud, env, tmp_path):
    provider = CredentialsToolProvider(tool_config(kind, cloud, tmp_path))
    with ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id) as client:
        assert "cn-hangzhou" in regions_of(client.do_action_with_exception(describe_regions(cloud)))
        client.do_action_with_exception(describe_regions(cloud))
    creds = provider.get_credentials()
    assert cloud.count("DescribeRegions", access_key_id=creds.access_key_id, code="OK") == 2
    if kind in SESSION_TYPES:
        assert creds.access_key_id.startswith("STS.") and creds.security_token
        assert creds.expiration is not None and creds.expiration > time.time() + 60
    issued = {
        "ram_role_arn": ("AssumeRole", "sts"),
        "oidc_role_arn": ("AssumeRoleWithOIDC", "sts"),
        "ecs_ram_role": ("GetRoleCredentials", "metadata"),
        "credentials_uri": ("GetCredentials", "credentials_uri"),
    }.get(kind)
    if issued:  # cached by us: one fetch for two calls and three reads
        assert cloud.count(issued[0], service=issued[1], code="OK") == 1


@pytest.mark.parametrize("kind", ("ram_role_arn", "ecs_ram_role"))
def test_session_credentials_sign_oss_requests_with_their_token(kind, cloud, env, tmp_path):
    provider = CredentialsToolProvider(tool_config(kind, cloud, tmp_path))
    bucket = ProxyBucket(credentials_provider=provider, endpoint=cloud.oss_endpoint, bucket_name="tool-bucket")
    try:
        bucket.put_object("k", b"data")
        assert bucket.get_object("k").read() == b"data"
    finally:
        bucket.shutdown()
    assert cloud.oss_object("tool-bucket", "k") == b"data"


def test_an_expired_sts_token_heals_like_a_rotated_key(cloud, env, tmp_path):
    provider = CredentialsToolProvider(tool_config("ram_role_arn", cloud, tmp_path))
    bucket = ProxyBucket(credentials_provider=provider, endpoint=cloud.oss_endpoint, bucket_name="heal")
    with ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id) as client:
        client.do_action_with_exception(describe_regions(cloud))
        first = provider.get_credentials()
        cloud.sts.expire(first.access_key_id)  # the service now says InvalidSecurityToken.Expired
        client.do_action_with_exception(describe_regions(cloud))
        second = provider.get_credentials()
        assert second.access_key_id != first.access_key_id
        assert cloud.count("DescribeRegions", code="InvalidSecurityToken.Expired") == 1
        cloud.sts.expire(second.access_key_id)  # OSS: SecurityTokenExpired
        bucket.put_object("k", b"v")
        assert cloud.count(code="SecurityTokenExpired", service="oss") == 1
    bucket.shutdown()
    assert cloud.count("AssumeRole", code="OK") == 3


# --- every type, for KMS access (properties file) -----------------------------------------------------------------


def write_properties(cloud, path, credentials_type, **keys):
    lines = [f"credentials_type={credentials_type}"]
    lines += [f"credentials_{name}={value}" for name, value in keys.items()]
    lines.append('cache_client_region_id=[{"regionId":"%s","endpoint":"%s"}]' % (cloud.region_id, cloud.kms_endpoint))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def kms_properties(kind, cloud, tmp_path):
    path = tmp_path / "managed_credentials_providers.properties"
    if kind in ("ram_role", "sts"):
        key_id, secret = cloud.add_access_key()
        return write_properties(
            cloud,
            path,
            kind,
            access_key_id=key_id,
            access_secret=secret,
            role_arn=cloud.sts.role_arn("kms-reader"),
            role_session_name="kms",
            sts_endpoint=cloud.sts.host,
        )
    if kind == "ecs_ram_role":
        return write_properties(cloud, path, kind, role_name=cloud.metadata.role_name)
    if kind == "oidc_role_arn":
        return write_properties(
            cloud,
            path,
            kind,
            role_arn=cloud.sts.role_arn("kms-reader"),
            oidc_provider_arn=cloud.sts.oidc_provider_arn(),
            oidc_token_file_path=oidc_token_file(cloud, tmp_path),
        )
    if kind == "credentials_uri":
        return write_properties(cloud, path, kind, uri=cloud.credentials_uri.url)
    assert kind == "default"
    return write_properties(cloud, path, kind)


@pytest.mark.parametrize("kind", ("ram_role", "sts", "ecs_ram_role", "oidc_role_arn", "credentials_uri", "default"))
def test_each_type_reaches_kms_through_the_properties_file(kind, cloud, env, tmp_path, registry_reset):
    env.setenv("ALIBABA_CLOUD_STS_ENDPOINT", cloud.sts.host)  # used where the file names no STS endpoint
    env.setenv("ALIBABA_CLOUD_IMDS_ENDPOINT", cloud.metadata.endpoint)
    if kind == "default":  # the chain's first source: environment variables
        key_id, secret = cloud.add_access_key()
        env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", key_id)
        env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
    cloud.create_secret("app-secret")
    ConfigLoader.set_config_name(kms_properties(kind, cloud, tmp_path))
    provider = registry.get_secret_provider("app-secret")
    assert provider.get_credentials().access_key_id == cloud.current_key("app-secret")[0]
    kms_callers = {c.access_key_id for c in cloud.calls if c.service == "kms" and c.code == "OK"}
    assert len(kms_callers) == 1
    if kind != "default":
        assert next(iter(kms_callers)).startswith("STS."), "KMS was called with a session key of the source"


# --- caching by real expiry, refresh ahead of it ----------------------------------------------------------------------


class HandOutLog(CredentialsProvider):
    """Wraps a provider and records when it handed out which key (the moment a request is signed)."""

    def __init__(self, inner):
        self.inner = inner
        self.handed_out = []  # (time.time(), credentials)

    def _log(self, creds):
        self.handed_out.append((time.time(), creds))
        return creds

    def get_credentials(self):
        return self._log(self.inner.get_credentials())

    def refresh(self, stale=None):
        return self._log(self.inner.refresh(stale))

    def close(self):
        self.inner.close()


def test_short_lived_sts_keys_are_renewed_ahead_of_expiry_and_never_used_expired(cloud, env, tmp_path, record_property):
    """The acceptance scenario (60 s keys, 3 minutes of calls, about 3 issues) at an eighth of the time.

    "Never used expired" is checked where the library decides it: every key was handed out to sign a request
    with more than the mandatory margin left (half of it, allowing for the moment between the provider's check
    and the log). Whether a request then reaches the service before its token expires depends on how long the
    request takes on a loaded machine; should one arrive late, the service refuses it as expired, the proxy
    re-issues it with the fresh key, and the caller still sees no error."""
    lifetime, duration = 8, 22
    cloud.sts.lifetime = lifetime
    provider = HandOutLog(CredentialsToolProvider(tool_config("ram_role_arn", cloud, tmp_path)))
    errors, calls = [], []
    stop = threading.Event()
    client = ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id)

    def caller():
        while not stop.is_set():
            try:
                client.do_action_with_exception(describe_regions(cloud))
                calls.append(1)
            except Exception as exc:  # noqa: BLE001 - every error is a failure of the test
                errors.append(exc)
            stop.wait(0.02)

    threads = run_threads(4, caller)
    time.sleep(duration)  # the length of the scenario, not a synchronisation
    stop.set()
    join_all(threads)
    client.shutdown()

    assert not errors, errors[:3]
    issued = cloud.count("AssumeRole", service="sts", code="OK")
    refresh_every = lifetime - advisory_margin(lifetime)
    assert math.ceil(duration / lifetime) <= issued <= math.ceil(duration / refresh_every) + 1, issued
    ecs = [c for c in cloud.calls if c.service == "ecs"]
    late = [c for c in ecs if c.code != "OK"]
    record_property(
        "figures", f"{len(calls)} calls, {issued} keys issued, {len(late)} requests arrived after their token expired"
    )
    assert len(calls) > issued and all(c.code == "InvalidSecurityToken.Expired" for c in late), late[:3]
    least_left = min(creds.expiration - when for when, creds in provider.handed_out)
    assert least_left > mandatory_margin(lifetime) / 2, least_left


def test_in_the_advisory_window_one_background_fetch_while_callers_keep_the_key(cloud, env, tmp_path):
    cloud.sts.lifetime = 100  # advisory window: the last 25 s, mandatory: the last 10 s
    now = [time.time()]
    provider = CredentialsToolProvider(tool_config("ram_role_arn", cloud, tmp_path), clock=lambda: now[0])
    first = provider.get_credentials()
    now[0] = first.expiration - 20  # advisory, not mandatory: the key is still handed out
    assert provider.get_credentials().access_key_id.startswith("STS.")
    assert wait_until(lambda: provider.get_credentials() != first)
    assert cloud.count("AssumeRole", code="OK") == 2
    second = provider.get_credentials()
    now[0] = second.expiration - 1.5  # mandatory: the caller waits for a fresh key
    third = provider.get_credentials()
    assert third != second and cloud.count("AssumeRole", code="OK") == 3


def test_forced_refresh_reaches_the_source_once_for_all_threads(cloud, env, tmp_path):
    """The tool would hand back its cached key (valid for an hour); a fresh tool instance goes to STS."""
    provider = CredentialsToolProvider(tool_config("ram_role_arn", cloud, tmp_path))
    stale = provider.get_credentials()
    results = []
    threads = run_threads(20, lambda: results.append(provider.refresh(stale=stale)))
    join_all(threads)
    assert len({r.access_key_id for r in results}) == 1 and results[0] != stale
    assert cloud.count("AssumeRole", code="OK") == 2
    assert provider.refresh(stale=stale) == results[0]  # already replaced: no fetch
    assert cloud.count("AssumeRole", code="OK") == 2


def test_forced_refreshes_that_bring_the_same_key_back_off(cloud, env, tmp_path):
    """ECS metadata hands out the same key until it renews it: asking again and again must not hammer it."""
    provider = CredentialsToolProvider(tool_config("ecs_ram_role", cloud, tmp_path))
    key = provider.get_credentials()
    for _ in range(10):
        assert provider.refresh(stale=key) == key
    assert cloud.count("GetRoleCredentials", service="metadata") <= 3


# --- ECS metadata: IMDSv2, v1 fallback, knobs -------------------------------------------------------------------------


def test_ecs_role_uses_imds_v2_tokens(cloud, env):
    cloud.metadata.require_token = True
    provider = CredentialsToolProvider(
        {"type": "ecs_ram_role", "role_name": "EcsRamRoleDemo", "host": cloud.metadata.host}
    )
    assert provider.get_credentials().security_token
    assert cloud.metadata.v2_requests >= 1 and cloud.metadata.v1_requests == 0
    assert cloud.count("GetMetadataToken", service="metadata", code="OK") >= 1


def test_ecs_role_falls_back_to_imds_v1_unless_disabled(cloud, env):
    cloud.metadata.token_api = False  # an old metadata server
    fallback = CredentialsToolProvider(
        {"type": "ecs_ram_role", "role_name": "EcsRamRoleDemo", "host": cloud.metadata.host}
    )
    assert fallback.get_credentials().security_token and cloud.metadata.v1_requests == 1
    strict = CredentialsToolProvider(
        {"type": "ecs_ram_role", "role_name": "EcsRamRoleDemo", "disable_imds_v1": True, "host": cloud.metadata.host}
    )
    with pytest.raises(CredentialsError):
        strict.get_credentials()
    assert cloud.metadata.v1_requests == 1


def test_ecs_role_name_is_read_from_metadata_and_host_from_the_environment(cloud, env):
    env.setenv("ALIBABA_CLOUD_IMDS_ENDPOINT", cloud.metadata.endpoint)
    provider = CredentialsToolProvider({"type": "ecs_ram_role"})
    assert provider.get_credentials().access_key_id.startswith("STS.")
    assert cloud.count("GetRoleName", service="metadata", code="OK") == 1


def test_ecs_role_through_the_tools_proxy_option(cloud, env):
    """The tool's own knob: its requests to 100.100.100.200 go through an HTTP proxy (here, the emulator)."""
    provider = CredentialsToolProvider(
        {"type": "ecs_ram_role", "role_name": "EcsRamRoleDemo", "proxy": cloud.metadata.endpoint}
    )
    assert provider.get_credentials().security_token


# --- the default chain, in the tool's order ---------------------------------------------------------------------------


def _chain_sources(cloud, env, tmp_path, first):
    """Configure every source of the chain from `first` on; return the key id each source should give."""
    order = ["env", "oidc", "cli_profile", "ini_profile", "ecs", "uri"]
    home = os.environ["HOME"]
    expect = {}
    env.setenv("ALIBABA_CLOUD_IMDS_ENDPOINT", cloud.metadata.endpoint)  # never 100.100.100.200 in a test
    env.setenv("ALIBABA_CLOUD_STS_ENDPOINT", cloud.sts.host)
    cloud.metadata.role_name = None  # no role attached: ECS metadata answers 404 unless configured below
    for source in order[order.index(first) :]:
        if source == "env":
            key_id, secret = cloud.add_access_key()
            env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", key_id)
            env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
            expect[source] = key_id
        elif source == "oidc":
            env.setenv("ALIBABA_CLOUD_ROLE_ARN", cloud.sts.role_arn())
            env.setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", cloud.sts.oidc_provider_arn())
            env.setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", oidc_token_file(cloud, tmp_path))
        elif source == "cli_profile":
            (a_id, a_secret), (b_id, b_secret) = cloud.add_access_key(), cloud.add_access_key()
            os.makedirs(os.path.join(home, ".aliyun"))
            with open(os.path.join(home, ".aliyun", "config.json"), "w") as handle:
                json.dump(
                    {
                        "current": "a",
                        "profiles": [
                            {"name": "a", "mode": "AK", "access_key_id": a_id, "access_key_secret": a_secret},
                            {"name": "b", "mode": "AK", "access_key_id": b_id, "access_key_secret": b_secret},
                        ],
                    },
                    handle,
                )
            expect[source], expect["cli_profile_b"] = a_id, b_id
        elif source == "ini_profile":
            key_id, secret = cloud.add_access_key()
            os.makedirs(os.path.join(home, ".alibabacloud"))
            with open(os.path.join(home, ".alibabacloud", "credentials.ini"), "w") as handle:
                handle.write(f"[default]\ntype = access_key\naccess_key_id = {key_id}\naccess_key_secret = {secret}\n")
            expect[source] = key_id
        elif source == "ecs":
            cloud.metadata.role_name = "EcsRamRoleDemo"
        elif source == "uri":
            env.setenv("ALIBABA_CLOUD_CREDENTIALS_URI", cloud.credentials_uri.url)
    return expect


@pytest.mark.parametrize("first", ["env", "oidc", "cli_profile", "ini_profile", "ecs", "uri"])
def test_default_chain_picks_the_first_source_in_order(first, cloud, env, tmp_path):
    expect = _chain_sources(cloud, env, tmp_path, first)
    provider = CredentialsToolProvider()  # reads the environment now
    creds = provider.get_credentials()
    issuing = {"oidc": "AssumeRoleWithOIDC", "ecs": "GetRoleCredentials", "uri": "GetCredentials"}
    if first in expect:
        assert creds.access_key_id == expect[first]
    else:
        assert creds.access_key_id.startswith("STS.") and cloud.count(issuing[first], code="OK") == 1
    for later in ("AssumeRoleWithOIDC", "GetRoleCredentials", "GetCredentials"):
        if later != issuing.get(first):
            assert cloud.count(later, code="OK") == 0, f"{later} asked although {first} comes first"
    with ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id) as client:
        client.do_action_with_exception(describe_regions(cloud))
    assert provider.refresh(stale=creds) is not None  # the source it settled on is asked again


def test_default_chain_honours_alibaba_cloud_profile(cloud, env, tmp_path):
    expect = _chain_sources(cloud, env, tmp_path, "cli_profile")
    env.setenv("ALIBABA_CLOUD_PROFILE", "b")
    assert CredentialsToolProvider().get_credentials().access_key_id == expect["cli_profile_b"]


def test_default_chain_with_no_source_names_every_source_it_tried(cloud, env):
    env.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    provider = CredentialsToolProvider()
    with pytest.raises(CredentialsError) as caught:
        provider.get_credentials()
    message = str(caught.value)
    assert "config.json" in message and "credentials.ini" in message
    assert not cloud.calls


# --- errors from the source, and secrets ------------------------------------------------------------------------------


def test_an_unknown_oidc_token_is_a_credentials_error_with_the_sts_code(cloud, env, tmp_path):
    config = tool_config("oidc_role_arn", cloud, tmp_path)
    with open(config["oidc_token_file_path"], "w") as handle:
        handle.write("eyJ.not-issued.by-anyone")
    with pytest.raises(CredentialsError) as caught:
        CredentialsToolProvider(config).get_credentials()
    assert caught.value.code == "AuthenticationFail.OIDCToken.Invalid"
    assert "not-issued" not in str(caught.value)


def test_secrets_in_a_malformed_answer_reach_no_log_and_no_exception(cloud, env, debug_logs, capfd):
    cloud.credentials_uri.respond_with(
        200, json.dumps({"AccessKeyId": "STS.leak", "AccessKeySecret": "SECRETVALUE1", "SecurityToken": "TOKENVALUE1"})
    )  # no "Code": "Success"
    provider = CredentialsToolProvider({"type": "credentials_uri", "credentials_uri": cloud.credentials_uri.url})
    with pytest.raises(CredentialsError) as caught:
        provider.get_credentials()
    logging.getLogger("credentials").warning("tool says %s", '{"AccessKeySecret": "SECRETVALUE2"}')
    out, err = capfd.readouterr()
    everything = str(caught.value) + repr(caught.value) + debug_logs.text + out + err
    for secret in ("SECRETVALUE1", "TOKENVALUE1", "SECRETVALUE2"):
        assert secret not in everything
    assert "****" in str(caught.value)


@pytest.mark.parametrize("where", ["query", "userinfo"])
def test_a_token_or_password_in_the_credentials_uri_shows_nowhere(cloud, env, debug_logs, capfd, where):
    """A credentials_uri with a token in its query (whatever its names: ?auth_token=...&k=...) or a password in its
    userinfo: masked in the CredentialsError, every log record (ours, the tool's, urllib3's request line),
    repr(provider) and its source (what the status shows), failing and working; the rest of the URI is kept."""
    token, password = "T0kenValueNamedAnyhow", "Pa55wordValue"
    base = cloud.credentials_uri.url
    if where == "query":
        uri, shown = f"{base}?auth_token={token}&k={token}2", f"{base}?auth_token=****&k=****"
    else:
        uri, shown = base.replace("http://", f"http://svc:{password}@"), base.replace("http://", "http://svc:****@")
    config = {"type": "credentials_uri", "credentials_uri": uri}
    cloud.credentials_uri.respond_with(500, '{"Code":"InternalError","Message":"try later"}')
    failing = CredentialsToolProvider(config)
    with pytest.raises(CredentialsError) as caught:
        failing.get_credentials()
    assert caught.value.code == "InternalError" and shown in str(caught.value)
    working = CredentialsToolProvider(config)
    working.get_credentials()
    assert working.source == f"credentials URI {shown}"
    default_chain = CredentialsToolProvider(environ={"ALIBABA_CLOUD_CREDENTIALS_URI": uri, "HOME": "/nonexistent"})
    out, err = capfd.readouterr()
    texts = [str(caught.value), repr(caught.value), repr(failing), repr(working), repr(default_chain), out, err]
    texts += [r.getMessage() for r in debug_logs.records if not r.name.startswith("tests.cloud")]  # not the cloud's
    everything = "\n".join(texts)
    assert token not in everything and password not in everything
    if where == "query":  # urllib3 logged the request line, with the query masked
        assert any(
            r.name.startswith("urllib3") and "auth_token=****&k=****" in r.getMessage() for r in debug_logs.records
        )
    for provider in (failing, working, default_chain):
        provider.close()


def test_no_secret_in_logs_reprs_or_errors_of_a_working_provider(cloud, env, tmp_path, debug_logs):
    provider = CredentialsToolProvider(tool_config("ram_role_arn", cloud, tmp_path))
    with ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id) as client:
        client.do_action_with_exception(describe_regions(cloud))
        creds = provider.get_credentials()
        cloud.sts.expire(creds.access_key_id)
        client.do_action_with_exception(describe_regions(cloud))
    fresh = provider.get_credentials()
    # Ours, the tool's and its transport's records. (aliyunsdkcore itself logs request params, token included, at
    # DEBUG; the emulator logs request lines.)
    mine = [
        r.getMessage()
        for r in debug_logs.records
        if r.name.split(".")[0] in ("managed_credentials", "credentials", "urllib3", "alibabacloud-tea")
    ]
    text = "\n".join(mine) + repr(provider) + repr(creds) + str(fresh)
    assert "AssumeRole" in text  # urllib3's request lines are there
    for value in (creds.access_key_secret, creds.security_token, fresh.access_key_secret, fresh.security_token):
        assert value not in text


# --- logging ----------------------------------------------------------------------------------------------------------


def test_the_tools_log_lines_are_not_repeated(tmp_path):
    """Importing the tool attaches three StreamHandlers to logger "credentials": each line would print 3 times."""
    probe = (
        "import logging, sys\n"
        "logging.basicConfig(stream=sys.stderr, format='%(name)s:%(message)s')\n"
        "import proxy.openapi\n"
        "from credentials import CredentialsToolProvider\n"
        "CredentialsToolProvider({'type': 'access_key', 'access_key_id': 'a', 'access_key_secret': 'b'})\n"
        "logging.getLogger('credentials').warning('from-the-tool')\n"
        "logging.getLogger('managed_credentials.credentials').warning('from-us')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("from-the-tool") == 1, result.stderr
    assert result.stderr.count("from-us") == 1, result.stderr


def test_our_loggers_are_not_children_of_the_tools_logger():
    ours = logging.getLogger("managed_credentials.credentials")
    parents = []
    while ours is not None:
        parents.append(ours.name)
        ours = ours.parent
    assert "credentials" not in parents


def test_importing_credentials_does_not_import_the_tool():
    probe = (
        "import sys, credentials\n"
        "from credentials import CredentialsToolProvider\n"
        "assert 'alibabacloud_credentials' not in sys.modules\n"
        "CredentialsToolProvider({'type': 'access_key', 'access_key_id': 'a', 'access_key_secret': 'b'})\n"
        "assert 'alibabacloud_credentials' in sys.modules\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert result.stdout.strip() == "ok", result.stdout + result.stderr


# --- bad configuration ------------------------------------------------------------------------------------------------

BAD_PROPERTIES = [
    # (credentials_type, keys given, the key the error must name)
    ("ram_role", dict(access_key_id="k", access_secret="s", role_session_name="x"), "credentials_role_arn"),
    (
        "ram_role",
        dict(access_key_id="k", access_secret="s", role_arn="acs:ram::1:role/r"),
        "credentials_role_session_name",
    ),
    (
        "ram_role",
        dict(access_secret="s", role_arn="acs:ram::1:role/r", role_session_name="x"),
        "credentials_access_key_id",
    ),
    (
        "ram_role",
        dict(
            access_key_id="k",
            access_secret="s",
            role_arn="acs:ram::1:role/r",
            role_session_name="x",
            policy="{not json",
        ),
        "credentials_policy",
    ),
    ("sts", dict(access_key_id="k", access_secret="s"), "credentials_role_arn"),
    ("ecs_ram_role", dict(), "credentials_role_name"),
    ("ecs_ram_role", dict(role_name="r", disable_imds_v1="sometimes"), "credentials_disable_imds_v1"),
    (
        "oidc_role_arn",
        dict(oidc_provider_arn="acs:ram::1:oidc-provider/p", oidc_token_file_path="/t"),
        "credentials_role_arn",
    ),
    ("oidc_role_arn", dict(role_arn="acs:ram::1:role/r", oidc_token_file_path="/t"), "credentials_oidc_provider_arn"),
    (
        "oidc_role_arn",
        dict(role_arn="acs:ram::1:role/r", oidc_provider_arn="acs:ram::1:oidc-provider/p"),
        "credentials_oidc_token_file_path",
    ),
    (
        "oidc_role_arn",
        dict(
            role_arn="acs:ram::1:role/r",
            oidc_provider_arn="acs:ram::1:oidc-provider/p",
            oidc_token_file_path="/no/such/token",
        ),
        "credentials_oidc_token_file_path",
    ),
    ("credentials_uri", dict(), "credentials_uri"),
    ("credentials_uri", dict(uri="ftp://127.0.0.1/creds"), "credentials_uri"),
    ("default", dict(access_key_id="k"), "credentials_access_key_id"),
    ("default", dict(role_arn="acs:ram::1:role/r"), "credentials_role_arn"),
]


@pytest.mark.parametrize(
    "credentials_type,keys,bad_key", BAD_PROPERTIES, ids=[f"{t}-{k}" for t, _, k in BAD_PROPERTIES]
)
def test_bad_properties_name_the_file_and_the_key(credentials_type, keys, bad_key, tmp_path):
    path = tmp_path / "bad.properties"
    lines = [f"credentials_type={credentials_type}", 'cache_client_region_id=[{"regionId":"cn-hangzhou"}]']
    lines += [f"credentials_{name}={value}" for name, value in keys.items()]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as caught:
        kms_access_provider(read_config(str(path)))
    assert caught.value.key == bad_key
    assert caught.value.file == os.path.abspath(str(path))
    assert bad_key in str(caught.value) and str(path) in str(caught.value)


BAD_CONFIGS = [
    ({}, "type"),
    ({"type": "bearer"}, "type"),
    ({"type": "access_key", "access_key_id": "k"}, "access_key_secret"),
    ({"type": "access_key", "access_key_id": "k", "access_key_secret": "s", "security_token": "t"}, "security_token"),
    ({"type": "sts", "access_key_id": "k", "access_key_secret": "s"}, "security_token"),
    ({"type": "ram_role_arn", "access_key_id": "k", "access_key_secret": "s"}, "role_arn"),
    (
        {
            "type": "ram_role_arn",
            "access_key_id": "k",
            "access_key_secret": "s",
            "role_arn": "r",
            "role_session_expiration": 60,
        },
        "role_session_expiration",
    ),
    ({"type": "oidc_role_arn", "role_arn": "r", "oidc_provider_arn": "p"}, "oidc_token_file_path"),
    ({"type": "credentials_uri", "credentials_uri": "not a url"}, "credentials_uri"),
    ({"type": "ecs_ram_role", "disable_imds_v1": "maybe"}, "disable_imds_v1"),
    ({"type": "access_key", "acess_key_id": "typo"}, "acess_key_id"),
]


@pytest.mark.parametrize("config,bad_key", BAD_CONFIGS, ids=[k for _, k in BAD_CONFIGS])
def test_bad_tool_configs_name_the_field(config, bad_key):
    with pytest.raises(ConfigError) as caught:
        CredentialsToolProvider(config)
    assert caught.value.key == bad_key


def test_a_tool_config_object_is_accepted(cloud, env):
    from alibabacloud_credentials.models import Config

    key_id, secret = cloud.add_access_key()
    provider = CredentialsToolProvider(Config(type="access_key", access_key_id=key_id, access_key_secret=secret))
    assert provider.get_credentials().access_key_id == key_id
    assert secret not in repr(provider)
