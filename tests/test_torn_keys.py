"""Never a torn key: every proxy signs one request with one snapshot of the provider, read once.

The provider here answers a different version of the key on *every* ``get_credentials()`` call (version n: key id,
secret and token of the n-th emulator key, all three valid together). A client that reads key id and secret (or the
token) through two calls signs with parts of two versions, and the emulator, which verifies every signature as the
cloud does, answers SignatureDoesNotMatch (or InvalidSecurityToken): a torn read fails on the first request, every
time, with no race to lose. The race of a real rotation is test_reliability.py's
test_sixteen_threads_during_rotations_every_200ms_never_sign_with_a_torn_key.
"""

import asyncio
import threading

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from darabonba.runtime import RuntimeOptions

from credentials import Credentials, CredentialsProvider
from proxy import ProxyAcsClient, ProxyBucket, ProxyOpenApiClient
from tests.helpers import describe_regions, regions_of

EcsProxy = ProxyOpenApiClient.for_product(EcsClient)


class ChangingProvider(CredentialsProvider):
    """Answers the next key on every get_credentials() call (a refresh landing between any two reads)."""

    def __init__(self, keys):
        self._keys = keys
        self._lock = threading.Lock()
        self.reads = 0
        self.handed_out = []

    def get_credentials(self) -> Credentials:
        with self._lock:
            creds = self._keys[self.reads % len(self._keys)]
            self.reads += 1
            self.handed_out.append(creds)
            return creds

    def refresh(self, stale=None) -> Credentials:
        return self.get_credentials()

    def credentials_without_waiting(self):
        return self.get_credentials()


@pytest.fixture
def changing(cloud):
    """Eight STS-style keys of the emulator (id, secret, token each valid only together), handed out in turn."""
    keys = []
    for _ in range(8):
        key_id, secret = cloud.add_access_key(security_token=True)
        keys.append(Credentials(key_id, secret, cloud.security_token_of(key_id)))
    return ChangingProvider(keys)


def assert_signed_with_one_snapshot(cloud, provider, action, requests):
    """Every request the emulator saw was accepted (a torn pair is SignatureDoesNotMatch, InvalidSecurityToken...),
    each signed by a key the provider handed out, and the provider changed its answer between requests."""
    assert [c.code for c in cloud.calls if c.code != "OK"] == []
    signed_by = [c.access_key_id for c in cloud.calls if c.action == action]
    assert len(signed_by) == requests  # each accepted at once: nothing was re-issued
    assert set(signed_by) <= {c.access_key_id for c in provider.handed_out}
    assert provider.reads >= requests


def test_proxy_acs_client_reads_one_snapshot_per_request(cloud, changing):
    client = ProxyAcsClient(credentials_provider=changing, timeout=5, connect_timeout=2)
    for _ in range(3):
        assert "cn-hangzhou" in regions_of(client.do_action_with_exception(describe_regions(cloud)))
    assert_signed_with_one_snapshot(cloud, changing, "DescribeRegions", 3)
    client.shutdown()


@pytest.mark.parametrize("auth_version", ["v1", "v4"])
def test_proxy_bucket_reads_one_snapshot_per_request(cloud, changing, auth_version):
    cloud.create_bucket("bkt")
    region = {"region": cloud.region_id} if auth_version == "v4" else {}
    bucket = ProxyBucket(
        credentials_provider=changing,
        endpoint=cloud.oss_endpoint,
        bucket_name="bkt",
        auth_version=auth_version,
        connect_timeout=5,
        **region,
    )
    bucket.put_object("obj", b"payload")
    assert bucket.get_object("obj").read() == b"payload"
    assert_signed_with_one_snapshot(cloud, changing, "PutObject", 1)
    assert_signed_with_one_snapshot(cloud, changing, "GetObject", 1)
    bucket.shutdown()


def test_proxy_openapi_client_reads_one_snapshot_per_request(cloud, changing):
    from tests.test_openapi import config, ecs_describe_regions, region_ids

    ecs = EcsProxy(config(cloud), credentials_provider=changing)
    for _ in range(3):
        assert "cn-hangzhou" in ecs_describe_regions(ecs)

    async def call_async():
        return await ecs.describe_regions_with_options_async(ecs_models.DescribeRegionsRequest(), RuntimeOptions())

    assert "cn-hangzhou" in region_ids(asyncio.run(call_async()))
    assert_signed_with_one_snapshot(cloud, changing, "DescribeRegions", 4)
    ecs.shutdown()
