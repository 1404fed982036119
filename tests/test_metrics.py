"""OpenTelemetry metrics (issue 21 c), read with the OpenTelemetry SDK's in-memory reader: fetches by outcome (ok,
failed, throttled) and their duration, re-issues by SDK and outcome (healed, failed, not_replayable), the age of the
key in use; nothing recorded on a call's success path, and nothing imported when opentelemetry-api is absent."""

import json
import os
import subprocess
import sys

import oss2
import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from credentials import CredentialsError, metrics
from credentials.managed import ManagedSecretProvider
from proxy import ProxyAcsClient, ProxyBucket
from tests.adapter_helpers import ADAPTERS, refused
from tests.helpers import describe_regions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def reader():
    """An SDK MeterProvider with an in-memory reader, given to the library for the test."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics.use_meter_provider(provider)
    try:
        yield reader
    finally:
        metrics.use_meter_provider(None)
        provider.shutdown()


def points(reader, name):
    """{frozenset of attributes: value} of one instrument (a histogram's value: its count)."""
    found = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            if scope.scope.name != metrics.METER_NAME:
                continue
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        value = getattr(point, "value", None)
                        found[frozenset(point.attributes.items())] = point.count if value is None else value
    return found


def of(found, **attributes):
    return found.get(frozenset(attributes.items()), 0)


def test_the_emulator_answers_a_throttled_kms_as_kms_does(cloud):
    """Proven with the plain SDK first: HTTP 429 Rejected.Throttling, as KMS answers beyond its quota."""
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.request import CommonRequest

    cloud.create_secret("s1")
    cloud.kms_fault(status=429, code="Rejected.Throttling", times=1)
    client = AcsClient(*cloud.kms_access_key, cloud.region_id)
    request = CommonRequest(domain=cloud.kms_host, version="2016-01-20", action_name="GetSecretValue")
    request.set_protocol_type("http")
    request.add_query_param("SecretName", "s1")
    with pytest.raises(ServerException) as info:
        client.do_action_with_exception(request)
    assert (info.value.get_error_code(), info.value.get_http_status()) == ("Rejected.Throttling", 429)
    assert json.loads(client.do_action_with_exception(request))["SecretName"] == "s1"


def test_a_healed_revocation_is_two_fetches_and_one_healed_reissue(cloud, kms_client, reader):
    cloud.create_secret("metrics-heal")
    provider = ManagedSecretProvider("metrics-heal", kms_client)
    client = ProxyAcsClient(credentials_provider=provider)
    client.do_action_with_exception(describe_regions(cloud))
    cloud.rotate_secret("metrics-heal", mode="revoke")
    for _ in range(3):
        client.do_action_with_exception(describe_regions(cloud))
    fetches = points(reader, "managed_credentials.fetches")
    assert of(fetches, secret="metrics-heal", outcome="ok") == 2
    assert of(points(reader, "managed_credentials.fetch.duration"), secret="metrics-heal") == 2
    assert of(points(reader, "managed_credentials.reissues"), sdk="aliyunsdkcore", outcome="healed") == 1
    ages = points(reader, "managed_credentials.key_age")
    assert 0 <= ages[frozenset({("secret", "metrics-heal")})] < 3600  # the key fetched at the heal
    client.shutdown()
    provider.close()
    assert of(points(reader, "managed_credentials.key_age"), secret="metrics-heal") == 0  # closed: not observed


def test_a_failed_and_a_throttled_fetch_and_a_failed_heal(cloud, kms_client, reader):
    cloud.create_secret("metrics-fail")
    provider = ManagedSecretProvider(
        "metrics-fail", kms_client, background=False, refresh_wait=0
    )  # one fetch per refresh()
    client = ProxyAcsClient(credentials_provider=provider, timeout=5)
    cloud.kms_fault(status=429, code="Rejected.Throttling")  # every try of the KMS client: the fetch fails so
    with pytest.raises(CredentialsError):
        provider.refresh()
    provider._not_before = 0.0  # skip the backoff (its timing is test_provider.py's)
    cloud.kms_fault(status=503)
    with pytest.raises(CredentialsError):
        provider.refresh()
    provider._not_before = 0.0
    cloud.revoke_key(provider.get_credentials().access_key_id)
    with pytest.raises(ServerException):
        client.do_action_with_exception(describe_regions(cloud))
    fetches = points(reader, "managed_credentials.fetches")
    assert of(fetches, secret="metrics-fail", outcome="ok") == 1
    assert of(fetches, secret="metrics-fail", outcome="throttled") == 1
    assert of(fetches, secret="metrics-fail", outcome="failed") == 2  # the 503, then the heal's refresh
    assert of(points(reader, "managed_credentials.reissues"), sdk="aliyunsdkcore", outcome="failed") == 1
    client.shutdown()


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_each_adapter_counts_its_reissues_under_its_sdk_name(cloud, kms_client, loopback_names, reader, name):
    """ProxyLogClient (and the Log Service handlers, which send through it): sdk="aliyun-log"; ProxyMnsAccount:
    "mns"; ProxyOTSClient: "tablestore". A healed revocation is one healed re-issue per refused call; with KMS down
    and the new key revoked too, each call is one failed re-issue."""
    adapter = ADAPTERS[name]
    cloud.create_secret("metrics-adapter")
    provider = ManagedSecretProvider("metrics-adapter", kms_client, background=False)
    call, close = adapter.make(cloud, provider)
    try:
        call()
        cloud.rotate_secret("metrics-adapter", mode="revoke")
        for _ in range(3):
            call()
        reissues = points(reader, "managed_credentials.reissues")
        assert {dict(attributes)["sdk"] for attributes in reissues} == {adapter.sdk}
        assert of(reissues, sdk=adapter.sdk, outcome="healed") == refused(cloud, adapter) == 1
        cloud.kms_down()
        cloud.revoke_key(provider.get_credentials().access_key_id)
        for _ in range(2):
            with pytest.raises(adapter.error):
                call()
        assert of(points(reader, "managed_credentials.reissues"), sdk=adapter.sdk, outcome="failed") == 2
        assert of(points(reader, "managed_credentials.reissues"), sdk="other", outcome="failed") == 0
    finally:
        close()
        provider.close()


def test_a_body_that_cannot_be_sent_again_is_counted_not_replayable(cloud, kms_client, reader):
    cloud.create_secret("metrics-body")
    cloud.create_bucket("bkt")
    bucket = ProxyBucket(
        credentials_provider=ManagedSecretProvider("metrics-body", kms_client),
        endpoint=cloud.oss_endpoint,
        bucket_name="bkt",
    )
    cloud.rotate_secret("metrics-body", mode="revoke")
    with pytest.raises(oss2.exceptions.ServerError):
        bucket.put_object("k", (chunk for chunk in [b"one", b"two"]))
    assert of(points(reader, "managed_credentials.reissues"), sdk="oss2", outcome="not_replayable") == 1
    assert bucket.credentials_provider.status()["reissues_not_replayable"] == 1
    bucket.shutdown()


def test_nothing_is_recorded_on_a_calls_success_path(cloud, kms_client, reader):
    cloud.create_secret("metrics-quiet")
    provider = ManagedSecretProvider("metrics-quiet", kms_client)
    client = ProxyAcsClient(credentials_provider=provider)
    client.do_action_with_exception(describe_regions(cloud))
    names = ("managed_credentials.fetches", "managed_credentials.fetch.duration", "managed_credentials.reissues")
    before = {name: points(reader, name) for name in names}
    for _ in range(50):
        client.do_action_with_exception(describe_regions(cloud))
    assert {name: points(reader, name) for name in names} == before
    client.shutdown()
    provider.close()


OPENTELEMETRY_ABSENT = """
import json, sys
looked = []
class Absent:  # as on an install without the .[otel] extra: opentelemetry cannot be imported
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "opentelemetry":
            looked.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Absent())
import credentials, proxy
from proxy import ProxyAcsClient
from tests.helpers import describe_regions
class Cloud:
    ecs_host = sys.argv[1]
client = ProxyAcsClient("app-key", region_id="cn-hangzhou")
for _ in range(3):
    client.do_action_with_exception(describe_regions(Cloud))
sys.stdout.write("revoke\\n"); sys.stdout.flush()
sys.stdin.readline()
for _ in range(3):
    client.do_action_with_exception(describe_regions(Cloud))
print(json.dumps({"looked": looked, "imported": [m for m in sys.modules if m.startswith("opentelemetry")],
                  "statuses": [s["name"] for s in credentials.status()]}))
"""


def test_without_opentelemetry_nothing_is_imported_and_it_is_looked_for_once(cloud, tmp_path):
    """Importing credentials and proxy, calls, a healed revocation (fetches and a re-issue): opentelemetry is never
    imported, and looked for once (at the first fetch)."""
    cloud.create_secret("app-key")
    path = cloud.write_properties(str(tmp_path / "m.properties"))
    env = dict(os.environ, PYTHONPATH=ROOT, MANAGED_CREDENTIALS_PROVIDERS_CONFIG=path)
    child = subprocess.Popen(
        [sys.executable, "-c", OPENTELEMETRY_ABSENT, cloud.ecs_host],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert child.stdout.readline().strip() == "revoke", child.stderr.read()
        cloud.rotate_secret("app-key", mode="revoke")
        out, err = child.communicate("go\n", timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["imported"] == []
    assert result["looked"] == ["opentelemetry"]  # once, at the first fetch; never again
    assert "app-key" in result["statuses"]
