"""Bounded start-up (issue 11 d): a KMS that accepts connections and never answers delays a constructor by the
start-up timeout only (connection, reads and retries together), never by the KMS client's 4 attempts x 6 s.

The "hang" is the emulator's injected delay of 60 s: each request is accepted, read, and left unanswered for
longer than any test waits. Every test sets a short timeout; the default (10 s) is checked without waiting for it.
"""

import logging
import socket
import time

import pytest
import tenacity
from aliyunsdkcore.acs_exception.exceptions import ClientException

from credentials import ConfigError, ConfigLoader, CredentialsError, StaticCredentialsProvider, registry
from credentials.config import KmsEndpoint, read_config
from credentials.kms import KmsClient, KmsRequestError
from credentials.managed import ManagedSecretProvider
from proxy import ProxyAcsClient
from tests.cloud.records import write_properties_file
from tests.helpers import SilentPort, describe_regions, wait_until

SECRET = "app-key"
HANG = 60.0  # seconds the emulator holds each KMS request: "never answers", as far as a test can tell
TOOL_CONNECT_TIMEOUT = 5.0  # the Credentials tool's own default connect timeout for STS
SDK_READ_TIMEOUT = 6.0  # KmsClient's default read timeout: one unanswered attempt alone would take this long


def properties_with(cloud, tmp_path, *extra):
    key_id, key_secret = cloud.kms_access_key
    return write_properties_file(
        str(tmp_path / "managed_credentials_providers.properties"),
        [
            "credentials_type=ak",
            f"credentials_access_key_id={key_id}",
            f"credentials_access_secret={key_secret}",
            f'cache_client_region_id=[{{"regionId":"{cloud.region_id}","endpoint":"{cloud.kms_endpoint}"}}]',
            *extra,
        ],
    )


@pytest.fixture
def registry_on(cloud, tmp_path):
    """Point the registry at a properties file written by the test (given its extra lines)."""

    def use(*extra):
        ConfigLoader.set_config_name(properties_with(cloud, tmp_path, *extra))
        registry.reset()

    yield use
    registry.reset()
    ConfigLoader.set_config_name(None)


def test_a_hanging_kms_delays_the_constructor_by_the_startup_timeout_then_calls_raise_the_sdk_error(
    cloud, registry_on, caplog, record_property
):
    """startup_timeout_seconds=0.5: the constructor returns while KMS still holds the request (far sooner than one
    6 s read timeout), logs one error saying the start-up timeout passed, and the first call raises the SDK's
    ClientException (a CredentialsError too) at once; when KMS answers again, the same client works."""
    cloud.create_secret(SECRET)
    registry_on("startup_timeout_seconds=0.5")
    cloud.kms_fault(delay=HANG)
    caplog.set_level(logging.INFO, logger="managed_credentials")
    start = time.monotonic()
    client = ProxyAcsClient(SECRET, timeout=5)
    took = time.monotonic() - start
    record_property("constructor", f"{took:.2f} s with startup_timeout_seconds=0.5 and KMS hanging")
    assert took < SDK_READ_TIMEOUT, took  # not even one attempt's read timeout: the deadline cut it
    lines = [r for r in caplog.records if r.name.startswith("managed_credentials") and r.levelno >= logging.WARNING]
    assert [r.levelno for r in lines] == [logging.ERROR], [r.getMessage() for r in lines]
    assert SECRET in lines[0].getMessage() and "startup_timeout_seconds=0.5" in lines[0].getMessage()

    with pytest.raises(ClientException) as info:
        client.do_action_with_exception(describe_regions(cloud))
    assert isinstance(info.value, CredentialsError) and info.value.secret_name == SECRET

    cloud.clear_faults()
    assert wait_until(lambda: _works(cloud, client), deadline=10.0)
    client.shutdown()


def _works(cloud, client):
    try:
        client.do_action_with_exception(describe_regions(cloud))
        return True
    except ClientException:
        return False


def test_the_provider_argument_bounds_a_kms_client_with_the_default_timeouts(cloud):
    """ManagedSecretProvider(startup_timeout=0.3) over a KmsClient left at its defaults (4 attempts, 6 s reads):
    construction ends long before a single read timeout; a fetch made later, with a key in hand, has no such
    bound (it runs in the background, or for a caller whose key was rejected)."""
    cloud.create_secret(SECRET)
    kms = KmsClient(
        [KmsEndpoint(cloud.region_id, cloud.kms_host, "http")], StaticCredentialsProvider(*cloud.kms_access_key)
    )
    cloud.kms_fault(delay=HANG)
    start = time.monotonic()
    provider = ManagedSecretProvider(SECRET, kms, startup_timeout=0.3)
    assert time.monotonic() - start < SDK_READ_TIMEOUT
    with pytest.raises(CredentialsError):
        provider.get_credentials()
    provider.close()


def test_the_kms_client_deadline_covers_retries_and_every_attempt(cloud):
    """KmsClient.get_secret_value(deadline=...): the retries stop at the deadline and each attempt's connect and
    read timeouts are cut to what is left (tenacity stop_after_delay, waits capped by the time left)."""
    cloud.create_secret(SECRET)
    kms = KmsClient(
        [KmsEndpoint(cloud.region_id, cloud.kms_host, "http")],
        StaticCredentialsProvider(*cloud.kms_access_key),
        attempts=10,
    )
    cloud.kms_fault(delay=HANG)
    start = time.monotonic()
    with pytest.raises(KmsRequestError) as info:
        kms.get_secret_value(SECRET, deadline=time.monotonic() + 0.4)
    assert time.monotonic() - start < SDK_READ_TIMEOUT
    assert info.value.retryable and info.value.code == "SDK.HttpError"
    cloud.clear_faults()
    assert kms.get_secret_value(SECRET, deadline=time.monotonic() + 5.0)["SecretName"] == SECRET


