"""The per-process registry never makes one client wait for another secret's fetch.

KMS is held by the emulator (``cloud.kms_hold()``: a request waits unanswered until the test lets it go), so "the
fetch is still in flight" is a fact the test reads (``cloud.kms_held()``), not a duration it guesses.
"""

import asyncio
import threading

from credentials import get_secret_provider, registry
from proxy import ProxyAcsClient, ProxyAsyncOssClient, ProxyBucket
from tests.helpers import DEADLINE, describe_regions, regions_of, wait_until
from tests.oss_v2_helpers import BUCKET, v2_config
from tests.test_reliability import Child


class Outcome:
    """A thread running `target`: its result, or the error it raised."""

    def __init__(self, target):
        self.result = self.error = None
        self._target = target
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            self.result = self._target()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def start(self):
        self.thread.start()
        return self

    def join(self):
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive(), "the thread did not finish"
        assert self.error is None, repr(self.error)
        return self.result


def acs_client(cloud, secret):
    return ProxyAcsClient(secret, region_id=cloud.region_id)


def test_clients_on_a_cached_secret_are_built_and_released_while_another_secrets_fetch_hangs(cloud, configured):
    """Row "constructors are independent": a constructor held in KMS for one secret; meanwhile clients of an
    already fetched secret are built, used and shut down (the last of them closes its provider), and they all
    finish while the other fetch is still unanswered: they never waited for it."""
    cloud.create_secret("cached")
    cloud.create_secret("slow")
    warm = acs_client(cloud, "cached")
    gate = cloud.kms_hold(times=1)
    slow = Outcome(lambda: acs_client(cloud, "slow")).start()
    try:
        assert wait_until(lambda: cloud.kms_held() == 1), "the slow secret's fetch did not reach KMS"

        def on_the_cached_secret():
            client = acs_client(cloud, "cached")
            bucket = ProxyBucket("cached", cloud.oss_endpoint, BUCKET)
            regions = regions_of(client.do_action_with_exception(describe_regions(cloud)))
            bucket.put_object("k", b"v")
            client.shutdown()
            bucket.shutdown()
            warm.shutdown()  # the last holder: the provider closes
            return regions, cloud.kms_held(), slow.thread.is_alive()

        other = Outcome(on_the_cached_secret).start()
        regions, held, slow_running = other.join()
    finally:
        gate.set()
    assert "cn-hangzhou" in regions
    assert (held, slow_running) == (1, True)  # done while the slow fetch was still held in KMS
    assert cloud.count("GetSecretValue") == 1  # only the first "cached" fetch was answered then
    assert "cached" not in registry._providers  # released: nothing kept
    slow_client = slow.join()
    assert regions_of(slow_client.do_action_with_exception(describe_regions(cloud)))
    slow_client.shutdown()


def test_the_secret_names_preload_does_not_hold_up_a_client_of_another_secret(cloud, tmp_path):
    """The first use of the registry fetches ``secret_names``; a client of another secret, built meanwhile, does not
    queue behind that preload."""
    from credentials import ConfigLoader

    cloud.create_secret("listed")
    cloud.create_secret("other")
    path = cloud.write_properties(str(tmp_path / "p.properties"), secret_names=["listed"])
    ConfigLoader.set_config_name(path)
    registry.reset()
    gate = cloud.kms_hold(times=1)  # the preload's fetch of "listed"
    try:
        first = Outcome(lambda: get_secret_provider("listed")).start()
        assert wait_until(lambda: cloud.kms_held() == 1), "the preload did not reach KMS"
        other = Outcome(lambda: (acs_client(cloud, "other"), cloud.kms_held())).start()
        client, held = other.join()
        assert held == 1 and first.thread.is_alive()
        gate.set()
        assert not first.join().closed
        assert cloud.count("GetSecretValue") == 2
        client.shutdown()
    finally:
        gate.set()
        registry.reset()
        ConfigLoader.set_config_name(None)


class CountingCondition:
    """The entry's condition, counting the threads waiting on it: the test knows they are queued behind the fetch
    instead of guessing when they got there."""

    def __init__(self):
        self._cond = threading.Condition()
        self.waiting = 0

    def __enter__(self):
        return self._cond.__enter__()

    def __exit__(self, *exc_info):
        return self._cond.__exit__(*exc_info)

    def wait(self, timeout=None):
        self.waiting += 1  # under the condition's lock
        try:
            return self._cond.wait(timeout)
        finally:
            self.waiting -= 1

    def notify_all(self):
        self._cond.notify_all()


