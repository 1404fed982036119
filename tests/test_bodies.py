"""Every kind of request body through a real revocation, in both OSS SDKs: oss2 through ProxyBucket, OSS SDK V2
through ProxyOssClient and ProxyAsyncOssClient (the rule: proxy/bodies.py).

Each case uploads the same kind of body twice: once with the plain SDK and a key nobody rotates, once through the
proxy right after its key was revoked, so that its first attempt is refused. Then, as the case expects:

* RESENT: the body is known to be replayable (bytes, str, a seekable stream rewound to where it stood when the
  call began): the proxy stores exactly what the plain SDK stored, after one refused attempt and one re-issue.
* REFUSED: the body cannot be shown to give the same bytes twice (iterators, generators, iterables, one-way
  streams): the proxy raises the service's error, stores nothing, sends nothing more, and its warning says which
  key was rejected and why the body could not go again.
* SDK_REFUSES: the SDK itself refuses the body (oss2 and bytearray, OSS SDK V2 and mmap, ...): the proxy raises
  the same error and stores what the plain SDK stores: nothing.
"""

import asyncio
import io
import itertools
import logging
import mmap
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

import alibabacloud_oss_v2 as oss
import oss2
import pytest
import tenacity
from alibabacloud_oss_v2.aio import AsyncClient
from alibabacloud_oss_v2.credentials import StaticCredentialsProvider as OssV2StaticProvider
from alibabacloud_oss_v2.exceptions import OperationError

from credentials import StaticCredentialsProvider
from credentials.config import KmsEndpoint
from credentials.kms.client import KmsClient
from credentials.managed import ManagedSecretProvider
from credentials.model import mask
from proxy import ProxyAsyncOssClient, ProxyBucket, ProxyOssClient
from proxy.bodies import body_rewinder
from proxy.oss.calls import unwrap_sized_file_adapter
from tests.oss_v2_helpers import v2_config

DATA = bytes(range(256)) * 40 + b"the end"  # not one value repeated: a misplaced byte changes the content
TEXT = "a text-mode file: h\u00e9llo, w\u00f6rld\n" * 100
RESENT, REFUSED, SDK_REFUSES = "re-sent whole", "not re-sent", "refused by the SDK"
CALLS = ("put_object", "append_object", "upload_part")


