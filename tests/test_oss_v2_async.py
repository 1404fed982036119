"""ProxyAsyncOssClient (OSS SDK V2's asyncio client) against the emulator: healing through rotations, and an event
loop that keeps running while the key is fetched from KMS."""

import asyncio
import threading

import alibabacloud_oss_v2 as oss
import pytest
from alibabacloud_oss_v2.aio import AsyncClient
from alibabacloud_oss_v2.credentials import StaticCredentialsProvider as OssStaticProvider

from credentials.managed import ManagedSecretProvider
from proxy import ProxyAsyncOssClient
from tests.helpers import LoopTicker
from tests.oss_v2_helpers import BUCKET, SECRET, v2_config

DEADLINE = 10.0


async def put(client, key, body):
    return await client.put_object(oss.PutObjectRequest(bucket=BUCKET, key=key, body=body))


async def get(client, key) -> bytes:
    result = await client.get_object(oss.GetObjectRequest(bucket=BUCKET, key=key))
    return await result.body.read()


class GatedKms:
    """A KMS client whose GetSecretValue waits (at most DEADLINE) until the test opens the gate: a slow KMS."""

    def __init__(self, kms_client):
        self._kms = kms_client
        self.started = threading.Event()
        self.gate = threading.Event()
        self.opened_in_time = []

    def get_secret_value(self, secret_name):
        self.started.set()
        self.opened_in_time.append(self.gate.wait(DEADLINE))
        return self._kms.get_secret_value(secret_name)

    def describe_source(self):
        return self._kms.describe_source()


async def open_the_gate_after_ticks(kms: GatedKms, ticks: int = 3) -> int:
    """Runs on the loop: once the fetch has begun, tick a few times, then let the fetch finish. If the fetch held
    the loop, this coroutine could not run until the fetch gave up waiting."""
    for _ in range(int(DEADLINE / 0.005)):
        if kms.started.is_set():
            break
        await asyncio.sleep(0.005)
    for _ in range(ticks):
        await asyncio.sleep(0.001)
    kms.gate.set()
    return ticks


def test_plain_async_v2_client_object_calls(cloud):
    key_id, secret = cloud.add_access_key()
    cloud.create_bucket(BUCKET)

    async def main():
        async with AsyncClient(v2_config(cloud, credentials_provider=OssStaticProvider(key_id, secret))) as client:
            await put(client, "k", b"async")
            return await get(client, "k")

    assert asyncio.run(main()) == b"async"
    assert cloud.count("PutObject", access_key_id=key_id, code="OK") == 1


def test_eight_coroutines_put_and_get_through_a_revoking_rotation(cloud, configured):
    cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)
    payload = b"y" * 4096
    errors, after = [], []

    async def worker(client, name, rotated, stop):
        while not stop.is_set():
            try:
                await put(client, name, payload)
                assert await get(client, name) == payload
                if rotated.is_set():
                    after.append(1)
            except Exception as exc:  # noqa: BLE001 - every error reaching a caller is reported
                errors.append(exc)
            await asyncio.sleep(0)

    async def main():
        rotated, stop = asyncio.Event(), asyncio.Event()
        async with ProxyAsyncOssClient(v2_config(cloud), secret_name=SECRET) as client:
            await put(client, "warm", payload)
            cloud.reset_counts()
            tasks = [asyncio.create_task(worker(client, "k%d" % i, rotated, stop)) for i in range(8)]
            await asyncio.sleep(0.05)
            new_key = cloud.rotate_secret(SECRET, mode="revoke")
            rotated.set()
            for _ in range(int(DEADLINE / 0.01)):
                if len(after) >= 100 or len(errors) > 100:
                    break
                await asyncio.sleep(0.01)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), DEADLINE)
            return new_key

    new_id, _ = asyncio.run(main())
    assert errors == [] and len(after) >= 100
    assert cloud.count("GetSecretValue") == 1
    assert cloud.count(code="InvalidAccessKeyId", service="oss") >= 1  # the rotation hit calls in flight
    assert cloud.count("PutObject", access_key_id=new_id, code="OK") >= 50


def test_multipart_calls_heal_one_by_one_through_a_revocation(cloud, kms_client):
    cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)
    parts = [bytes([i]) * (100 * 1024) for i in range(3)]
    provider = ManagedSecretProvider(SECRET, kms_client)

    async def main():
        async with ProxyAsyncOssClient(v2_config(cloud), credentials_provider=provider) as client:
            upload = await client.initiate_multipart_upload(
                oss.InitiateMultipartUploadRequest(bucket=BUCKET, key="big")
            )
            done = []
            for number, data in enumerate(parts, 1):
                if number == 2:
                    cloud.rotate_secret(SECRET, mode="revoke")
                result = await client.upload_part(
                    oss.UploadPartRequest(
                        bucket=BUCKET, key="big", upload_id=upload.upload_id, part_number=number, body=data
                    )
                )
                done.append(oss.UploadPart(part_number=number, etag=result.etag))
            await client.complete_multipart_upload(
                oss.CompleteMultipartUploadRequest(
                    bucket=BUCKET,
                    key="big",
                    upload_id=upload.upload_id,
                    complete_multipart_upload=oss.CompleteMultipartUpload(parts=done),
                )
            )

    asyncio.run(main())
    assert cloud.oss_object(BUCKET, "big") == b"".join(parts)
    assert cloud.count("UploadPart", code="InvalidAccessKeyId") == 1


