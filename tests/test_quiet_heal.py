"""A healed rotation raises no alert (issue 21 a): through a revocation that the proxies heal, no logger (ours,
aliyunsdkcore, oss2, tea / darabonba, OSS SDK V2, urllib3, the Credentials tool) emits a record at ERROR or above, and
ours emits one WARNING per rotation; the SDKs' own ERROR records for an attempt that is re-issued are lowered to
DEBUG, otherwise unchanged. A heal that fails is one ERROR naming the secret, the key and why.

Every record of every logger is captured (each logger set to DEBUG for the test, so that nothing is filtered out
before it is counted). The counts per level of each run are kept as the test's properties (``--junitxml``)."""

import collections
import logging
import threading

import oss2
import pytest
from alibabacloud_oss_v2.exceptions import OperationError
from alibabacloud_tea_openapi.models import Config, OpenApiRequest
from alibabacloud_tea_util.models import RuntimeOptions
from aliyunsdkcore.acs_exception.exceptions import ServerException
from Tea.exceptions import TeaException

from credentials.managed import ManagedSecretProvider
from credentials.model import mask
from proxy import ProxyAcsClient, ProxyBucket, ProxyOpenApiClient, ProxyOssClient
from tests.helpers import bad_parameter_request, call_through_rotation, describe_regions, regions_of
from tests.oss_v2_helpers import get as v2_get
from tests.oss_v2_helpers import put as v2_put
from tests.oss_v2_helpers import v2_config
from tests.test_openapi import describe_regions_params

SECRET = "app-key"
OURS = "managed_credentials"
MIB = 1024 * 1024


