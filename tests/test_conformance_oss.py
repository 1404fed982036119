"""Conformance matrix: every public oss2.Bucket / oss2.Service method the emulator serves is called once right
after a revoking rotation and succeeds through ProxyBucket / ProxyService with exactly one GetSecretValue,
signed with oss2's V1 and with its V4.

The tables BUCKET_CALLS and SERVICE_CALLS are also what README's "Which calls heal" (OSS) table is checked
against (tests/test_docs.py). One emulator serves the whole module; each case has its own secret and bucket.
"""

import io
import itertools
from typing import Callable, Dict, Tuple

import oss2
import pytest
import tenacity

from credentials import StaticCredentialsProvider
from credentials.config import KmsEndpoint
from credentials.kms.client import KmsClient
from credentials.managed import ManagedSecretProvider
from proxy import ProxyBucket, ProxyService
from proxy.oss.calls import _NOT_REISSUED
from tests.cloud.oss_multipart import MIN_PART_SIZE

PART = b"p" * MIN_PART_SIZE
Setup = Callable[[oss2.Bucket, dict], None]
Call = Callable[[oss2.Bucket, dict], object]


def _upload(b, ctx, key="mp"):
    ctx["upload_id"] = b.init_multipart_upload(key).upload_id


def _uploaded_part(b, ctx):
    _upload(b, ctx)
    b.upload_part("mp", ctx["upload_id"], 1, PART)


def _objects(*names):
    def setup(b, ctx):
        for name in names:
            b.put_object(name, b"content of " + name.encode())

    return setup


def _file(b, ctx):
    path = ctx["tmp_path"] / "upload.bin"
    path.write_bytes(b"from a file" * 1000)
    ctx["file"] = str(path)


def _stream_at(offset: int) -> io.BytesIO:
    stream = io.BytesIO(b"H" * offset + PART)
    stream.seek(offset)
    return stream


# method -> (setup before the rotation, the call after it). Bodies are streams wherever the method takes one,
# so the re-issue has to rewind them.
BUCKET_CALLS: Dict[str, Tuple[Setup, Call]] = {
    "abort_multipart_upload": (_upload, lambda b, c: b.abort_multipart_upload("mp", c["upload_id"])),
    "append_object": (_objects(), lambda b, c: b.append_object("log", 0, _stream_at(3))),
    "batch_delete_objects": (_objects("a", "b"), lambda b, c: b.batch_delete_objects(["a", "b"])),
    "complete_multipart_upload": (
        _uploaded_part,
        lambda b, c: b.complete_multipart_upload("mp", c["upload_id"], b.list_parts("mp", c["upload_id"]).parts),
    ),
    "copy_object": (_objects("src"), lambda b, c: b.copy_object(b.bucket_name, "src", "dst")),
    "create_bucket": (_objects(), lambda b, c: b.create_bucket()),
    "delete_bucket": (_objects(), lambda b, c: b.delete_bucket()),
    "delete_object": (_objects("k"), lambda b, c: b.delete_object("k")),
    "get_object": (_objects("k"), lambda b, c: b.get_object("k", byte_range=(0, 3)).read()),
    "get_object_meta": (_objects("k"), lambda b, c: b.get_object_meta("k")),
    "get_object_to_file": (_objects("k"), lambda b, c: b.get_object_to_file("k", str(c["tmp_path"] / "got"))),
    "head_object": (_objects("k"), lambda b, c: b.head_object("k")),
    "init_multipart_upload": (_objects(), lambda b, c: b.init_multipart_upload("mp")),
    "list_multipart_uploads": (_upload, lambda b, c: b.list_multipart_uploads()),
    "list_objects": (_objects("k"), lambda b, c: b.list_objects()),
    "list_objects_v2": (_objects("k"), lambda b, c: b.list_objects_v2()),
    "list_parts": (_uploaded_part, lambda b, c: b.list_parts("mp", c["upload_id"])),
    "object_exists": (_objects("k"), lambda b, c: b.object_exists("k")),
    "put_object": (_objects(), lambda b, c: b.put_object("k", _stream_at(7))),
    "put_object_from_file": (_file, lambda b, c: b.put_object_from_file("k", c["file"])),
    "update_object_meta": (_objects("k"), lambda b, c: b.update_object_meta("k", {"x-oss-meta-colour": "red"})),
    "upload_part": (
        _upload,
        lambda b, c: b.upload_part("mp", c["upload_id"], 1, oss2.utils.SizedFileAdapter(_stream_at(5), len(PART))),
    ),
    "upload_part_copy": (
        lambda b, c: (_objects("src")(b, c), _upload(b, c)),
        lambda b, c: b.upload_part_copy(b.bucket_name, "src", (0, 3), "mp", c["upload_id"], 1),
    ),
}