def test_constructors_of_the_same_new_secret_share_one_fetch(cloud, configured):
    """Four constructors of a new secret: the first one's fetch is held in KMS until the other three are queued
    behind it; one GetSecretValue for all four, and they share one provider."""
    cloud.create_secret("new")
    gate = cloud.kms_hold(times=1)
    try:
        first = Outcome(lambda: acs_client(cloud, "new")).start()
        assert wait_until(lambda: cloud.kms_held() == 1)
        condition = registry._providers["new"]._cond = CountingCondition()
        others = [Outcome(lambda: acs_client(cloud, "new")).start() for _ in range(3)]
        assert wait_until(lambda: condition.waiting == 3), "the other constructors did not queue behind the fetch"
        gate.set()
        clients = [first.join()] + [other.join() for other in others]
    finally:
        gate.set()
    assert cloud.count("GetSecretValue") == 1
    assert len({id(client._source.provider) for client in clients}) == 1
    assert all(regions_of(client.do_action_with_exception(describe_regions(cloud))) for client in clients)
    for client in clients:
        client.shutdown()
    assert "new" not in registry._providers


def test_the_last_holder_leaving_during_the_first_fetch_leaks_nothing_and_hands_out_no_closed_provider(
    cloud, configured
):
    """An asyncio client built on the loop (its first fetch in a worker thread, held in KMS) is closed before the
    fetch answers: its provider closes and leaves the registry; the fetch then finishes into nothing, and the next
    client gets a new, open provider that works."""
    cloud.create_secret("s")
    cloud.create_bucket(BUCKET)
    gate = cloud.kms_hold(times=1)

    async def main():
        client = ProxyAsyncOssClient(v2_config(cloud), secret_name="s")
        first = client.credentials_provider
        for _ in range(int(DEADLINE / 0.01)):
            if cloud.kms_held() == 1:
                break
            await asyncio.sleep(0.01)
        assert cloud.kms_held() == 1, "the first fetch did not reach KMS"
        await client.close()  # the only holder leaves while its first fetch is held
        gone = first.closed and "s" not in registry._providers
        gate.set()
        await asyncio.wait_for(asyncio.shield(client._managed._source._first_fetch), DEADLINE)
        async with ProxyAsyncOssClient(v2_config(cloud), secret_name="s") as again:
            second = again.credentials_provider
            await again.put_object(oss_put("k", b"v"))
        return gone, first, second

    try:
        gone, first, second = asyncio.run(main())
    finally:
        gate.set()
    assert gone
    assert second is not first and first.closed and second.closed  # the second closed with its own last holder
    assert "s" not in registry._providers
    assert cloud.oss_object(BUCKET, "k") == b"v"
    assert cloud.count("GetSecretValue") == 2  # the abandoned first fetch, and the new provider's


def oss_put(key, body):
    import alibabacloud_oss_v2 as oss

    return oss.PutObjectRequest(bucket=BUCKET, key=key, body=body)


def test_a_fork_during_a_first_fetch_leaves_the_child_free_to_fetch(cloud, configured):
    """The parent forks while a constructor's first fetch is held in KMS: in the child that fetch has no thread,
    so the child's constructor of the same secret makes its own fetch instead of waiting for ever."""
    cloud.create_secret("s")
    gate = cloud.kms_hold(times=1)
    first = Outcome(lambda: acs_client(cloud, "s")).start()
    try:
        assert wait_until(lambda: cloud.kms_held() == 1)

        def in_child(send, receive):
            client = acs_client(cloud, "s")  # KMS answers the child's own request at once (times=1)
            send("regions " + ",".join(regions_of(client.do_action_with_exception(describe_regions(cloud)))))

        child = Child(in_child)
        try:
            answer = child.receive()
        finally:
            status = child.wait()  # kills a child still waiting at its deadline
        assert answer.startswith("regions ") and status == 0
    finally:
        gate.set()
    first.join().shutdown()
    assert cloud.count("GetSecretValue") == 2