class Records(logging.Handler):
    """Every record that reaches the root logger, kept."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)  # list.append is atomic: records from several threads are all kept

    def at_least(self, level, prefix=""):
        return [r for r in list(self.records) if r.levelno >= level and r.name.startswith(prefix)]

    def counts(self):
        """Records per level, and the loggers of those at WARNING and above (what the report quotes)."""
        levels = collections.Counter(r.levelname for r in list(self.records))
        loud = collections.Counter(f"{r.name} {r.levelname}" for r in self.at_least(logging.WARNING))
        return dict(levels), dict(loud)


@pytest.fixture
def every_record(record_property):
    """All loggers at DEBUG, every record captured at the root; levels and handlers put back afterwards."""
    keep = Records()
    root = logging.getLogger()
    names = {OURS, "aliyunsdkcore", "oss2", "urllib3", "alibabacloud-tea", "darabonba-core", "credentials"}
    names.update(n for n, v in list(logging.root.manager.loggerDict.items()) if isinstance(v, logging.Logger))
    saved = {name: logging.getLogger(name).level for name in names}
    saved_root = root.level
    for name in saved:
        logging.getLogger(name).setLevel(logging.DEBUG)
    root.setLevel(logging.DEBUG)
    root.addHandler(keep)
    try:
        yield keep
    finally:
        root.removeHandler(keep)
        root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
        record_property("records", keep.counts())


def assert_healed_quietly(keep, old_id, new_id):
    """No record at ERROR from any logger; ours: exactly one WARNING, naming the secret and both keys, masked."""
    errors = keep.at_least(logging.ERROR)
    assert errors == [], [(r.name, r.getMessage()[:300]) for r in errors]
    warnings = keep.at_least(logging.WARNING, OURS)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    message = warnings[0].getMessage()
    assert message.startswith(f"secret {SECRET!r}: key {mask(old_id)} was rejected (")
    assert f"calls are re-issued with key {mask(new_id)} (version " in message
    assert keep.at_least(logging.WARNING) == warnings  # and nothing at WARNING from the SDKs


def revoke(cloud):
    """A revoking rotation; returns (old key id, new key id)."""
    old_id, _ = cloud.current_key(SECRET)
    new_id, _ = cloud.rotate_secret(SECRET, mode="revoke")
    return old_id, new_id


# ---- healed revocations, one per proxy -------------------------------------------------------------------------------


def test_a_healed_revocation_of_a_proxy_acs_client_logs_no_error(cloud, configured, every_record):
    """aliyunsdkcore logs each rejected attempt at ERROR ("ServerException occurred ... InvalidAccessKeyId.NotFound"):
    4 of them on this run before the change; now each is the same record at DEBUG."""
    cloud.create_secret(SECRET)
    client = ProxyAcsClient(SECRET, region_id="cn-hangzhou", pool_size=4)
    assert regions_of(client.do_action_with_exception(describe_regions(cloud)))
    every_record.records.clear()
    errors, (old_id, new_id) = call_through_rotation(
        lambda: client.do_action_with_exception(describe_regions(cloud)),
        lambda: revoke(cloud),
        threads=4,
        calls_after=40,
    )
    client.shutdown()
    assert errors == []
    rejected = cloud.count("DescribeRegions", code="InvalidAccessKeyId.NotFound")
    assert rejected >= 1  # calls were really rejected, and healed
    assert_healed_quietly(every_record, old_id, new_id)
    lowered = [
        r
        for r in every_record.records
        if r.name == "aliyunsdkcore.client" and "Error:InvalidAccessKeyId.NotFound" in r.getMessage()
    ]
    assert len(lowered) == rejected and {r.levelname for r in lowered} == {"DEBUG"}
    assert all(r.getMessage().startswith("ServerException occurred. Host:") for r in lowered)  # the SDK's own text


def test_a_healed_revocation_of_a_proxy_bucket_logs_no_error(cloud, configured, every_record):
    cloud.create_secret(SECRET)
    cloud.create_bucket("bkt")
    bucket = ProxyBucket(SECRET, cloud.oss_endpoint, "bkt")
    bucket.put_object("warm", b"x")
    every_record.records.clear()

    def put_and_get():
        name = threading.current_thread().name
        bucket.put_object(name, b"payload")
        assert bucket.get_object(name).read() == b"payload"

    errors, (old_id, new_id) = call_through_rotation(put_and_get, lambda: revoke(cloud), threads=4)
    bucket.shutdown()
    assert errors == []
    assert cloud.count("PutObject", code="InvalidAccessKeyId") + cloud.count("GetObject", code="InvalidAccessKeyId")
    assert_healed_quietly(every_record, old_id, new_id)


def test_a_healed_revocation_in_a_resumable_upload_logs_no_error(cloud, kms_client, every_record, tmp_path):
    """oss2's resumable upload runs the parts in worker threads of its own, each through ProxyBucket.upload_part
    (which heals there); oss2 logs a traceback at ERROR ("An exception was thrown by producer or consumer") only
    for a part whose exception leaves its worker, i.e. when the upload fails: none here."""
    cloud.create_secret(SECRET)
    cloud.create_bucket("bkt")
    bucket = ProxyBucket(
        credentials_provider=ManagedSecretProvider(SECRET, kms_client), endpoint=cloud.oss_endpoint, bucket_name="bkt"
    )
    data = bytes(range(256)) * (8 * MIB // 256)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    keys, lock = [], threading.Lock()

    def revoke_halfway(consumed, total):
        with lock:
            if total and consumed >= total // 2 and not keys:
                keys.append(revoke(cloud))

    every_record.records.clear()
    oss2.resumable_upload(
        bucket,
        "big",
        str(source),
        store=oss2.ResumableStore(root=str(tmp_path)),
        multipart_threshold=MIB,
        part_size=MIB,
        num_threads=4,
        progress_callback=revoke_halfway,
    )
    bucket.shutdown()
    assert keys and cloud.oss_object("bkt", "big") == data
    assert cloud.count("UploadPart", code="InvalidAccessKeyId") >= 1  # parts in flight were refused, then re-sent
    assert_healed_quietly(every_record, *keys[0])


def test_a_healed_revocation_of_a_proxy_openapi_client_logs_no_error(cloud, configured, every_record):
    cloud.create_secret(SECRET)
    config = Config(endpoint=cloud.ecs_host, protocol="http", region_id=cloud.region_id, read_timeout=5000)
    client = ProxyOpenApiClient(config, secret_name=SECRET)

    def call():
        client.call_api(describe_regions_params(), OpenApiRequest(), RuntimeOptions())

    call()
    every_record.records.clear()
    errors, (old_id, new_id) = call_through_rotation(call, lambda: revoke(cloud), threads=4)
    client.shutdown()
    assert errors == []
    assert cloud.count("DescribeRegions", code="InvalidAccessKeyId.NotFound") >= 1
    assert_healed_quietly(every_record, old_id, new_id)


def test_a_healed_revocation_of_a_proxy_oss_client_logs_no_error(cloud, configured, every_record):
    cloud.create_secret(SECRET)
    cloud.create_bucket("bkt")
    client = ProxyOssClient(v2_config(cloud), secret_name=SECRET)
    v2_put(client, "warm", b"x")
    every_record.records.clear()

    def put_and_get():
        name = threading.current_thread().name
        v2_put(client, name, b"payload")
        assert v2_get(client, name) == b"payload"

    errors, (old_id, new_id) = call_through_rotation(put_and_get, lambda: revoke(cloud), threads=4)
    client.shutdown()
    assert errors == []
    assert cloud.count("PutObject", code="InvalidAccessKeyId") + cloud.count("GetObject", code="InvalidAccessKeyId")
    assert_healed_quietly(every_record, old_id, new_id)


def test_each_rotation_is_one_warning(cloud, configured, every_record):
    cloud.create_secret(SECRET)
    client = ProxyAcsClient(SECRET, region_id="cn-hangzhou")
    rotations = []
    for _ in range(2):
        rotations.append(revoke(cloud))
        for _ in range(3):
            client.do_action_with_exception(describe_regions(cloud))
    client.shutdown()
    warnings = [r.getMessage() for r in every_record.at_least(logging.WARNING)]
    assert len(warnings) == 2, warnings
    for message, (old_id, new_id) in zip(warnings, rotations):
        assert f"key {mask(old_id)} was rejected" in message and f"re-issued with key {mask(new_id)}" in message


# ---- what is not lowered ---------------------------------------------------------------------------------------------


def test_an_sdk_error_record_about_anything_else_stays_at_error(cloud, configured, every_record):
    """Only an attempt the proxy re-issues for is lowered: a call refused for a bad parameter is the SDK's ERROR."""
    cloud.create_secret(SECRET)
    client = ProxyAcsClient(SECRET, region_id="cn-hangzhou")
    with pytest.raises(ServerException):
        client.do_action_with_exception(bad_parameter_request(cloud))
    client.shutdown()
    [record] = every_record.at_least(logging.ERROR)
    assert record.name == "aliyunsdkcore.client" and "Error:InvalidParameter" in record.getMessage()