@pytest.mark.parametrize("case", ["cold cache", "revoked key"])
def test_the_event_loop_keeps_running_while_the_key_is_fetched(cloud, kms_client, case):
    cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)
    kms = GatedKms(kms_client)
    if case == "cold cache":
        provider = ManagedSecretProvider(SECRET, kms, fetch_now=False)
    else:
        kms.gate.set()
        provider = ManagedSecretProvider(SECRET, kms)
        kms.started.clear()
        kms.gate.clear()
        kms.opened_in_time.clear()
        cloud.rotate_secret(SECRET, mode="revoke")

    async def main():
        async with ProxyAsyncOssClient(v2_config(cloud), credentials_provider=provider) as client:
            ticker = asyncio.create_task(open_the_gate_after_ticks(kms))
            await put(client, "k", b"while KMS was slow")
            return await asyncio.wait_for(ticker, DEADLINE)

    assert asyncio.run(main()) == 3
    assert kms.opened_in_time == [True]  # the gate was opened by the loop while the fetch waited
    assert cloud.oss_object(BUCKET, "k") == b"while KMS was slow"


def test_async_calls_on_a_warm_cache_take_the_key_without_a_thread_hop(cloud, kms_client):
    import concurrent.futures

    cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)
    provider = ManagedSecretProvider(SECRET, kms_client)

    class NoThreads(concurrent.futures.ThreadPoolExecutor):
        def submit(self, *args, **kwargs):
            raise AssertionError("a warm-cache call went to a worker thread")

    async def main():
        asyncio.get_running_loop().set_default_executor(NoThreads())
        async with ProxyAsyncOssClient(v2_config(cloud), credentials_provider=provider) as client:
            await put(client, "k", b"v")
            return await get(client, "k")

    assert asyncio.run(main()) == b"v"


def test_constructing_on_the_loop_never_blocks_it_and_eight_coroutines_then_heal_with_one_fetch(cloud, configured):
    """Row "async construction": ProxyAsyncOssClient(secret_name=...) built inside a running loop while KMS holds
    the first fetch returns before KMS answers; the loop keeps ticking during the fetch (KMS answers only after 20
    ticks counted while it held the request), ``async with`` awaits the fetch; then 8 coroutines heal a revocation
    with one GetSecretValue."""
    cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)

    async def main(ticker):
        ticker.start()
        client = ProxyAsyncOssClient(v2_config(cloud), secret_name=SECRET)
        answered_at_construction = cloud.count("GetSecretValue")
        async with client:
            await put(client, "k", b"v")
            await ticker.finish()
            cloud.reset_counts()
            new_id, _ = cloud.rotate_secret(SECRET, mode="revoke")
            results = await asyncio.wait_for(
                asyncio.gather(*(put(client, "k%d" % i, b"after") for i in range(8)), return_exceptions=True), DEADLINE
            )
        return answered_at_construction, results, new_id

    with LoopTicker(cloud) as ticker:
        answered_at_construction, results, new_id = asyncio.run(main(ticker))
    assert answered_at_construction == 0  # the constructor did not wait for KMS
    assert ticker.ticks_while_held >= 20  # the loop ran while the fetch was held (0 when the fetch blocks it)
    assert [type(r).__name__ for r in results if isinstance(r, BaseException)] == []
    assert cloud.count("GetSecretValue") == 1
    assert cloud.count("PutObject", code="InvalidAccessKeyId") >= 1  # the revoked key was sent, then healed
    assert cloud.count("PutObject", access_key_id=new_id, code="OK") == 8
    assert all(cloud.oss_object(BUCKET, "k%d" % i) == b"after" for i in range(8))


def test_async_with_raises_what_the_constructor_would_for_an_unknown_secret(cloud, configured):
    """Built on the loop, the client fetches later; ``async with`` then raises the KMS error the synchronous
    constructor raises (naming the secret and the code) and releases the client's hold."""
    from credentials import CredentialsError, registry

    async def main():
        client = ProxyAsyncOssClient(v2_config(cloud), secret_name="no-such-secret")
        try:
            async with client:
                raise AssertionError("async with did not raise")
        except CredentialsError as exc:
            return exc, client

    error, client = asyncio.run(main())
    assert error.code == "Forbidden.ResourceNotFound" and "no-such-secret" in str(error)
    assert client.credentials_provider.closed and "no-such-secret" not in registry._providers
