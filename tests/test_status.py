"""``credentials.status()`` and ``provider.status()`` (issue 21 b): which key each provider of the process holds
(masked), when it was fetched, when the next refresh is due, whether the last fetch failed and why, how many calls
were re-issued; JSON-serialisable, never a secret or token; counted off a call's success path."""

import gc
import json
import os
import re
import subprocess
import sys
import threading

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException

import credentials
from credentials import CredentialsToolProvider, StaticCredentialsProvider
from credentials.managed import ManagedSecretProvider
from credentials.model import mask
from proxy import ProxyAcsClient, ProxyBucket
from tests.adapter_helpers import ADAPTERS, refused
from tests.helpers import call_through_rotation, describe_regions

SECRET = "app-key"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIELDS = {
    "name",
    "kind",
    "access_key_id",
    "version",
    "fetched_at",
    "key_fetched_at",
    "expires_at",
    "next_refresh_at",
    "last_error",
    "last_error_at",
    "failing_since",
    "fetches",
    "fetch_failures",
    "reissues",
    "reissues_failed",
    "reissues_not_replayable",
}


def every_secret_the_emulator_issued(cloud):
    keys = list(cloud.state._keys.values())
    return [k.access_key_secret for k in keys] + [k.security_token for k in keys if k.security_token]


def by_name(name):
    return [s for s in credentials.status() if s["name"] == name]


def test_status_lists_every_provider_of_the_process_without_a_secret(cloud, configured):
    """A managed secret (through the registry, as the proxies use it), a Credentials-tool provider, a static key;
    and the KMS caller's own key (credentials_type=ak: a static provider named for what it is)."""
    gc.collect()  # providers earlier tests dropped without close() are listed until the collector frees them
    key_id, _ = cloud.create_secret(SECRET)
    client = ProxyAcsClient(SECRET, region_id="cn-hangzhou")
    client.do_action_with_exception(describe_regions(cloud))
    sts_id, sts_secret = cloud.add_access_key(security_token=True, expires_at=4102444800)
    token = cloud.security_token_of(sts_id)
    tool = CredentialsToolProvider(
        {"type": "sts", "access_key_id": sts_id, "access_key_secret": sts_secret, "security_token": token},
        name="tool-sts",
    )
    tool.get_credentials()
    static = StaticCredentialsProvider(*cloud.add_access_key(), name="static-one")
    listed = credentials.status()
    text = json.dumps(listed)  # JSON-serialisable as it is
    for secret in every_secret_the_emulator_issued(cloud):
        assert secret not in text
    [managed] = by_name(SECRET)
    assert FIELDS <= set(managed)
    assert (managed["kind"], managed["access_key_id"]) == ("managed_secret", mask(key_id))
    assert managed["version"] == cloud.state.get_secret(SECRET).versions[-1].version_id
    assert managed["fetches"] == 1 and managed["fetch_failures"] == 0 and managed["last_error"] is None
    assert managed["fetched_at"] == managed["key_fetched_at"] and managed["next_refresh_at"] > managed["fetched_at"]
    [from_tool] = by_name("tool-sts")
    assert (from_tool["kind"], from_tool["access_key_id"], from_tool["source"]) == (
        "credentials_tool",
        mask(sts_id),
        "an STS token",
    )
    [fixed] = by_name("static-one")
    assert (fixed["kind"], fixed["fetches"], fixed["next_refresh_at"]) == ("static", 0, None)
    assert by_name("KMS access (ak)")[0]["kind"] == "static"
    assert static.status() == fixed and tool.status() == from_tool  # one provider's own: the same dict
    client.shutdown()
    tool.close()
    assert by_name(SECRET) == [] and by_name("tool-sts") == []  # closed: no longer in the process's list