class OneWayStream:
    """Read once, front to back, as from a socket: read(); seekable() is False and seek() refuses. No tell() (oss2
    would call it to size the body: a socket cannot say)."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def read(self, size: Optional[int] = -1) -> bytes:
        return self._data.read(size)

    def seekable(self) -> bool:
        return False

    def seek(self, *args: Any) -> int:
        raise io.UnsupportedOperation("seek")


class Chunks:
    """Issue 19 row a: iterable but not an iterator (``__iter__`` only) over a one-way stream: a second ``__iter__``
    yields nothing."""

    def __init__(self, stream: OneWayStream):
        self._stream = stream

    def __iter__(self):
        return iter(lambda: self._stream.read(1024), b"")


class AsyncChunks:
    """The same for asyncio: ``__aiter__`` only, over a one-way stream."""

    def __init__(self, stream: OneWayStream):
        self._stream = stream

    async def __aiter__(self):
        for chunk in iter(lambda: self._stream.read(1024), b""):
            yield chunk


async def async_chunks(data: bytes):
    for start in range(0, len(data), 1024):
        yield data[start : start + 1024]


class Files:
    """The files bodies are read from; everything opened is closed after the test."""

    def __init__(self, tmp_path):
        self.binary, self.text = tmp_path / "data.bin", tmp_path / "text.txt"
        self.binary.write_bytes(DATA)
        self.text.write_text(TEXT, encoding="utf-8")
        self.opened = []

    def open(self, path, mode: str = "rb", skip: int = 0):
        f = open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"}))
        self.opened.append(f)
        f.read(skip)
        return f

    def mmap(self):
        m = mmap.mmap(self.open(self.binary).fileno(), 0, access=mmap.ACCESS_READ)
        self.opened.append(m)
        return m

    def close(self):
        for f in reversed(self.opened):
            f.close()


def partly_read_bytes_io() -> io.BytesIO:
    stream = io.BytesIO(b"HEADER" + DATA)
    stream.read(6)  # the body starts where the caller left the stream
    return stream


@dataclass(frozen=True)
class Kind:
    make: Callable[[Files], Any]
    expected: Dict[str, str]  # SDK -> RESENT, REFUSED or SDK_REFUSES
    why: Optional[str] = None  # REFUSED: what the warning says of the body
    calls: Tuple[str, ...] = ("put_object",)


def everywhere(outcome: str, **exceptions: str) -> Dict[str, str]:
    sdks = dict.fromkeys(("oss2", "v2", "v2-async"), outcome)
    return {**sdks, **{sdk.replace("_", "-"): value for sdk, value in exceptions.items()}}


KINDS: Dict[str, Kind] = {
    "bytes": Kind(lambda f: DATA, everywhere(RESENT)),
    "bytearray": Kind(lambda f: bytearray(DATA), everywhere(SDK_REFUSES)),
    "memoryview": Kind(lambda f: memoryview(DATA), everywhere(SDK_REFUSES)),
    "str": Kind(lambda f: "an ascii str body, sent whole\n" * 300, everywhere(RESENT)),
    "partly read BytesIO": Kind(lambda f: partly_read_bytes_io(), everywhere(RESENT), calls=CALLS),
    "file": Kind(lambda f: f.open(f.binary), everywhere(RESENT)),
    "partly read file": Kind(lambda f: f.open(f.binary, skip=1000), everywhere(RESENT)),
    # oss2 computes its CRC over what read() returns, and a text file returns str: it needs enable_crc=False
    "text-mode file": Kind(lambda f: f.open(f.text, "r"), everywhere(RESENT, oss2=SDK_REFUSES, oss2_no_crc=RESENT)),
    # OSS SDK V2 takes a stream that says it can seek: mmap has seekable() from Python 3.13 on, and is stored then
    "mmap": Kind(
        lambda f: f.mmap(), everywhere(RESENT if hasattr(mmap.mmap, "seekable") else SDK_REFUSES, oss2=RESENT)
    ),
    "non-seekable stream": Kind(
        lambda f: OneWayStream(DATA),
        everywhere(REFUSED),
        "OneWayStream: a stream that cannot seek back to where it stood",
    ),
    "generator": Kind(
        lambda f: (DATA[i : i + 1024] for i in range(0, len(DATA), 1024)),
        everywhere(REFUSED, v2_async=SDK_REFUSES),
        "a generator: an iterator, what it gave is gone",
    ),
    "iterator": Kind(
        lambda f: iter([DATA[:1000], DATA[1000:]]),
        everywhere(REFUSED, v2_async=SDK_REFUSES),
        "list_iterator: an iterator, what it gave is gone",
    ),
    "iterable only (issue 19 row a)": Kind(
        lambda f: Chunks(OneWayStream(DATA)),
        everywhere(REFUSED, v2_async=SDK_REFUSES),
        "Chunks: an iterable (only bytes, str and seekable streams are sent again)",
        calls=CALLS,
    ),
    "async generator": Kind(
        lambda f: async_chunks(DATA), {"v2-async": REFUSED}, "an async generator: an iterator, what it gave is gone"
    ),
    # The async SDK (1.4.1) calls iter() on an async iterable that is not an iterator, and fails; the proxy's own
    # refusal of it: test_the_rule_before_the_first_attempt.
    "async iterable only": Kind(lambda f: AsyncChunks(OneWayStream(DATA)), {"v2-async": SDK_REFUSES}),
    "a progress adapter the caller made": Kind(
        lambda f: oss2.utils.make_progress_adapter(io.BytesIO(DATA), lambda done, total: None),
        {"oss2": REFUSED},
        "_BytesAndFileAdapter: a stream that cannot seek back to where it stood",
    ),
    # multipart parts as oss2.resumable_upload hands them to upload_part
    "SizedFileAdapter over a partly read file": Kind(
        lambda f: oss2.utils.SizedFileAdapter(f.open(f.binary, skip=1000), 5000), {"oss2": RESENT}, calls=CALLS[2:]
    ),
    "SizedFileAdapter over a non-seekable stream": Kind(
        lambda f: oss2.utils.SizedFileAdapter(OneWayStream(DATA), 5000),
        {"oss2": REFUSED},
        "OneWayStream inside SizedFileAdapter: a stream that cannot seek back to where it stood",
        calls=CALLS[2:],
    ),
}


# ---- the SDKs: one call by the plain client (a key of its own) or by the proxy (the managed key) ---------------


def error_of(exc: BaseException) -> str:
    """The service's error code, or the type of the SDK's own error."""
    if isinstance(exc, OperationError):
        exc = exc.unwrap()
    return getattr(exc, "code", None) or type(exc).__name__


def oss2_call(bucket, call: str, key: str, body: Any, rotate: Callable[[], None]) -> None:
    upload_id = bucket.init_multipart_upload(key).upload_id if call == "upload_part" else None
    rotate()  # just before the call with the body
    if call == "put_object":
        bucket.put_object(key, body)
    elif call == "append_object":
        bucket.append_object(key, 0, body)
    else:
        bucket.upload_part(key, upload_id, 1, body)
        bucket.complete_multipart_upload(key, upload_id, bucket.list_parts(key, upload_id).parts)


async def v2_call(client, call: str, bucket: str, key: str, body: Any, rotate: Callable[[], None], wait) -> None:
    """The same calls with OSS SDK V2, sync (``wait`` returns the result) or async (``wait`` awaits it)."""
    where = dict(bucket=bucket, key=key)
    if call == "upload_part":
        upload = await wait(client.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(**where)))
    rotate()
    if call == "put_object":
        await wait(client.put_object(oss.PutObjectRequest(**where, body=body)))
    elif call == "append_object":
        # with a per-call option, as callers may pass: the proxy finds the body among the arguments
        await wait(client.append_object(oss.AppendObjectRequest(**where, position=0, body=body), retry_max_attempts=1))
    else:
        request = oss.UploadPartRequest(**where, upload_id=upload.upload_id, part_number=1, body=body)
        part = await wait(client.upload_part(request))
        parts = oss.CompleteMultipartUpload(parts=[oss.UploadPart(part_number=1, etag=part.etag)])
        request = oss.CompleteMultipartUploadRequest(
            **where, upload_id=upload.upload_id, complete_multipart_upload=parts
        )
        await wait(client.complete_multipart_upload(request))


async def _returned(value: Any) -> Any:
    return value


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def run_sync(coroutine: Any) -> None:
    """Run v2_call for the sync client: nothing in it suspends, so no event loop is involved."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise AssertionError("a sync OSS SDK V2 call suspended")


