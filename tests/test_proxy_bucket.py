"""ProxyBucket against the emulator's OSS with the real oss2: swap-in, rotation healing, bodies never half re-sent."""

import io
import threading

import oss2
import pytest

from credentials import StaticCredentialsProvider
from credentials.managed import ManagedSecretProvider
from proxy import OssAKExpireHandler, ProxyAcsClient, ProxyBucket, ProxyService
from tests.helpers import call_through_rotation


class OneWayStream:
    """A stream that can be read once, like a socket or a pipe."""

    def __init__(self, data, chunk=1024):
        self._data = io.BytesIO(data)
        self._chunk = chunk

    def read(self, size=-1):
        return self._data.read(self._chunk if size is None or size < 0 else min(size, self._chunk))

    def seekable(self):
        return False


def test_plain_program_becomes_managed_by_changing_the_constructor(cloud, configured):
    key_id, secret = cloud.create_secret("app-key")
    cloud.create_bucket("bkt")
    plain = oss2.Bucket(oss2.Auth(key_id, secret), cloud.oss_endpoint, "bkt")
    managed = ProxyBucket("app-key", cloud.oss_endpoint, "bkt")
    assert isinstance(managed, oss2.Bucket)
    plain.put_object("a.txt", b"from plain")
    assert managed.get_object("a.txt").read() == b"from plain"
    managed.put_object("b.txt", b"from proxy")
    assert plain.get_object("b.txt").read() == b"from proxy"
    assert [o.key for o in oss2.ObjectIterator(managed)] == ["a.txt", "b.txt"]
    managed.shutdown()


def test_revoked_key_heals_with_eight_threads_putting_and_getting(cloud, configured):
    cloud.create_secret("app-key")
    cloud.create_bucket("bkt")
    bucket = ProxyBucket("app-key", cloud.oss_endpoint, "bkt")
    payload = b"x" * 4096
    bucket.put_object("warm", payload)

    def put_and_get():
        name = threading.current_thread().name
        bucket.put_object(name, payload)
        assert bucket.get_object(name).read() == payload

    cloud.reset_counts()
    errors, (new_id, _) = call_through_rotation(put_and_get, lambda: cloud.rotate_secret("app-key", mode="revoke"))
    assert errors == []
    assert cloud.count("GetSecretValue") == 1
    assert cloud.count("PutObject", access_key_id=new_id, code="OK") >= 100


def test_seekable_stream_is_rewound_and_sent_whole(cloud, kms_client):
    cloud.create_secret("app-key")
    cloud.create_bucket("bkt")
    bucket = ProxyBucket(
        credentials_provider=ManagedSecretProvider("app-key", kms_client),
        endpoint=cloud.oss_endpoint,
        bucket_name="bkt",
    )
    data = bytes(range(256)) * 64
    stream = io.BytesIO(b"HEADER" + data)
    stream.read(6)  # the caller's position is where the body starts
    cloud.rotate_secret("app-key", mode="revoke")
    bucket.put_object("obj", stream)
    assert cloud.oss_object("bkt", "obj") == data


def test_non_seekable_stream_is_never_resent_partially(cloud, kms_client):
    cloud.create_secret("app-key")
    cloud.create_bucket("bkt")
    provider = ManagedSecretProvider("app-key", kms_client)
    bucket = ProxyBucket(credentials_provider=provider, endpoint=cloud.oss_endpoint, bucket_name="bkt")
    bucket.put_object("obj", b"the user's data")
    new_id, _ = cloud.rotate_secret("app-key", mode="revoke")
    with pytest.raises(oss2.exceptions.ServerError) as info:
        bucket.put_object("obj", OneWayStream(b"y" * 50_000))
    assert info.value.code == "InvalidAccessKeyId"
    assert cloud.oss_object("bkt", "obj") == b"the user's data"  # nothing partial, nothing empty
    assert provider.get_credentials().access_key_id == new_id  # refreshed anyway: the next call works
    bucket.put_object("obj", b"next call")
    assert cloud.oss_object("bkt", "obj") == b"next call"


def test_generator_body_is_never_resent(cloud, kms_client):
    cloud.create_secret("app-key")
    cloud.create_bucket("bkt")
    bucket = ProxyBucket(
        credentials_provider=ManagedSecretProvider("app-key", kms_client),
        endpoint=cloud.oss_endpoint,
        bucket_name="bkt",
    )
    cloud.rotate_secret("app-key", mode="revoke")
    with pytest.raises(oss2.exceptions.ServerError):
        bucket.put_object("gen", (b"chunk" for _ in range(100)))
    assert cloud.oss_object("bkt", "gen") is None


def test_non_expiry_error_is_raised_at_once(cloud, configured):
    cloud.create_secret("app-key")
    cloud.create_bucket("bkt")
    bucket = ProxyBucket("app-key", cloud.oss_endpoint, "bkt")
    fetches = cloud.count("GetSecretValue")
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.get_object("missing")
    assert cloud.count("GetSecretValue") == fetches


def test_custom_handler_codes(cloud, kms_client):
    cloud.create_secret("app-key")
    cloud.create_bucket("bkt")
    provider = ManagedSecretProvider("app-key", kms_client)
    bucket = ProxyBucket(
        credentials_provider=provider,
        endpoint=cloud.oss_endpoint,
        bucket_name="bkt",
        ak_expire_handler=OssAKExpireHandler("NoSuchKey"),
    )
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.get_object("missing")
    assert cloud.count("GetSecretValue") >= 2  # NoSuchKey was judged an expired key, as asked


def test_sts_provider_sends_the_token(cloud):
    cloud.create_bucket("bkt")
    key_id, secret = cloud.add_access_key(security_token="TOKEN-oss")
    bucket = ProxyBucket(
        credentials_provider=StaticCredentialsProvider(key_id, secret, "TOKEN-oss"),
        endpoint=cloud.oss_endpoint,
        bucket_name="bkt",
    )
    bucket.put_object("k", b"v")
    assert cloud.count("PutObject", access_key_id=key_id, code="OK") == 1


def test_service_lists_buckets_and_heals(cloud, kms_client):
    cloud.create_secret("app-key")
    cloud.create_bucket("bkt")
    service = ProxyService(
        credentials_provider=ManagedSecretProvider("app-key", kms_client), endpoint=cloud.oss_endpoint
    )
    cloud.rotate_secret("app-key", mode="revoke")
    assert "bkt" in [b.name for b in service.list_buckets().buckets]


def test_many_clients_share_one_fetch(cloud, configured):
    cloud.create_secret("app-key")
    cloud.create_bucket("bkt")
    buckets = [ProxyBucket("app-key", cloud.oss_endpoint, "bkt") for _ in range(500)]
    clients = [ProxyAcsClient("app-key") for _ in range(500)]
    assert cloud.count("GetSecretValue") == 1
    cloud.rotate_secret("app-key", mode="revoke")
    buckets[0].put_object("k", b"v")
    buckets[-1].put_object("k", b"w")
    assert cloud.count("GetSecretValue") == 2
    for client in clients + buckets:
        client.shutdown()