def test_a_lowered_record_is_dropped_where_debug_is_off(cloud, configured):
    """An application logging at INFO (its handler at NOTSET, as logging.basicConfig(level=INFO) makes it) does not
    get the lowered record at all, as it would not get a record logged at DEBUG; a plain AcsClient's ERROR record of
    the same rejection still reaches it."""
    from aliyunsdkcore.client import AcsClient

    keep = Records()
    keep.setLevel(logging.NOTSET)
    root = logging.getLogger()
    sdk_loggers = [logging.getLogger(n) for n in ("aliyunsdkcore", "aliyunsdkcore.client")]
    saved, saved_sdk = root.level, [lg.level for lg in sdk_loggers]
    root.setLevel(logging.INFO)
    for sdk_logger in sdk_loggers:
        sdk_logger.setLevel(logging.NOTSET)  # as the application left them (another test may have set DEBUG)
    root.addHandler(keep)
    try:
        key_id, secret = cloud.create_secret(SECRET)
        client = ProxyAcsClient(SECRET, region_id="cn-hangzhou")
        cloud.rotate_secret(SECRET, mode="revoke")
        client.do_action_with_exception(describe_regions(cloud))
        client.shutdown()
        assert [r for r in keep.records if r.name.startswith("aliyunsdkcore")] == []
        plain = AcsClient(key_id, secret, "cn-hangzhou")
        with pytest.raises(ServerException):
            plain.do_action_with_exception(describe_regions(cloud))
        assert [(r.name, r.levelname) for r in keep.records if r.name.startswith("aliyunsdkcore")] == [
            ("aliyunsdkcore.client", "ERROR")
        ]
    finally:
        root.removeHandler(keep)
        root.setLevel(saved)
        for sdk_logger, level in zip(sdk_loggers, saved_sdk):
            sdk_logger.setLevel(level)


# ---- a heal that fails -----------------------------------------------------------------------------------------------