def with_oss2(cloud, bucket, credentials, call, key, body, rotate, **options):
    if isinstance(credentials, tuple):  # the plain SDK, with a key of its own
        client = oss2.Bucket(oss2.Auth(*credentials), cloud.oss_endpoint, bucket, **options)
    else:  # the proxy, with the managed key
        client = ProxyBucket(
            credentials_provider=credentials, endpoint=cloud.oss_endpoint, bucket_name=bucket, **options
        )
    try:
        oss2_call(client, call, key, body, rotate)
    finally:
        getattr(client, "shutdown", lambda: None)()


def with_v2(cloud, bucket, credentials, call, key, body, rotate):
    if isinstance(credentials, tuple):
        client = oss.Client(v2_config(cloud, credentials_provider=OssV2StaticProvider(*credentials)))
    else:
        client = ProxyOssClient(v2_config(cloud), credentials_provider=credentials)
    try:
        run_sync(v2_call(client, call, bucket, key, body, rotate, _returned))
    finally:
        getattr(client, "shutdown", lambda: None)()


def with_v2_async(cloud, bucket, credentials, call, key, body, rotate):
    async def main():
        if isinstance(credentials, tuple):
            client = AsyncClient(v2_config(cloud, credentials_provider=OssV2StaticProvider(*credentials)))
        else:
            client = ProxyAsyncOssClient(v2_config(cloud), credentials_provider=credentials)
        async with client:
            await v2_call(client, call, bucket, key, body, rotate, _awaited)

    asyncio.run(main())


