"""The emulator's OSS surface beyond plain objects, driven by the PLAIN oss2.Bucket / oss2.Service and by plain
HTTP for presigned URLs, so the emulator follows oss2's signers (V1, V2, V4; header and query string)."""

import datetime
import io
import re
import time
import xml.etree.ElementTree as ElementTree

import oss2
import pytest
import requests

from tests.cloud.oss_multipart import MIN_PART_SIZE

REGION = "cn-hangzhou"
VERSIONS = ["v1", "v2", "v4"]


@pytest.fixture
def cloud(shared_cloud_emulator):
    return shared_cloud_emulator


def auth_for(key, version, token=None):
    if token:
        return oss2.StsAuth(
            key[0],
            key[1],
            token,
            auth_version={"v1": oss2.AUTH_VERSION_1, "v2": oss2.AUTH_VERSION_2, "v4": oss2.AUTH_VERSION_4}[version],
        )
    return {"v1": oss2.Auth, "v2": oss2.AuthV2, "v4": oss2.AuthV4}[version](*key)


def plain_bucket(cloud, key, version="v1", name=None, token=None):
    """A plain oss2.Bucket; by default on a bucket of the key's own (tests share one emulator)."""
    name = name or re.sub("[^a-z0-9]", "-", key[0].lower())
    return oss2.Bucket(auth_for(key, version, token), cloud.oss_endpoint, name, connect_timeout=5, region=REGION)


@pytest.fixture
def key(cloud):
    return cloud.add_access_key()


def oss_error(fn, *args, **kwargs) -> oss2.exceptions.ServerError:
    with pytest.raises(oss2.exceptions.ServerError) as info:
        fn(*args, **kwargs)
    return info.value


def blob(n: int, seed: int = 0) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(n))


# ---- signatures ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_header_signatures_and_key_errors(cloud, key, version):
    b = plain_bucket(cloud, key, version)
    b.put_object("k/odd name+é", b"data", headers={"x-oss-meta-a": "1"})
    assert b.get_object("k/odd name+é", byte_range=(1, 2)).read() == b"at"
    assert oss_error(plain_bucket(cloud, (key[0], "wrong"), version).get_object, "k").code == "SignatureDoesNotMatch"
    cloud.revoke_key(key[0])
    err = oss_error(b.get_object, "k/odd name+é")
    assert (err.status, err.code, err.details["OSSAccessKeyId"]) == (403, "InvalidAccessKeyId", key[0])


@pytest.mark.parametrize("version", VERSIONS)
def test_sts_token_is_checked_in_headers_and_presigned_urls(cloud, version):
    key = cloud.add_access_key(security_token=True)
    token = cloud.security_token_of(key[0])
    b = plain_bucket(cloud, key, version, token=token)
    b.put_object("sts", b"v")
    assert requests.get(b.sign_url("GET", "sts", 60), timeout=5).content == b"v"
    assert oss_error(plain_bucket(cloud, key, version, token="forged").get_object, "sts").code == "InvalidSecurityToken"
    untokened = plain_bucket(cloud, key, version).sign_url("GET", "sts", 60)
    assert presigned_error(untokened) == (403, "InvalidAccessKeyId")


def presigned_error(url, method="GET", **kwargs):
    """(HTTP status, OSS error code) of fetching a URL with plain requests; an expired one says so."""
    resp = requests.request(method, url, timeout=5, **kwargs)
    error = ElementTree.fromstring(resp.content)
    if error.findtext("Message") == "Request has expired.":
        return resp.status_code, "expired"
    return resp.status_code, error.findtext("Code")


@pytest.mark.parametrize("version", VERSIONS)
def test_a_presigned_url_dies_with_its_sts_token(cloud, version):
    key = cloud.add_access_key(security_token=True, expires_at=time.time() - 1)
    url = plain_bucket(cloud, key, version, token=cloud.security_token_of(key[0])).sign_url("GET", "k", 60)
    assert presigned_error(url) == (403, "SecurityTokenExpired")


@pytest.mark.parametrize("version", VERSIONS)
def test_presigned_urls_get_and_put(cloud, key, version):
    b = plain_bucket(cloud, key, version)
    b.put_object("shared.txt", b"hello")
    url = b.sign_url("GET", "shared.txt", 60)
    assert requests.get(url, timeout=5).content == b"hello"
    put_url = b.sign_url("PUT", "up load.bin", 60, headers={"Content-Type": "application/x-test"})
    resp = requests.put(put_url, data=b"uploaded", headers={"Content-Type": "application/x-test"}, timeout=5)
    assert resp.status_code == 200
    assert cloud.oss_object(b.bucket_name, "up load.bin") == b"uploaded"
    tampered = url.replace("shared.txt", "other.txt")
    assert presigned_error(tampered) == (403, "SignatureDoesNotMatch")
    cloud.revoke_key(key[0])
    assert presigned_error(url) == (403, "InvalidAccessKeyId")  # as a header-signed request would


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_presigned_url_expiry_v1_v2(cloud, key, version):
    b = plain_bucket(cloud, key, version)
    b.put_object("e", b"x")
    assert presigned_error(b.sign_url("GET", "e", -10)) == (403, "expired")  # expired ten seconds ago