def test_the_startup_timeout_defaults_to_ten_seconds_and_is_validated(cloud, tmp_path):
    assert read_config(properties_with(cloud, tmp_path)).startup_timeout == 10.0
    assert ManagedSecretProvider.__init__.__kwdefaults__["startup_timeout"] == 10.0
    assert read_config(properties_with(cloud, tmp_path, "startup_timeout_seconds=2.5")).startup_timeout == 2.5
    for bad in ("0", "-1", "ten", "nan", "601"):
        with pytest.raises(ConfigError) as info:
            read_config(properties_with(cloud, tmp_path, f"startup_timeout_seconds={bad}"))
        assert info.value.key == "startup_timeout_seconds" and str(tmp_path) in str(info.value)
    with pytest.raises(ValueError):
        ManagedSecretProvider(SECRET, object(), startup_timeout=0)


def test_an_sts_endpoint_that_never_answers_is_bounded_by_the_startup_timeout_too(cloud, tmp_path, monkeypatch):
    """credentials_type=ram_role: the first GetSecretValue is signed with an STS key, so the AssumeRole runs inside
    the start-up deadline. An STS endpoint that accepts connections and never answers (here: a listening socket
    nobody reads; the TLS handshake waits forever) costs the start-up timeout, not the Credentials tool's own
    5 s connect + 10 s read."""
    from tests.test_tool_provider import write_properties

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SSL_CERT_FILE", cloud.sts.ca_file)
    cloud.create_secret(SECRET)
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # connections complete in the backlog and are never read
    try:
        key_id, secret = cloud.add_access_key()
        path = write_properties(
            cloud,
            tmp_path / "managed_credentials_providers.properties",
            "ram_role",
            access_key_id=key_id,
            access_secret=secret,
            role_arn=cloud.sts.role_arn("kms-reader"),
            role_session_name="kms",
            sts_endpoint="127.0.0.1:%d" % silent.getsockname()[1],
        )
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("startup_timeout_seconds=1.2\n")
        ConfigLoader.set_config_name(path)
        registry.reset()
        start = time.monotonic()
        client = ProxyAcsClient(SECRET, timeout=5)
        took = time.monotonic() - start
        assert took < TOOL_CONNECT_TIMEOUT, took  # the tool's own connect timeout alone would take longer
        with pytest.raises(ClientException) as info:
            client.do_action_with_exception(describe_regions(cloud))
        assert isinstance(info.value, CredentialsError)
        client.shutdown()
    finally:
        silent.close()
        registry.reset()
        ConfigLoader.set_config_name(None)


def test_the_kms_client_starts_no_attempt_after_the_deadline():
    """until(): against a KMS that accepts connections and never answers, with 10 attempts allowed, the attempt that
    waited until the deadline is the last one. Counted as connections: 1 (the bug: 9 more after the deadline, each
    with 1 ms timeouts, which no elapsed-time bound notices)."""
    port = SilentPort()
    try:
        kms = KmsClient(
            [KmsEndpoint("cn-hangzhou", port.host, "http")],
            StaticCredentialsProvider("LTAI5tSilentPortKeyId", "not-a-secret"),
            attempts=10,
            wait=tenacity.wait_random_exponential(multiplier=0.01, max=0.05),
        )
        with pytest.raises(KmsRequestError) as info:
            kms.get_secret_value(SECRET, deadline=time.monotonic() + 0.3)
        assert info.value.code == "SDK.HttpError"
        assert port.connections() == 1
    finally:
        port.close()


@pytest.mark.parametrize(
    "startup_timeout, expected_ms",
    [("1.2", (400, 400)), ("60", (5000, 10000))],
    ids=["a-third-of-the-startup-timeout", "the-tools-own-when-shorter"],
)
def test_the_credentials_tool_is_given_a_third_of_the_startup_timeout(
    cloud, tmp_path, monkeypatch, startup_timeout, expected_ms
):
    """credentials_type=ram_role: the connect and read timeouts the Credentials tool hands its HTTP layer for the
    AssumeRole are each min(its own, a third of startup_timeout_seconds), in ms, read where the tool passes them
    (TeaCore.do_action's runtime options); the call itself reaches the emulator's STS."""
    from Tea.core import TeaCore

    from credentials.kms.access import kms_access_provider
    from tests.test_tool_provider import kms_properties

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SSL_CERT_FILE", cloud.sts.ca_file)
    seen = []
    do_action = TeaCore.do_action

    def recording(request, runtime=None):
        seen.append((runtime["connectTimeout"], runtime["readTimeout"]))
        return do_action(request, runtime)

    monkeypatch.setattr(TeaCore, "do_action", staticmethod(recording))
    path = kms_properties("ram_role", cloud, tmp_path)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"startup_timeout_seconds={startup_timeout}\n")
    provider = kms_access_provider(read_config(path))
    assert provider.get_credentials().security_token
    assert seen == [expected_ms]
    assert cloud.count("AssumeRole", code="OK") == 1