SDKS: Dict[str, Callable[..., None]] = {
    "oss2": with_oss2,
    "oss2-no-crc": lambda *args: with_oss2(*args, enable_crc=False),
    "v2": with_v2,
    "v2-async": with_v2_async,
}


def upload(sdk: str, *args: Any) -> Optional[str]:
    """One call with a body, by the plain SDK (given a key pair) or the proxy (given a provider); the error it
    raised (its code, or its type), or None."""
    try:
        SDKS[sdk](*args)
    except Exception as exc:  # noqa: BLE001 - the error is part of the outcome compared
        return error_of(exc)
    return None


def cases():
    for name, kind in KINDS.items():
        for call, sdk in itertools.product(kind.calls, kind.expected):
            yield pytest.param(sdk, call, name, id=f"{sdk}-{call}-{name}")


# ---- the tests ---------------------------------------------------------------------------------------------------

_serial = itertools.count()


@pytest.fixture
def cloud(shared_cloud_emulator):
    return shared_cloud_emulator


@pytest.fixture
def files(tmp_path):
    files = Files(tmp_path)
    yield files
    files.close()


@dataclass
class Setting:
    bucket: str
    secret: str
    provider: ManagedSecretProvider
    plain_key: Tuple[str, str]


@pytest.fixture
def setting(cloud):
    """A bucket of its own, a managed secret whose key the provider holds, and a key for the plain SDK."""
    n = next(_serial)
    secret, bucket = f"bodies-{n}", f"bodies-{n}"
    cloud.create_secret(secret)
    cloud.create_bucket(bucket)
    kms = KmsClient(
        [KmsEndpoint(cloud.region_id, cloud.kms_host, "http")],
        StaticCredentialsProvider(*cloud.kms_access_key),
        wait=tenacity.wait_random_exponential(multiplier=0.01, max=0.05),
        read_timeout=3.0,
    )
    provider = ManagedSecretProvider(secret, kms)
    provider.get_credentials()
    yield Setting(bucket, secret, provider, cloud.add_access_key())
    provider.close()


@pytest.mark.parametrize("sdk, call, kind", list(cases()))
def test_a_body_after_a_revocation_is_stored_as_the_plain_sdk_stores_it_or_not_sent_again(
    cloud, setting, files, caplog, sdk, call, kind
):
    body_kind, bucket = KINDS[kind], setting.bucket
    expected = body_kind.expected[sdk]
    action = {"put_object": "PutObject", "append_object": "AppendObject", "upload_part": "UploadPart"}[call]

    plain_error = upload(sdk, cloud, bucket, setting.plain_key, call, "plain", body_kind.make(files), lambda: None)
    plain = (plain_error, cloud.oss_object(bucket, "plain"))

    old_id, new_ids = setting.provider.get_credentials().access_key_id, []
    sent_before, refused_before = cloud.count(action), cloud.count(action, code="InvalidAccessKeyId")

    def revoke():
        new_ids.append(cloud.rotate_secret(setting.secret, mode="revoke")[0])

    caplog.set_level(logging.WARNING, logger="managed_credentials.proxy")
    proxy_error = upload(sdk, cloud, bucket, setting.provider, call, "proxy", body_kind.make(files), revoke)
    proxy = (proxy_error, cloud.oss_object(bucket, "proxy"))
    sent = cloud.count(action) - sent_before
    warnings = [r.getMessage() for r in caplog.records if r.name == "managed_credentials.proxy"]

    if expected == SDK_REFUSES:
        assert plain[0] is not None and plain[1] is None, "the plain SDK was expected to refuse this body"
        assert proxy == plain
        return
    assert plain[0] is None and plain[1] is not None, "the plain SDK was expected to store this body"
    assert cloud.count(action, code="InvalidAccessKeyId") - refused_before == 1  # the first attempt, refused
    if expected == RESENT:
        assert proxy == plain  # the same bytes, whole, from where the body stood when the call began
        assert sent == 2  # refused once, re-issued once
        [healed] = warnings  # the rotation's one line (proxy/outcomes.py), nothing about the body
        assert f"key {mask(old_id)} was rejected" in healed and f"re-issued with key {mask(new_ids[0])}" in healed
    else:
        assert proxy == ("InvalidAccessKeyId", None)  # the service's error; nothing stored, nothing partial
        assert sent == 1  # never sent again
        assert warnings == [
            f"key {mask(old_id)} was rejected and the request body cannot be sent again ({body_kind.why}): "
            f"raising the error; the next call uses key {mask(new_ids[0])}"
        ]


