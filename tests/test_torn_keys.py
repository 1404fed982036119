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
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from alibabacloud_tea_openapi.models import OpenApiRequest
from aliyunsdkcore.client import AcsClient
from darabonba.runtime import RuntimeOptions

from credentials import Credentials, CredentialsProvider
from proxy import ManagedCredentialsClient, ProxyAcsClient, ProxyBucket, ProxyOpenApiClient
from tests.helpers import DEADLINE, describe_regions, join_all, regions_of

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


def test_proxy_mns_account_reads_one_snapshot_per_request(cloud, changing):
    from mns.queue import Message, QueueMeta

    from proxy import ProxyMnsAccount

    with ProxyMnsAccount(cloud.mns_endpoint, credentials_provider=changing) as account:
        queue = account.get_queue("q")
        queue.create(QueueMeta())
        for _ in range(3):
            queue.send_message(Message("m"))
    assert_signed_with_one_snapshot(cloud, changing, "SendMessage", 3)


@pytest.mark.parametrize("region", [None, "cn-hangzhou"], ids=["v2", "v4"])
def test_proxy_ots_client_reads_one_snapshot_per_request(cloud, changing, region):
    """tablestore also checks the answer's signature: with the request's snapshot, so a changing provider must not
    make a good answer fail ("Invalid signature in response")."""
    from proxy import ProxyOTSClient

    cloud.ots.create_instance("inst")
    with ProxyOTSClient(
        cloud.ots_endpoint, instance_name="inst", credentials_provider=changing, region=region
    ) as client:
        for _ in range(3):
            assert client.list_table() == ()
    assert_signed_with_one_snapshot(cloud, changing, "ListTable", 3)


# --- the legacy one-field getters (row n): a round of them reads one snapshot ---------------------------------------

THREADS, ROUNDS = 25, 40  # 25: not a multiple of the 8 versions, so a torn read cannot land on a match


@pytest.fixture
def changing_ak(cloud):
    """Eight AccessKeys of the emulator (no token), handed out in turn: a key for AcsClient's getters."""
    return ChangingProvider([Credentials(*cloud.add_access_key()) for _ in range(8)])


def in_threads(work):
    """Run ``work(index)`` in THREADS threads started together; every result, or the first error."""
    results, errors = [], []
    start = threading.Barrier(THREADS)

    def run(index):
        try:
            start.wait(DEADLINE)
            results.extend(work(index))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    join_all(run_threads_indexed(THREADS, run))
    assert not errors, errors[0]
    return results


def run_threads_indexed(count, target):
    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads


def test_acs_key_getters_called_in_turn_return_one_version_from_25_threads(cloud, changing_ak):
    """get_access_key() then get_access_secret() (or the other way round), 25 threads, while the provider answers
    another version on every read: each pair is one version's, and signs (a plain AcsClient on it is accepted)."""
    client = ProxyAcsClient(credentials_provider=changing_ak, timeout=5, connect_timeout=2)

    def work(index):
        if index % 2:
            return [(client.get_access_key(), client.get_access_secret()) for _ in range(ROUNDS)]
        return [tuple(reversed((client.get_access_secret(), client.get_access_key()))) for _ in range(ROUNDS)]

    pairs = in_threads(work)
    versions = {(c.access_key_id, c.access_key_secret) for c in changing_ak.handed_out}
    assert len(pairs) == THREADS * ROUNDS and set(pairs) <= versions
    assert len(set(pairs)) == 8  # every version was handed out: the answer changed under the readers
    for key_id, secret in sorted(set(pairs))[:3]:
        plain = AcsClient(key_id, secret, cloud.region_id, timeout=5, connect_timeout=2)
        assert "cn-hangzhou" in regions_of(plain.do_action_with_exception(describe_regions(cloud)))
    assert [c.code for c in cloud.calls if c.action == "DescribeRegions"] == ["OK"] * 3
    client.shutdown()


