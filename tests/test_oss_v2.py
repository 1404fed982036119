"""ProxyOssClient and ManagedOssCredentialsProvider (OSS SDK V2) against the emulator, through rotations. What the
plain V2 client sends, and that the emulator serves it, is proven in test_emulator_oss_v2.py."""

import datetime
import io
import itertools
import os
import threading
import time

import alibabacloud_oss_v2 as oss
import pytest
import requests
from alibabacloud_oss_v2.exceptions import OperationError, ServiceError

from credentials import CredentialsProvider, CredentialsToolProvider, StaticCredentialsProvider
from credentials.managed import ManagedSecretProvider
from credentials.model import Credentials
from proxy import ManagedOssCredentialsProvider, OssV2AKExpireHandler, ProxyOssClient
from tests.helpers import call_through_rotation, wait_until
from tests.oss_v2_helpers import BUCKET, SECRET, get, put, service_error, v2_config


class OneWayStream(io.RawIOBase):
    """A stream that can be read once, like a socket or a pipe (seekable() is False; seek and tell raise)."""

    def __init__(self, data: bytes):
        super().__init__()
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class NewKeyEveryRefresh(CredentialsProvider):
    """A provider whose every refresh brings another key (by default one the service does not know)."""

    def __init__(self, make_key=None):
        counter = itertools.count()
        self._make_key = make_key or (lambda: ("LTAIunknown%08d" % next(counter), "secret"))
        self._credentials = self._next()

    def _next(self) -> Credentials:
        return Credentials(*self._make_key())

    def get_credentials(self) -> Credentials:
        return self._credentials

    def refresh(self, stale=None) -> Credentials:
        self._credentials = self._next()
        return self._credentials


def test_plain_client_with_the_managed_provider_and_proxy_client_sign_with_the_managed_key(cloud, configured):
    key_id, _ = cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)
    provider = ManagedOssCredentialsProvider(SECRET)
    plain = oss.Client(v2_config(cloud, credentials_provider=provider))
    put(plain, "a", b"from plain")
    with ProxyOssClient(v2_config(cloud), secret_name=SECRET) as client:
        assert isinstance(client, oss.Client) and str(client) == "<OssClient>"  # the uploader checks str()
        assert get(client, "a") == b"from plain"
    assert cloud.count("PutObject", access_key_id=key_id, code="OK") == 1
    assert cloud.count("GetObject", access_key_id=key_id, code="OK") == 1
    assert "secret" not in repr(provider.get_credentials()).lower().replace("access_key_secret=****", "")
    provider.shutdown()


def test_a_plain_client_on_the_managed_provider_picks_up_a_scheduled_refresh(cloud, kms_client):
    cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)
    provider = ManagedSecretProvider(SECRET, kms_client, refresh_interval=0.2)
    plain = oss.Client(
        v2_config(cloud, credentials_provider=ManagedOssCredentialsProvider(credentials_provider=provider))
    )
    put(plain, "k", b"v")
    new_id, _ = cloud.rotate_secret(SECRET, mode="grace")  # the old key still works: only a refresh moves on

    def signed_with_the_new_key() -> bool:
        put(plain, "k", b"v")
        return cloud.count("PutObject", access_key_id=new_id, code="OK") > 0

    assert wait_until(signed_with_the_new_key), "the plain client never signed with the refreshed key"


def test_revoked_key_heals_with_eight_threads_putting_and_getting(cloud, configured):
    cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)
    client = ProxyOssClient(v2_config(cloud), secret_name=SECRET)
    payload = b"x" * 4096
    put(client, "warm", payload)

    def put_and_get():
        name = threading.current_thread().name
        put(client, name, payload)
        assert get(client, name) == payload

    cloud.reset_counts()
    errors, (new_id, _) = call_through_rotation(put_and_get, lambda: cloud.rotate_secret(SECRET, mode="revoke"))
    client.shutdown()
    assert errors == []
    assert cloud.count("GetSecretValue") == 1
    assert cloud.count("PutObject", access_key_id=new_id, code="OK") >= 100