def test_a_key_list_given_as_a_generator_is_not_sent_again(cloud, setting):
    """Arguments other than the body that oss2 iterates follow the same rule: a generator of keys would build an
    empty Delete request the second time. A list is iterated anew: it heals."""
    plain = oss2.Bucket(oss2.Auth(*setting.plain_key), cloud.oss_endpoint, setting.bucket)
    for key in ("a", "b", "c", "x", "y"):
        plain.put_object(key, b"kept")
    assert plain.batch_delete_objects(key for key in ("x", "y")).deleted_keys == ["x", "y"]  # oss2 takes one
    bucket = ProxyBucket(credentials_provider=setting.provider, endpoint=cloud.oss_endpoint, bucket_name=setting.bucket)
    with bucket:
        cloud.rotate_secret(setting.secret, mode="revoke")
        with pytest.raises(oss2.exceptions.ServerError) as info:
            bucket.batch_delete_objects(key for key in ("a", "b"))
        assert info.value.code == "InvalidAccessKeyId"
        assert [cloud.oss_object(setting.bucket, key) for key in "abc"] == [b"kept"] * 3
        cloud.rotate_secret(setting.secret, mode="revoke")
        assert bucket.batch_delete_objects(["a", "b"]).deleted_keys == ["a", "b"]
        assert [cloud.oss_object(setting.bucket, key) for key in "abc"] == [None, None, b"kept"]


class RevokesAfter(OneWayStream):
    """A one-way reader that revokes the key once ``at`` bytes have been read (the upload is then under way)."""

    def __init__(self, data: bytes, at: int, revoke: Callable[[], None]):
        super().__init__(data)
        self._at, self._revoke, self._read, self.revoked = at, revoke, 0, threading.Event()

    def read(self, size: Optional[int] = -1) -> bytes:
        if self._read >= self._at and not self.revoked.is_set():
            self.revoked.set()
            self._revoke()
        chunk = super().read(size)
        self._read += len(chunk)
        return chunk


def test_the_v2_uploader_heals_the_parts_of_a_one_way_reader(cloud, setting):
    """The uploader reads a reader that cannot seek part by part into bytes: each part is replayable, so a
    revocation in the middle costs re-sent parts, never the upload (a seekable reader: test_oss_v2.py)."""
    data = bytes(range(256)) * 400 * 10 + b"tail"  # ten 100 KiB parts and a short one
    reader = RevokesAfter(data, at=3 * 100 * 1024, revoke=lambda: cloud.rotate_secret(setting.secret, mode="revoke"))
    refused, fetches = cloud.count("UploadPart", code="InvalidAccessKeyId"), cloud.count("GetSecretValue")
    with ProxyOssClient(v2_config(cloud), credentials_provider=setting.provider) as client:
        uploader = client.uploader(part_size=100 * 1024, parallel_num=3)
        uploader.upload_from(oss.PutObjectRequest(bucket=setting.bucket, key="big"), reader)
    assert reader.revoked.is_set()
    assert cloud.oss_object(setting.bucket, "big") == data
    assert cloud.count("UploadPart", code="InvalidAccessKeyId") - refused >= 1
    assert cloud.count("GetSecretValue") - fetches == 1