@pytest.mark.parametrize("through", ["credential", "tea client"])
def test_tool_key_getters_called_in_turn_return_one_version_from_25_threads(cloud, changing, through):
    """What generated V2 clients' *_advance methods call, in their order: get_access_key_id(),
    get_access_key_secret(), get_security_token(), get_type(), on the credential or through tea's Client: each
    triple is one version's, and signs (a plain tea client configured with it is accepted)."""
    from tests.test_openapi import config, describe_regions_params

    credential = ManagedCredentialsClient(credentials_provider=changing)
    reader = credential if through == "credential" else OpenApiClient(config(cloud, credential=credential))

    def work(index):
        rounds = []
        for _ in range(ROUNDS):
            triple = (reader.get_access_key_id(), reader.get_access_key_secret(), reader.get_security_token())
            assert credential.get_type() == "sts"
            rounds.append(triple)
        return rounds

    triples = in_threads(work)
    versions = {(c.access_key_id, c.access_key_secret, c.security_token) for c in changing.handed_out}
    assert len(triples) == THREADS * ROUNDS and set(triples) <= versions and len(set(triples)) > 1
    for key_id, secret, token in sorted(set(triples))[:3]:
        plain = OpenApiClient(config(cloud, access_key_id=key_id, access_key_secret=secret, security_token=token))
        body = plain.call_api(describe_regions_params(), OpenApiRequest(), RuntimeOptions())["body"]
        assert "cn-hangzhou" in [r["RegionId"] for r in body["Regions"]["Region"]]
    assert [c.code for c in cloud.calls if c.action == "DescribeRegions"] == ["OK"] * 3


def test_async_tool_key_getters_in_interleaved_tasks_return_one_version(changing):
    """25 asyncio tasks on one thread, each yielding between its reads (so that every other task reads in between):
    each task's triple is one version's. A pin per thread instead of per task would hand out torn triples."""
    credential = ManagedCredentialsClient(credentials_provider=changing)

    async def one_round():
        key_id = await credential.get_access_key_id_async()
        await asyncio.sleep(0)
        secret = await credential.get_access_key_secret_async()
        await asyncio.sleep(0)
        return key_id, secret, await credential.get_security_token_async()

    async def main():
        return [t for _ in range(ROUNDS) for t in await asyncio.gather(*(one_round() for _ in range(THREADS)))]

    triples = asyncio.run(main())
    versions = {(c.access_key_id, c.access_key_secret, c.security_token) for c in changing.handed_out}
    assert len(triples) == THREADS * ROUNDS and set(triples) <= versions and len(set(triples)) == 8


def test_a_getter_read_again_or_after_the_window_starts_a_round_on_the_current_key(changing_ak, monkeypatch):
    """A thread that reads the key id call after call sees each new version (a round does not stick); a round
    left half read (only the key id) is over after PIN_SECONDS, so a later secret-then-key pair is current and
    matching rather than the old secret with a new key id."""
    from proxy import pinned_snapshot

    now = [1000.0]
    monkeypatch.setattr(pinned_snapshot, "_clock", lambda: now[0])
    client = ProxyAcsClient(credentials_provider=changing_ak)
    keys = [c.access_key_id for c in changing_ak._keys]
    assert [client.get_access_key() for _ in range(3)] == keys[:3]
    now[0] += pinned_snapshot.PIN_SECONDS + 0.1  # the third read's round, left half read, is over
    secret = client.get_access_secret()
    assert (client.get_access_key(), secret) == (keys[3], changing_ak._keys[3].access_key_secret)
    now[0] += pinned_snapshot.PIN_SECONDS - 0.1  # a round within the window: one version
    assert client.get_access_key() == keys[4]
    now[0] += pinned_snapshot.PIN_SECONDS - 0.1
    assert client.get_access_secret() == changing_ak._keys[4].access_key_secret
    client.shutdown()


def test_two_clients_read_in_turn_each_get_their_own_pair(changing_ak, changing):
    """One thread reads two clients' getters interleaved (key A, key B, secret B, secret A, token B): each matches."""
    acs = ProxyAcsClient(credentials_provider=changing_ak)
    tool = ManagedCredentialsClient(credentials_provider=changing)
    a_id, t_id = acs.get_access_key(), tool.get_access_key_id()
    t_secret, a_secret, t_token = tool.get_access_key_secret(), acs.get_access_secret(), tool.get_security_token()
    assert (a_id, a_secret) in {(c.access_key_id, c.access_key_secret) for c in changing_ak.handed_out}
    assert (t_id, t_secret, t_token) in {
        (c.access_key_id, c.access_key_secret, c.security_token) for c in changing.handed_out
    }
    acs.shutdown()


def test_the_pinned_key_is_on_no_attribute_of_the_client(changing_ak, changing):
    """The snapshot a round reads lives in the thread's context, not on the client (no secret in vars(), repr)."""
    acs = ProxyAcsClient(credentials_provider=changing_ak)
    tool = ManagedCredentialsClient(credentials_provider=changing)
    acs.get_access_key()
    tool.get_access_key_id()
    for client, provider in ((acs, changing_ak), (tool, changing)):
        shown = repr(vars(client)) + repr(client) + repr(getattr(client, "_pinned", None))
        assert not [c for c in provider.handed_out if c.access_key_secret in shown]
    acs.shutdown()