def acs_call(cloud, provider):
    client = ProxyAcsClient(credentials_provider=provider, timeout=5)
    return client, lambda: client.do_action_with_exception(describe_regions(cloud)), ServerException


def bucket_call(cloud, provider):
    cloud.create_bucket("bkt")
    bucket = ProxyBucket(credentials_provider=provider, endpoint=cloud.oss_endpoint, bucket_name="bkt")
    return bucket, lambda: bucket.put_object("k", b"payload"), oss2.exceptions.ServerError


def openapi_call(cloud, provider):
    config = Config(endpoint=cloud.ecs_host, protocol="http", region_id=cloud.region_id, read_timeout=5000)
    client = ProxyOpenApiClient(config, credentials_provider=provider)
    return client, lambda: client.call_api(describe_regions_params(), OpenApiRequest(), RuntimeOptions()), TeaException


def oss_v2_call(cloud, provider):
    cloud.create_bucket("bkt")
    client = ProxyOssClient(v2_config(cloud), credentials_provider=provider)
    return client, lambda: v2_put(client, "k", b"payload"), OperationError


@pytest.mark.parametrize("make", [acs_call, bucket_call, openapi_call, oss_v2_call], ids=lambda f: f.__name__)
def test_a_heal_that_fails_is_one_error_naming_the_secret_the_key_and_why(cloud, kms_client, every_record, make):
    """KMS down and the key revoked: every call raises the service's exception, as before; one ERROR in all, ours
    (before the change: a WARNING of ours and an ERROR of aliyunsdkcore per call)."""
    cloud.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client, background=False)
    client, call, sdk_error = make(cloud, provider)
    key = provider.get_credentials()
    cloud.kms_down()
    cloud.revoke_key(key.access_key_id)
    every_record.records.clear()
    for _ in range(3):
        with pytest.raises(sdk_error):
            call()
    client.shutdown()
    [error] = every_record.at_least(logging.WARNING)
    assert (error.name, error.levelname) == ("managed_credentials.proxy", "ERROR")
    message = error.getMessage()
    assert message.startswith(f"secret {SECRET!r}: key {mask(key.access_key_id)} was rejected (")
    assert "could not be replaced: no new key could be fetched (cannot reach KMS at " in message
    assert provider.status()["reissues_failed"] == 3


def test_a_heal_that_fails_in_a_resumable_upload_is_one_error(cloud, kms_client, every_record, tmp_path):
    """A part whose key cannot be healed leaves its worker thread with the service's error: oss2 then logs it at
    ERROR with its traceback ("An exception was thrown by producer or consumer, backtrace: ...") in the caller's
    thread, and raises it. That record quotes the error our one ERROR already reported: it is lowered to DEBUG."""
    cloud.create_secret(SECRET)
    cloud.create_bucket("bkt")
    provider = ManagedSecretProvider(SECRET, kms_client, background=False)
    bucket = ProxyBucket(credentials_provider=provider, endpoint=cloud.oss_endpoint, bucket_name="bkt")
    source = tmp_path / "big.bin"
    source.write_bytes(bytes(range(256)) * (4 * MIB // 256))
    key = provider.get_credentials()
    cloud.kms_down()
    revoked, lock = [], threading.Lock()

    def revoke_halfway(consumed, total):
        with lock:
            if total and consumed >= total // 2 and not revoked:
                cloud.revoke_key(key.access_key_id)
                revoked.append(True)

    every_record.records.clear()
    with pytest.raises(oss2.exceptions.ServerError) as info:
        oss2.resumable_upload(
            bucket,
            "big",
            str(source),
            store=oss2.ResumableStore(root=str(tmp_path)),
            multipart_threshold=MIB,
            part_size=MIB,
            num_threads=2,
            progress_callback=revoke_halfway,
        )
    bucket.shutdown()
    assert info.value.code == "InvalidAccessKeyId"
    [error] = every_record.at_least(logging.WARNING)
    assert (error.name, error.levelname) == ("managed_credentials.proxy", "ERROR")
    assert f"key {mask(key.access_key_id)} was rejected" in error.getMessage()
    [traceback] = [r for r in every_record.records if r.name == "oss2.task_queue"]
    assert traceback.levelname == "DEBUG" and "backtrace" in traceback.getMessage()