class SeekDoesNothing(io.BytesIO):
    """Says it can seek; a seek back leaves it where it is (a re-send would find the stream at its end)."""

    def seek(self, position: int, whence: int = 0) -> int:
        return self.tell()


class SeekFails(io.BytesIO):
    def seek(self, position: int, whence: int = 0) -> int:
        raise OSError("the device is gone")


class SaysItCannotSeek(io.BytesIO):
    """seek() and tell() would work, but seekable() says False: the io protocol's answer is taken at its word."""

    def seekable(self) -> bool:
        return False


class OldStyleFile:
    """read, seek and tell, but no seekable() (older than the io protocol, as mmap before Python 3.13)."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)
        self.read, self.seek, self.tell = self._data.read, self._data.seek, self._data.tell


def closed_stream() -> io.BytesIO:
    stream = io.BytesIO(DATA)
    stream.close()
    return stream


SENT_AS_IS, REWOUND = "sent as it is", "rewound"


@pytest.mark.parametrize(
    "make, expected",
    [
        pytest.param(lambda: b"bytes", SENT_AS_IS, id="bytes"),
        pytest.param(lambda: "str", SENT_AS_IS, id="str"),
        pytest.param(lambda: bytearray(b"x"), SENT_AS_IS, id="bytearray"),
        pytest.param(lambda: memoryview(b"x"), SENT_AS_IS, id="memoryview"),
        pytest.param(partly_read_bytes_io, REWOUND, id="partly read BytesIO"),
        pytest.param(lambda: OldStyleFile(DATA), REWOUND, id="seek and tell without seekable()"),
        pytest.param(lambda: mmap.mmap(-1, 64), REWOUND, id="anonymous mmap"),
        pytest.param(
            lambda: SeekDoesNothing(DATA), "SeekDoesNothing did not go back to position 0 when asked", id="seek no-op"
        ),
        pytest.param(
            lambda: SeekFails(DATA), "SeekFails could not be put back to position 0 (OSError)", id="seek fails"
        ),
        pytest.param(
            lambda: SaysItCannotSeek(DATA),
            "SaysItCannotSeek: a stream that cannot seek back to where it stood",
            id="seekable() False",
        ),
        pytest.param(closed_stream, "BytesIO: a stream that cannot seek back to where it stood", id="closed stream"),
        pytest.param(
            lambda: AsyncChunks(OneWayStream(DATA)),
            "AsyncChunks: an iterable (only bytes, str and seekable streams are sent again)",
            id="async iterable only",
        ),
        pytest.param(
            lambda: [b"a", b"b"], "list: an iterable (only bytes, str and seekable streams are sent again)", id="list"
        ),
        pytest.param(lambda: 42, "int: not bytes, str or a seekable stream", id="int"),
        pytest.param(object, "object: not bytes, str or a seekable stream", id="unknown type"),
    ],
)
def test_the_rule_before_the_first_attempt(make, expected):
    """An allow-list: what is not known to give the same bytes twice is refused, whatever it looks like."""
    body = make()
    rewind = body_rewinder([body])
    start = body.tell() if expected == REWOUND else None
    if hasattr(body, "read") and not getattr(body, "closed", False):
        body.read()  # as the first attempt does
    if expected == SENT_AS_IS:
        assert rewind is None
    elif expected == REWOUND:
        assert rewind() and body.tell() == start
    else:
        assert rewind is not None and rewind() is False and rewind.reason == expected


def test_a_sized_adapter_is_judged_by_the_stream_inside_and_put_back_with_it():
    stream = partly_read_bytes_io()
    part = oss2.utils.SizedFileAdapter(stream, 100)
    rewind = body_rewinder([part], unwrap_sized_file_adapter)
    first = part.read()
    assert rewind() and (part.offset, stream.tell()) == (0, 6)
    assert part.read() == first == DATA[:100]