def test_presigned_url_expiry_v4(cloud, key, monkeypatch):
    b = plain_bucket(cloud, key, "v4")
    b.put_object("e", b"x")

    class TwoHoursAgo(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return datetime.datetime.utcnow() - datetime.timedelta(hours=2)

    monkeypatch.setattr(oss2.auth, "datetime", TwoHoursAgo)  # oss2 signs as if two hours ago, valid for one
    url = b.sign_url("GET", "e", 3600)
    monkeypatch.undo()
    assert presigned_error(url) == (403, "expired")
    assert requests.get(b.sign_url("GET", "e", 3600), timeout=5).content == b"x"


def test_unsigned_request_is_refused(cloud):
    assert presigned_error(cloud.oss_endpoint + "/bkt/anything") == (403, "AccessDenied")


# ---- multipart -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_multipart_upload_complete_list_abort(cloud, key, version):
    b = plain_bucket(cloud, key, version)
    b.put_object("src", blob(300_000, 3))
    pieces = [blob(MIN_PART_SIZE, 1), blob(MIN_PART_SIZE + 5, 2)]
    upload_id = b.init_multipart_upload("mp/obj", headers={"Content-Type": "text/x-mp"}).upload_id
    parts = []
    for number, data in enumerate(pieces, 1):
        sent = b.upload_part("mp/obj", upload_id, number, data)  # oss2 checks the part's CRC64
        parts.append(oss2.models.PartInfo(number, sent.etag, size=len(data), part_crc=sent.crc))
    copied = b.upload_part_copy(b.bucket_name, "src", (10, 1009), "mp/obj", upload_id, 3)
    parts.append(oss2.models.PartInfo(3, copied.etag, size=1000))
    listed = b.list_parts("mp/obj", upload_id).parts
    assert [(p.part_number, p.etag, p.size) for p in listed] == [(p.part_number, p.etag, p.size) for p in parts]
    assert upload_id in [u.upload_id for u in b.list_multipart_uploads(prefix="mp/").upload_list]
    assert [u.key for u in oss2.MultipartUploadIterator(b)] == ["mp/obj"]

    wrong = [oss2.models.PartInfo(1, "0" * 32, size=1)] + parts[1:]
    assert oss_error(b.complete_multipart_upload, "mp/obj", upload_id, wrong).code == "InvalidPart"
    result = b.complete_multipart_upload("mp/obj", upload_id, parts)
    assert result.etag.endswith("-3")
    assert cloud.oss_object(b.bucket_name, "mp/obj") == pieces[0] + pieces[1] + blob(300_000, 3)[10:1010]
    head = b.head_object("mp/obj")
    assert (head.object_type, head.content_type) == ("Multipart", "text/x-mp")
    assert oss_error(b.list_parts, "mp/obj", upload_id).code == "NoSuchUpload"

    second = b.init_multipart_upload("mp/aborted").upload_id
    b.upload_part("mp/aborted", second, 1, b"small")
    b.upload_part("mp/aborted", second, 2, b"small too")
    small = [oss2.models.PartInfo(p.part_number, p.etag, size=p.size) for p in b.list_parts("mp/aborted", second).parts]
    assert oss_error(b.complete_multipart_upload, "mp/aborted", second, small).code == "EntityTooSmall"
    b.abort_multipart_upload("mp/aborted", second)
    assert oss_error(b.abort_multipart_upload, "mp/aborted", second).code == "NoSuchUpload"
    assert cloud.oss_object(b.bucket_name, "mp/aborted") is None


def test_complete_checks_the_part_order(cloud, key):
    b = plain_bucket(cloud, key)
    upload_id = b.init_multipart_upload("order").upload_id
    etags = [b.upload_part("order", upload_id, n, blob(MIN_PART_SIZE, n)).etag for n in (1, 2)]
    body = oss2.xml_utils.to_complete_upload_request(
        [oss2.models.PartInfo(2, etags[1]), oss2.models.PartInfo(1, etags[0])]
    )  # oss2 itself sorts
    err = oss_error(b._Bucket__do_object, "POST", "order", data=body, params={"uploadId": upload_id})
    assert err.code == "InvalidPartOrder"


def test_complete_all_and_part_log(cloud, key):
    b = plain_bucket(cloud, key)
    upload_id = b.init_multipart_upload("all").upload_id
    b.upload_part("all", upload_id, 1, blob(MIN_PART_SIZE))
    b.upload_part("all", upload_id, 2, b"tail")
    b.complete_multipart_upload("all", upload_id, None, headers={"x-oss-complete-all": "yes"})
    assert cloud.oss_object(b.bucket_name, "all") == blob(MIN_PART_SIZE) + b"tail"
    logged = [c.resource for c in cloud.calls if c.action == "UploadPart" and c.access_key_id == key[0]]
    assert logged == ["/%s/all?partNumber=%d&uploadId=%s" % (b.bucket_name, n, upload_id) for n in (1, 2)]


def test_resumable_upload_and_download_with_the_plain_bucket(cloud, key, tmp_path):
    b = plain_bucket(cloud, key)
    data = blob(3 * 1024 * 1024 + 17)
    src, dst = tmp_path / "src.bin", tmp_path / "dst.bin"
    src.write_bytes(data)
    store = oss2.ResumableStore(root=str(tmp_path))
    oss2.resumable_upload(
        b, "big", str(src), store=store, multipart_threshold=1024 * 1024, part_size=1024 * 1024, num_threads=2
    )
    assert cloud.oss_object(b.bucket_name, "big") == data
    oss2.resumable_download(
        b,
        "big",
        str(dst),
        store=oss2.ResumableDownloadStore(root=str(tmp_path)),
        multiget_threshold=1024 * 1024,
        part_size=1024 * 1024,
        num_threads=2,
    )
    assert dst.read_bytes() == data


# ---- copy, batch delete, meta, append, range -------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_copy_batch_delete_meta(cloud, key, version):
    b = plain_bucket(cloud, key, version)
    b.put_object("orig", b"payload", headers={"Content-Type": "text/plain", "x-oss-meta-colour": "red"})
    b.copy_object(b.bucket_name, "orig", "copy/one")
    head = b.head_object("copy/one")
    assert (head.content_type, head.headers["x-oss-meta-colour"]) == ("text/plain", "red")
    b.update_object_meta("copy/one", {"Content-Type": "text/x-new", "x-oss-meta-colour": "blue"})
    head = b.head_object("copy/one")
    assert (head.content_type, head.headers["x-oss-meta-colour"]) == ("text/x-new", "blue")
    assert oss_error(b.copy_object, b.bucket_name, "missing", "x").code == "NoSuchKey"

    meta = b.get_object_meta("orig")
    assert (meta.content_length, meta.etag) == (7, head.etag)
    assert b.object_exists("orig") and not b.object_exists("nothing")
    assert oss_error(b.get_object_meta, "nothing").status == 404

    keys = ["copy/one", "orig", "never existed", "a&b<c>"]
    b.put_object("a&b<c>", b"x")
    assert sorted(b.batch_delete_objects(keys).deleted_keys) == sorted(keys)
    assert [o.key for o in oss2.ObjectIterator(b, prefix="copy/")] == []
    assert cloud.oss_object(b.bucket_name, "orig") is None


def test_batch_delete_needs_a_matching_content_md5(cloud, key):
    b = plain_bucket(cloud, key)
    b.create_bucket()
    body = b"<Delete><Quiet>false</Quiet><Object><Key>k</Key></Object></Delete>"
    bad = oss_error(
        b._Bucket__do_bucket,
        "POST",
        data=body,
        params={"delete": ""},
        headers={"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="},
    )
    missing = oss_error(b._Bucket__do_bucket, "POST", data=body, params={"delete": ""})
    assert (bad.code, missing.code) == ("BadDigest", "MissingArgument")


@pytest.mark.parametrize("version", VERSIONS)
def test_append_object(cloud, key, version):
    b = plain_bucket(cloud, key, version)
    first = b.append_object("log", 0, b"one,", init_crc=0)
    assert first.next_position == 4
    second = b.append_object("log", first.next_position, io.BytesIO(b"two"), init_crc=first.crc)
    assert (second.next_position, cloud.oss_object(b.bucket_name, "log")) == (7, b"one,two")
    err = oss_error(b.append_object, "log", 3, b"late")
    assert (err.status, err.code, err.headers["x-oss-next-append-position"]) == (409, "PositionNotEqualToLength", "7")
    assert b.head_object("log").object_type == "Appendable"
    b.put_object("normal", b"n")
    assert oss_error(b.append_object, "normal", 1, b"x").code == "ObjectNotAppendable"


def test_range_get_answers_206_with_content_range(cloud, key):
    b = plain_bucket(cloud, key)
    b.put_object("r", b"0123456789")
    got = b.get_object("r", byte_range=(2, 5))
    assert (got.status, got.headers["Content-Range"], got.read()) == (206, "bytes 2-5/10", b"2345")
    assert b.get_object("r", byte_range=(None, 3)).read() == b"789"
    b.get_object_to_file("r", "/dev/null")


def test_service_and_bucket_lifecycle(cloud, key):
    service = oss2.Service(oss2.AuthV2(*key), cloud.oss_endpoint)
    b = plain_bucket(cloud, key, name="made-and-gone")
    b.create_bucket()
    assert "made-and-gone" in [x.name for x in service.list_buckets().buckets]
    b.put_object("k", b"v")
    assert oss_error(b.delete_bucket).code == "BucketNotEmpty"
    b.delete_object("k")
    b.delete_bucket()
    assert oss_error(b.delete_bucket).code == "NoSuchBucket"
