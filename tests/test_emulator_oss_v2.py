"""The emulator serves what OSS SDK V2 (alibabacloud-oss-v2) sends by default, proven with the PLAIN V2 client and a
static credentials provider: V4 (and V1) header signing, path style on an IP endpoint, an STS token, the uploader's
multipart calls, copy_object, V4 presigned URLs. The proxy tests (test_oss_v2*.py) rely on exactly these."""

import datetime
import io
import os

import alibabacloud_oss_v2 as oss
import pytest
import requests
from alibabacloud_oss_v2.credentials import StaticCredentialsProvider as OssStaticProvider
from alibabacloud_oss_v2.exceptions import OperationError

from tests.oss_v2_helpers import BUCKET, get, put, service_error, v2_config


@pytest.mark.parametrize("signature_version", ["v4", "v1"])
def test_plain_v2_client_object_calls_path_style_on_an_ip_endpoint(cloud, signature_version):
    key_id, secret = cloud.add_access_key()
    client = oss.Client(
        v2_config(cloud, credentials_provider=OssStaticProvider(key_id, secret), signature_version=signature_version)
    )
    client.put_bucket(oss.PutBucketRequest(bucket=BUCKET))
    put(client, "dir/a b.txt", b"hello")
    assert get(client, "dir/a b.txt") == b"hello"
    assert client.head_object(oss.HeadObjectRequest(bucket=BUCKET, key="dir/a b.txt")).content_length == 5
    listed = client.list_objects_v2(oss.ListObjectsV2Request(bucket=BUCKET))
    assert [o.key for o in listed.contents] == ["dir/a b.txt"]
    client.delete_object(oss.DeleteObjectRequest(bucket=BUCKET, key="dir/a b.txt"))
    assert cloud.oss_object(BUCKET, "dir/a b.txt") is None
    for action in ("PutBucket", "PutObject", "GetObject", "HeadObject", "ListObjectsV2", "DeleteObject"):
        assert cloud.count(action, access_key_id=key_id, code="OK") == 1, action


def test_plain_v2_client_signs_the_sts_token_and_a_wrong_secret_is_refused(cloud):
    key_id, secret = cloud.add_access_key(security_token=True)
    token = cloud.security_token_of(key_id)
    client = oss.Client(v2_config(cloud, credentials_provider=OssStaticProvider(key_id, secret, token)))
    put(client, "k", b"v")
    assert cloud.count("PutObject", access_key_id=key_id, code="OK") == 1
    wrong = oss.Client(v2_config(cloud, credentials_provider=OssStaticProvider(key_id, "not-the-secret", token)))
    with pytest.raises(OperationError) as exc_info:
        get(wrong, "k")
    assert service_error(exc_info).code == "SignatureDoesNotMatch"


def test_plain_v2_uploader_multipart_and_copy(cloud):
    key_id, secret = cloud.add_access_key()
    cloud.create_bucket(BUCKET)
    client = oss.Client(v2_config(cloud, credentials_provider=OssStaticProvider(key_id, secret)))
    data = os.urandom(3 * 100 * 1024 + 1234)
    result = client.uploader(part_size=100 * 1024, parallel_num=2).upload_from(
        oss.PutObjectRequest(bucket=BUCKET, key="big"), io.BytesIO(data)
    )
    assert result.upload_id and cloud.oss_object(BUCKET, "big") == data
    assert cloud.count("UploadPart", access_key_id=key_id, code="OK") == 4
    assert cloud.count("CompleteMultipartUpload", access_key_id=key_id, code="OK") == 1
    client.copy_object(oss.CopyObjectRequest(bucket=BUCKET, key="copy", source_bucket=BUCKET, source_key="big"))
    assert cloud.oss_object(BUCKET, "copy") == data


@pytest.mark.parametrize("sts", [False, True], ids=["ak", "sts"])
def test_plain_v2_presigned_v4_urls_get_and_put(cloud, sts):
    key_id, secret = cloud.add_access_key(security_token=sts or None)
    token = cloud.security_token_of(key_id)
    cloud.create_bucket(BUCKET)
    client = oss.Client(v2_config(cloud, credentials_provider=OssStaticProvider(key_id, secret, token)))
    signed = client.presign(oss.PutObjectRequest(bucket=BUCKET, key="p"), expires=datetime.timedelta(minutes=5))
    assert "x-oss-signature=" in signed.url and ("x-oss-security-token=" in signed.url) == sts
    assert requests.put(signed.url, data=b"presigned", headers=signed.signed_headers, timeout=5).status_code == 200
    url = client.presign(oss.GetObjectRequest(bucket=BUCKET, key="p")).url
    answer = requests.get(url, timeout=5)
    assert answer.status_code == 200 and answer.content == b"presigned"
    tampered = url.replace("x-oss-expires=900", "x-oss-expires=901")
    assert requests.get(tampered, timeout=5).status_code == 403
    assert cloud.count("GetObject", access_key_id=key_id, code="OK") == 1