class RotatesMidway(io.BytesIO):
    """The data to upload; reading past ``at`` bytes revokes the key once (the upload is then under way)."""

    def __init__(self, data: bytes, at: int, rotate):
        super().__init__(data)
        self._at, self._rotate, self._done = at, rotate, threading.Event()

    def read(self, size=-1):
        if self.tell() >= self._at and not self._done.is_set():
            self._done.set()
            self._rotate()
        return super().read(size)


def test_the_v2_uploader_heals_each_part_through_a_revocation(cloud, kms_client):
    cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)
    client = ProxyOssClient(v2_config(cloud), credentials_provider=ManagedSecretProvider(SECRET, kms_client))
    data = os.urandom(10 * 100 * 1024 + 4321)
    reader = RotatesMidway(data, at=4 * 100 * 1024, rotate=lambda: cloud.rotate_secret(SECRET, mode="revoke"))
    cloud.reset_counts()
    uploader = client.uploader(part_size=100 * 1024, parallel_num=3)
    uploader.upload_from(oss.PutObjectRequest(bucket=BUCKET, key="big"), reader)
    assert cloud.oss_object(BUCKET, "big") == data
    assert cloud.count("UploadPart", code="InvalidAccessKeyId") >= 1
    assert cloud.count("GetSecretValue") == 1
    assert cloud.count("CompleteMultipartUpload", code="OK") == 1


def test_seekable_stream_is_rewound_and_sent_whole(cloud, kms_client):
    cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)
    client = ProxyOssClient(v2_config(cloud), credentials_provider=ManagedSecretProvider(SECRET, kms_client))
    data = bytes(range(256)) * 64
    stream = io.BytesIO(b"HEADER" + data)
    stream.read(6)  # the caller's position is where the body starts
    cloud.rotate_secret(SECRET, mode="revoke")
    put(client, "obj", stream)
    assert cloud.oss_object(BUCKET, "obj") == data
    assert cloud.count("PutObject", code="InvalidAccessKeyId") == 1


@pytest.mark.parametrize(
    "body",
    [lambda data: OneWayStream(data), lambda data: iter([data[:10], data[10:]])],
    ids=["non-seekable stream", "generator"],
)
def test_a_body_that_cannot_be_replayed_is_never_resent(cloud, kms_client, body):
    cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)
    provider = ManagedSecretProvider(SECRET, kms_client)
    client = ProxyOssClient(v2_config(cloud), credentials_provider=provider)
    put(client, "obj", b"the user's data")
    new_id, _ = cloud.rotate_secret(SECRET, mode="revoke")
    with pytest.raises(OperationError) as exc_info:
        put(client, "obj", body(b"new data that must arrive whole"))
    assert service_error(exc_info).code == "InvalidAccessKeyId"
    assert cloud.oss_object(BUCKET, "obj") == b"the user's data"
    assert cloud.count("PutObject", code="InvalidAccessKeyId") == 1  # not re-sent
    assert provider.get_credentials().access_key_id == new_id  # refreshed anyway: the next call works
    put(client, "obj", b"next")
    assert cloud.oss_object(BUCKET, "obj") == b"next"


def test_each_call_is_reissued_at_most_twice_and_other_errors_pass_unchanged(cloud):
    cloud.create_bucket(BUCKET)
    client = ProxyOssClient(v2_config(cloud), credentials_provider=NewKeyEveryRefresh())
    with pytest.raises(OperationError) as exc_info:
        put(client, "k", b"v")
    assert service_error(exc_info).code == "InvalidAccessKeyId"
    assert cloud.count("PutObject") == 3  # the call, then two re-issues
    key_id, secret = cloud.add_access_key()
    client = ProxyOssClient(v2_config(cloud), credentials_provider=StaticCredentialsProvider(key_id, secret))
    with pytest.raises(OperationError) as exc_info:
        get(client, "missing")
    assert service_error(exc_info).code == "NoSuchKey"
    assert cloud.count("GetObject") == 1


