"""ProxyBucket heals oss2's resumable transfers: a key revoked in the middle of oss2.resumable_upload (4 threads,
12 MiB, 1 MiB parts) or oss2.resumable_download costs a few re-sent parts, never the transfer; each part goes out
at most twice and whole (oss2 hands parts over as SizedFileAdapter, which the re-issue rewinds through)."""

import collections
import io
import threading

import oss2
import pytest

from credentials.managed import ManagedSecretProvider
from proxy import ProxyBucket
from proxy.oss.calls import unwrap_sized_file_adapter

MIB = 1024 * 1024
SIZE = 12 * MIB


def blob(n: int) -> bytes:
    block = bytes(range(256)) * 4096  # 1 MiB, not all one value, so a misplaced part changes the content
    return b"".join(block[i % 251 :] + block[: i % 251] for i in range(n // MIB)) + block[: n % MIB]


@pytest.fixture
def managed_bucket(cloud, kms_client):
    cloud.create_secret("app-key")
    cloud.create_bucket("bkt")
    bucket = ProxyBucket(
        credentials_provider=ManagedSecretProvider("app-key", kms_client),
        endpoint=cloud.oss_endpoint,
        bucket_name="bkt",
    )
    yield bucket
    bucket.shutdown()


class RevokeOnce:
    """A progress callback that revokes the key (once) when the transfer is past `fraction`."""

    def __init__(self, cloud, fraction: float = 0.5):
        self.cloud, self.fraction, self.done = cloud, fraction, threading.Event()
        self._lock = threading.Lock()

    def __call__(self, consumed: int, total: int) -> None:
        with self._lock:
            if total and consumed >= total * self.fraction and not self.done.is_set():
                self.cloud.rotate_secret("app-key", mode="revoke")
                self.cloud.reset_counts()
                self.done.set()


def upload_attempts(cloud):
    """UploadPart requests by part (the call log's canonical resource), and how many were refused."""
    parts = [c for c in cloud.calls if c.action == "UploadPart"]
    return collections.Counter(c.resource for c in parts), sum(1 for c in parts if c.code == "InvalidAccessKeyId")


def test_resumable_upload_heals_a_revocation_in_the_middle(cloud, managed_bucket, tmp_path):
    data = blob(SIZE)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    revoke = RevokeOnce(cloud)
    cloud.reset_counts()
    oss2.resumable_upload(
        managed_bucket,
        "big",
        str(source),
        store=oss2.ResumableStore(root=str(tmp_path)),
        multipart_threshold=MIB,
        part_size=MIB,
        num_threads=4,
        progress_callback=revoke,
    )
    assert revoke.done.is_set()
    assert cloud.oss_object("bkt", "big") == data
    by_part, refused = upload_attempts(cloud)
    assert refused >= 1  # the rotation really hit parts in flight
    assert max(by_part.values()) <= 2  # each part at most twice: once refused, once accepted
    assert cloud.count("GetSecretValue") == 1


def test_resumable_download_heals_a_revocation_in_the_middle(cloud, managed_bucket, tmp_path):
    data = blob(SIZE)
    managed_bucket.put_object("big", data)
    target = tmp_path / "copy.bin"
    revoke = RevokeOnce(cloud)
    oss2.resumable_download(
        managed_bucket,
        "big",
        str(target),
        store=oss2.ResumableDownloadStore(root=str(tmp_path)),
        multiget_threshold=MIB,
        part_size=MIB,
        num_threads=4,
        progress_callback=revoke,
    )
    assert revoke.done.is_set()
    assert target.read_bytes() == data
    gets = [c for c in cloud.calls if c.action == "GetObject"]
    assert sum(1 for c in gets if c.code == "InvalidAccessKeyId") >= 1
    assert sum(1 for c in gets if c.code == "OK") <= SIZE // MIB  # no part fetched twice successfully
    assert cloud.count("GetSecretValue") == 1


def test_a_part_in_a_sized_adapter_is_rewound_to_where_the_caller_left_the_file(cloud, managed_bucket):
    data = blob(3 * MIB)
    upload_id = managed_bucket.init_multipart_upload("part").upload_id
    stream = io.BytesIO(data)
    stream.seek(MIB)  # the part starts one MiB into the caller's file, as in resumable_upload
    cloud.rotate_secret("app-key", mode="revoke")
    managed_bucket.upload_part("part", upload_id, 1, oss2.utils.SizedFileAdapter(stream, MIB))
    assert stream.tell() == 2 * MIB  # read once more, whole, from the same place
    parts = managed_bucket.list_parts("part", upload_id).parts
    managed_bucket.complete_multipart_upload("part", upload_id, parts)
    assert cloud.oss_object("bkt", "part") == data[MIB : 2 * MIB]


class OneWayStream(io.RawIOBase):
    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_a_sized_adapter_over_a_one_way_stream_is_not_re_sent(cloud, managed_bucket):
    upload_id = managed_bucket.init_multipart_upload("part").upload_id
    cloud.rotate_secret("app-key", mode="revoke")
    with pytest.raises(oss2.exceptions.ServerError) as info:
        managed_bucket.upload_part("part", upload_id, 1, oss2.utils.SizedFileAdapter(OneWayStream(b"y" * 5000), 5000))
    assert info.value.code == "InvalidAccessKeyId"
    assert managed_bucket.list_parts("part", upload_id).parts == []  # nothing partial stored


def test_oss2_still_has_the_sized_file_adapter_we_rewind_through():
    """If an oss2 upgrade renames SizedFileAdapter or its file_object/offset, resumable uploads stop healing:
    this says so plainly (proxy/oss/calls.py unwrap_sized_file_adapter)."""
    adapter = oss2.utils.SizedFileAdapter(io.BytesIO(b"abcdef"), 4)
    inner, reset = unwrap_sized_file_adapter(adapter)
    assert inner is adapter.file_object
    assert adapter.read(2) == b"ab" and adapter.offset == 2
    inner.seek(0)
    reset()  # puts back the offset noted when unwrapped
    assert adapter.read() == b"abcd"
    assert unwrap_sized_file_adapter(io.BytesIO()) is None