def test_reissues_are_counted_exactly_through_a_revocation_with_eight_threads(cloud, configured):
    cloud.create_secret(SECRET)
    cloud.create_bucket("bkt")
    client = ProxyAcsClient(SECRET, region_id="cn-hangzhou", pool_size=8)
    bucket = ProxyBucket(SECRET, cloud.oss_endpoint, "bkt")

    def call():
        client.do_action_with_exception(describe_regions(cloud))
        bucket.put_object(threading.current_thread().name, b"x")

    call()
    cloud.reset_counts()
    errors, (new_id, _) = call_through_rotation(call, lambda: cloud.rotate_secret(SECRET, mode="revoke"))
    assert errors == []
    rejected = cloud.count("DescribeRegions", code="InvalidAccessKeyId.NotFound") + cloud.count(
        "PutObject", code="InvalidAccessKeyId"
    )
    [status] = by_name(SECRET)
    assert rejected >= 2 and status["reissues"] == rejected  # each rejected call re-issued once, every one counted
    assert (status["reissues_failed"], status["fetches"], status["access_key_id"]) == (0, 2, mask(new_id))
    client.shutdown()
    bucket.shutdown()


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_each_adapter_counts_its_reissues_through_a_revocation_with_eight_threads(
    cloud, kms_client, loopback_names, name
):
    """ProxyLogClient, ProxyMnsAccount (an account per thread), ProxyOTSClient: every call the service refused for
    its key is counted once as re-issued, and a heal that fails (KMS down, the new key revoked) as failed."""
    adapter = ADAPTERS[name]
    cloud.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client)
    call, close = adapter.make(cloud, provider)
    try:
        call()
        cloud.reset_counts()
        errors, (new_id, _) = call_through_rotation(call, lambda: cloud.rotate_secret(SECRET, mode="revoke"))
        assert errors == []
        status = provider.status()
        rejected = refused(cloud, adapter)
        assert rejected >= 1 and status["reissues"] == rejected  # each refused call re-issued once, each counted
        assert (status["reissues_failed"], status["fetches"], status["access_key_id"]) == (0, 2, mask(new_id))
        cloud.kms_down()
        cloud.revoke_key(new_id)
        for _ in range(2):
            with pytest.raises(adapter.error):
                call()
        assert (provider.status()["reissues"], provider.status()["reissues_failed"]) == (rejected, 2)
    finally:
        close()
        provider.close()


def test_a_failed_fetch_is_the_last_error_with_its_time_until_a_fetch_succeeds(cloud, kms_client):
    now = [1_000_000.0]
    cloud.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client, background=False, clock=lambda: now[0])
    held = provider.get_credentials()
    assert provider.status()["fetched_at"] == provider.status()["key_fetched_at"] == 1_000_000.0
    cloud.kms_fault(status=503)
    now[0] += 60
    with pytest.raises(credentials.CredentialsError) as info:
        provider.refresh()
    status = provider.status()
    assert (status["last_error"], status["last_error_at"], status["failing_since"]) == (
        str(info.value),
        1_000_060.0,
        1_000_060.0,
    )
    assert "ServiceUnavailable" in str(info.value)
    assert (status["fetches"], status["fetch_failures"], status["access_key_id"]) == (2, 1, mask(held.access_key_id))
    now[0] += 60
    with pytest.raises(credentials.CredentialsError):
        provider.refresh()
    assert (provider.status()["last_error_at"], provider.status()["failing_since"]) == (1_000_120.0, 1_000_060.0)
    cloud.clear_faults()
    now[0] += 60
    assert provider.refresh() == held  # the same key again: its age goes on
    status = provider.status()
    assert (status["last_error"], status["last_error_at"], status["failing_since"]) == (None, None, None)
    assert (status["fetches"], status["fetch_failures"]) == (4, 2)
    assert (status["fetched_at"], status["key_fetched_at"]) == (1_000_180.0, 1_000_000.0)
    new_id, _ = cloud.rotate_secret(SECRET, mode="grace")
    now[0] += 60
    assert provider.refresh().access_key_id == new_id
    assert provider.status()["key_fetched_at"] == 1_000_240.0  # a new key: a new age
    provider.close()


def test_a_heal_that_fails_is_counted_as_such(cloud, kms_client):
    cloud.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client, background=False)
    client = ProxyAcsClient(credentials_provider=provider, timeout=5)
    cloud.kms_down()
    cloud.revoke_key(provider.get_credentials().access_key_id)
    for _ in range(3):
        with pytest.raises(ServerException):
            client.do_action_with_exception(describe_regions(cloud))
    status = provider.status()
    assert (status["reissues"], status["reissues_failed"]) == (0, 3)
    assert "cannot reach KMS" in status["last_error"]
    client.shutdown()


class CountingLock:
    """A lock that counts its acquisitions."""

    def __init__(self):
        self._lock, self.taken = threading.Lock(), 0

    def __enter__(self):
        self.taken += 1
        return self._lock.__enter__()

    def __exit__(self, *exc_info):
        return self._lock.__exit__(*exc_info)

    def acquire(self, *args, **kwargs):
        self.taken += 1
        return self._lock.acquire(*args, **kwargs)

    def release(self):
        self._lock.release()


def acs_calling(cloud, provider):
    client = ProxyAcsClient(credentials_provider=provider)
    return client, lambda: client.do_action_with_exception(describe_regions(cloud))