def oss_service_error(code: str) -> ServiceError:
    return ServiceError(status_code=403, code=code, message="", request_id="", ec="", timestamp="", request_target="")


def test_the_expire_handler_is_replaceable(cloud):
    cloud.create_bucket(BUCKET)
    handler = OssV2AKExpireHandler("NoSuchKey")
    client = ProxyOssClient(v2_config(cloud), credentials_provider=NewKeyEveryRefresh(), ak_expire_handler=handler)
    with pytest.raises(OperationError):
        put(client, "k", b"v")
    assert cloud.count("PutObject") == 1  # InvalidAccessKeyId is not this handler's code
    client = ProxyOssClient(
        v2_config(cloud), credentials_provider=NewKeyEveryRefresh(cloud.add_access_key), ak_expire_handler=handler
    )
    with pytest.raises(OperationError):
        get(client, "missing")
    assert cloud.count("GetObject") == 3  # NoSuchKey is
    wrapped = oss.uploader.UploadError(
        upload_id="u",
        path="p",
        error=OperationError(name="UploadPart", error=oss_service_error("SecurityTokenExpired")),
    )
    assert OssV2AKExpireHandler().judge_ak_expire(wrapped)
    assert not OssV2AKExpireHandler().judge_ak_expire(oss_service_error("AccessDenied"))


def test_the_presigner_signs_with_the_current_key(cloud, configured):
    cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)
    client = ProxyOssClient(v2_config(cloud), secret_name=SECRET)
    put(client, "k", b"v")
    new_id, _ = cloud.rotate_secret(SECRET, mode="revoke")
    put(client, "k", b"after the rotation")  # heals: the cache now holds the new key
    url = client.presign(oss.GetObjectRequest(bucket=BUCKET, key="k")).url
    assert f"x-oss-credential={new_id}%2F" in url
    answer = requests.get(url, timeout=5)
    assert answer.status_code == 200 and answer.content == b"after the rotation"
    client.shutdown()


def test_sts_keys_from_the_credentials_tool_sign_heal_and_carry_their_expiry(cloud, monkeypatch, tmp_path, debug_logs):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SSL_CERT_FILE", cloud.sts.ca_file)  # STS is https only; the tool trusts SSL_CERT_FILE
    key_id, secret = cloud.add_access_key()
    tool = CredentialsToolProvider(
        {
            "type": "ram_role_arn",
            "access_key_id": key_id,
            "access_key_secret": secret,
            "role_arn": cloud.sts.role_arn(),
            "role_session_name": "oss-v2",
            "sts_endpoint": cloud.sts.host,
        }
    )
    with ProxyOssClient(v2_config(cloud), credentials_provider=tool) as client:
        put(client, "k", b"v")
        first = tool.get_credentials()
        handed = client.managed_credentials_provider.get_credentials()
        assert handed.security_token == first.security_token and first.access_key_id.startswith("STS.")
        assert handed.expiration == datetime.datetime.fromtimestamp(first.expiration, datetime.timezone.utc)
        assert handed.expiration.tzinfo is not None and not handed.is_expired()
        cloud.sts.expire(first.access_key_id)
        assert get(client, "k") == b"v"
        reprs = repr(handed) + str(handed) + repr(client.managed_credentials_provider)
    assert cloud.count(code="SecurityTokenExpired", service="oss") == 1
    assert cloud.count("AssumeRole", code="OK") == 2
    second = tool.get_credentials()
    assert second.expiration > time.time()
    assert "re-issuing with key" in debug_logs.text  # the heal was logged, with masked key ids only
    for credentials in (first, second):
        for value in (credentials.access_key_secret, credentials.security_token):
            assert value not in debug_logs.text and value not in reprs