SERVICE_CALLS: Dict[str, Call] = {
    "list_buckets": lambda s, c: s.list_buckets(),
}

# What each call must have left behind, where that says more than "it returned" (bodies re-sent whole).
_EFFECTS = {
    "append_object": lambda cloud, b, c: cloud.oss_object(b.bucket_name, "log") == PART,
    "put_object": lambda cloud, b, c: cloud.oss_object(b.bucket_name, "k") == PART,
    "put_object_from_file": lambda cloud, b, c: cloud.oss_object(b.bucket_name, "k") == b"from a file" * 1000,
    "copy_object": lambda cloud, b, c: cloud.oss_object(b.bucket_name, "dst") == b"content of src",
    "batch_delete_objects": lambda cloud, b, c: cloud.oss_object(b.bucket_name, "a") is None,
    "complete_multipart_upload": lambda cloud, b, c: cloud.oss_object(b.bucket_name, "mp") == PART,
    "upload_part": lambda cloud, b, c: b.list_parts("mp", c["upload_id"]).parts[0].size == len(PART),
    "get_object_to_file": lambda cloud, b, c: (c["tmp_path"] / "got").read_bytes() == b"content of k",
}

_serial = itertools.count()


@pytest.fixture
def cloud(shared_cloud_emulator):
    return shared_cloud_emulator


@pytest.fixture
def provider(cloud):
    name = "conformance-%d" % next(_serial)
    cloud.create_secret(name)
    kms = KmsClient(
        [KmsEndpoint(cloud.region_id, cloud.kms_host, "http")],
        StaticCredentialsProvider(*cloud.kms_access_key),
        wait=tenacity.wait_random_exponential(multiplier=0.01, max=0.05),
        read_timeout=3.0,
    )
    provider = ManagedSecretProvider(name, kms)
    provider.get_credentials()
    provider.secret_name = name
    return provider


def _after_revocation(cloud, provider, call):
    """Rotate (revoke) the secret, run call(), and return (its result, GetSecretValue calls, refused requests)."""
    fetches, refused = cloud.count("GetSecretValue"), cloud.count(service="oss", code="InvalidAccessKeyId")
    cloud.rotate_secret(provider.secret_name, mode="revoke")
    result = call()
    return (
        result,
        cloud.count("GetSecretValue") - fetches,
        cloud.count(service="oss", code="InvalidAccessKeyId") - refused,
    )


def _signing(cloud, version):
    return {"auth_version": "v4", "region": cloud.region_id} if version == "v4" else {}


@pytest.mark.parametrize("version", ["v1", "v4"])
@pytest.mark.parametrize("method", sorted(BUCKET_CALLS))
def test_bucket_method_heals_after_a_revocation(cloud, provider, tmp_path, method, version):
    bucket = ProxyBucket(
        credentials_provider=provider,
        endpoint=cloud.oss_endpoint,
        bucket_name="conf-%s-%s" % (version, method.replace("_", "-")),
        **_signing(cloud, version),
    )
    setup, call = BUCKET_CALLS[method]
    ctx = {"tmp_path": tmp_path}
    bucket.create_bucket()
    setup(bucket, ctx)
    try:
        _, fetched, refused = _after_revocation(cloud, provider, lambda: call(bucket, ctx))
        assert (fetched, refused >= 1) == (1, True), "one GetSecretValue, after the old key was refused"
        assert _EFFECTS.get(method, lambda *_: True)(cloud, bucket, ctx)
    finally:
        bucket.shutdown()


@pytest.mark.parametrize("version", ["v1", "v4"])
@pytest.mark.parametrize("method", sorted(SERVICE_CALLS))
def test_service_method_heals_after_a_revocation(cloud, provider, tmp_path, method, version):
    service = ProxyService(credentials_provider=provider, endpoint=cloud.oss_endpoint, **_signing(cloud, version))
    try:
        _, fetched, refused = _after_revocation(cloud, provider, lambda: SERVICE_CALLS[method](service, {}))
        assert (fetched, refused >= 1) == (1, True)
    finally:
        service.shutdown()


def test_the_matrix_names_real_methods_and_leaves_out_only_the_url_family():
    public = {n for n in dir(oss2.Bucket) if not n.startswith("_") and callable(getattr(oss2.Bucket, n))}
    assert set(BUCKET_CALLS) <= public and set(SERVICE_CALLS) <= set(dir(oss2.Service))
    assert _NOT_REISSUED <= public and not _NOT_REISSUED & set(BUCKET_CALLS)