def bucket_calling(cloud, provider):
    cloud.create_bucket("bkt")
    bucket = ProxyBucket(credentials_provider=provider, endpoint=cloud.oss_endpoint, bucket_name="bkt")
    return bucket, lambda: bucket.put_object("k", b"x")


def openapi_calling(cloud, provider):
    from alibabacloud_tea_openapi.models import Config, OpenApiRequest
    from alibabacloud_tea_util.models import RuntimeOptions

    from proxy import ProxyOpenApiClient
    from tests.test_openapi import describe_regions_params

    config = Config(endpoint=cloud.ecs_host, protocol="http", region_id=cloud.region_id, read_timeout=5000)
    client = ProxyOpenApiClient(config, credentials_provider=provider)
    return client, lambda: client.call_api(describe_regions_params(), OpenApiRequest(), RuntimeOptions())


@pytest.mark.parametrize("make", [acs_calling, bucket_calling, openapi_calling], ids=lambda f: f.__name__)
def test_no_lock_is_taken_to_count_on_a_calls_success_path(cloud, kms_client, make):
    """100 successful calls through a proxy take neither the counts' lock nor the provider's fetch lock; a re-issue
    takes the counts' lock (the failure path)."""
    cloud.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client, background=False)
    client, call = make(cloud, provider)
    call()
    provider._stats._lock = counts_lock = CountingLock()
    provider._lock = fetch_lock = CountingLock()
    for _ in range(100):
        call()
    assert (counts_lock.taken, fetch_lock.taken) == (0, 0)
    cloud.rotate_secret(SECRET, mode="revoke")
    call()
    assert (counts_lock.taken, fetch_lock.taken) == (1, 1)
    client.shutdown()


# ---- the health endpoint of docs/monitoring.md -----------------------------------------------------------------------


HEALTH_CHILD = """
import json, re, sys, threading, urllib.error, urllib.request
page = open(sys.argv[1], encoding="utf-8").read()
block = page.split("<!-- health-endpoint:start -->")[1].split("<!-- health-endpoint:end -->")[0]
code = re.search(r"```python\\n(.*?)```", block, re.S).group(1)
namespace = {}
exec(compile(code.replace("PORT = 8080", "PORT = 0"), "docs/monitoring.md", "exec"), namespace)
server = namespace["server"]
threading.Thread(target=server.serve_forever, daemon=True).start()
from proxy import ProxyAcsClient
client = ProxyAcsClient(sys.argv[2], region_id="cn-hangzhou")
try:
    with urllib.request.urlopen("http://127.0.0.1:%d/" % server.server_address[1], timeout=10) as answer:
        print(json.dumps([answer.status, json.loads(answer.read())]))
except urllib.error.HTTPError as err:
    print(json.dumps([err.code, json.loads(err.read())]))
server.shutdown()
"""


def run_the_documented_endpoint(path, secret_name):
    """The endpoint of docs/monitoring.md, run as written (its port chosen by the system) in a process of its own
    holding one ProxyAcsClient: (HTTP status, answer)."""
    page = os.path.join(ROOT, "docs", "monitoring.md")
    env = dict(os.environ, PYTHONPATH=ROOT, MANAGED_CREDENTIALS_PROVIDERS_CONFIG=path)
    result = subprocess.run(
        [sys.executable, "-c", HEALTH_CHILD, page, secret_name], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_documented_health_endpoint_serves_status_and_says_unhealthy_without_a_key(cloud, tmp_path):
    page = open(os.path.join(ROOT, "docs", "monitoring.md"), encoding="utf-8").read()
    block = page.split("<!-- health-endpoint:start -->")[1].split("<!-- health-endpoint:end -->")[0]
    code = re.search(r"```python\n(.*?)```", block, re.S).group(1)
    assert len([line for line in code.splitlines() if line.strip()]) <= 16  # short enough to copy
    key_id, secret = cloud.create_secret(SECRET)
    path = cloud.write_properties(str(tmp_path / "m.properties"))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("startup_timeout_seconds=1\n")
    status, body = run_the_documented_endpoint(path, SECRET)
    assert status == 200 and body["healthy"] is True and body["failing"] == []
    [mine] = [p for p in body["providers"] if p["name"] == SECRET]
    assert (mine["access_key_id"], mine["fetches"]) == (mask(key_id), 1)
    assert secret not in json.dumps(body)
    cloud.kms_down()  # a secret whose first fetch fails: the process holds no key for it
    status, body = run_the_documented_endpoint(path, SECRET)
    assert status == 503 and body["healthy"] is False
    assert body["without_a_key"] == [SECRET] and body["failing"] == [SECRET]
