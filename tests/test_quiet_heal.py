"""A healed rotation raises no alert (issue 21 a): through a revocation that the proxies heal, no logger (ours,
aliyunsdkcore, oss2, tea / darabonba, OSS SDK V2, urllib3, the Credentials tool) emits a record at ERROR or above, and
ours emits one WARNING per rotation; the SDKs' own ERROR records for an attempt that is re-issued are lowered to
DEBUG, otherwise unchanged. A heal that fails is one ERROR naming the secret, the key and why.

Every record of every logger is captured (each logger set to DEBUG for the test, so that nothing is filtered out
before it is counted). The counts per level of each run are kept as the test's properties (``--junitxml``)."""

import collections
import itertools
import logging
import threading

import oss2
import pytest
from alibabacloud_oss_v2.exceptions import OperationError
from alibabacloud_tea_openapi.models import Config, OpenApiRequest
from alibabacloud_tea_util.models import RuntimeOptions
from aliyun.log import LogException
from aliyunsdkcore.acs_exception.exceptions import ServerException
from mns.mns_exception import MNSServerException
from mns.queue import Message, QueueMeta
from tablestore import OTSServiceError
from Tea.exceptions import TeaException

from credentials.managed import ManagedSecretProvider
from credentials.masking import ATTEMPT
from credentials.model import mask
from proxy import (
    ProxyAcsClient,
    ProxyBucket,
    ProxyLogClient,
    ProxyMnsAccount,
    ProxyOpenApiClient,
    ProxyOssClient,
    ProxyOTSClient,
    ProxyQueuedLogHandler,
    ProxySimpleLogHandler,
)
from tests.adapter_helpers import INSTANCE, LOGSTORE, PROJECT, create_table, put_and_get_row, put_logs
from tests.helpers import (
    DEADLINE,
    bad_parameter_request,
    call_through_rotation,
    describe_regions,
    regions_of,
    wait_until,
)
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


# ---- the adapters of issue 22: Log Service, Message Service, Tablestore (8 threads each) -----------------------------


@pytest.fixture
def sls(cloud, loopback_names):
    cloud.sls.create_logstore(PROJECT, LOGSTORE)
    return cloud


def test_a_healed_revocation_of_a_proxy_log_client_logs_no_error(sls, configured, every_record):
    sls.create_secret(SECRET)
    client = ProxyLogClient(sls.sls_endpoint, SECRET)
    put_logs(client, "warm")
    every_record.records.clear()
    numbers = itertools.count()

    def call():
        put_logs(client, next(numbers))
        client.get_cursor(PROJECT, LOGSTORE, 0, "end")

    errors, (old_id, new_id) = call_through_rotation(call, lambda: revoke(sls))
    client.shutdown()
    assert errors == []
    assert sls.count("PutLogs", code="Unauthorized") + sls.count("GetCursor", code="Unauthorized") >= 1
    assert_healed_quietly(every_record, old_id, new_id)


@pytest.mark.parametrize("app_logger", [None, "tests.app.mns"], ids=["no logger", "logger="])
def test_a_healed_revocation_of_proxy_mns_accounts_logs_no_error(cloud, configured, every_record, app_logger):
    """aliyun-mns-sdk logs only on a logger the application gives Account (logger=): each request at INFO (DEBUG
    for its headers); the rejected attempts add nothing at WARNING or above there either. An account per thread, as
    the SDK requires."""
    cloud.create_secret(SECRET)
    logger = logging.getLogger(app_logger) if app_logger else None
    first = ProxyMnsAccount(cloud.mns_endpoint, SECRET, logger=logger)
    first.get_queue("warm").create(QueueMeta())
    accounts, local, numbers = [first], threading.local(), itertools.count()

    def send_receive_delete():
        if not hasattr(local, "queue"):
            account = ProxyMnsAccount(cloud.mns_endpoint, SECRET, logger=logger)
            accounts.append(account)
            local.queue = account.get_queue("q-%d" % next(numbers))
            local.queue.create(QueueMeta())
        local.queue.send_message(Message("work"))
        local.queue.delete_message(local.queue.receive_message().receipt_handle)

    every_record.records.clear()
    try:
        errors, (old_id, new_id) = call_through_rotation(send_receive_delete, lambda: revoke(cloud))
    finally:
        for account in accounts:
            account.shutdown()
    assert errors == [] and len(accounts) == 9
    assert cloud.count(code="InvalidAccessKeyId", service="mns") >= 1
    assert_healed_quietly(every_record, old_id, new_id)
    if app_logger:
        assert any(r.name == app_logger and r.levelname == "INFO" for r in every_record.records)  # it does log there


@pytest.fixture
def ots(cloud):
    cloud.ots.create_instance(INSTANCE)
    return cloud


@pytest.mark.parametrize("logger_name", [None, "tests.app.ots"], ids=["tablestore-client", "logger_name="])
def test_a_healed_revocation_of_a_proxy_ots_client_logs_no_error(ots, configured, every_record, logger_name):
    """tablestore logs each refused request at ERROR, as text ("OTS request failed, API: PutRow, HTTPStatus: 403,
    ErrorCode: OTSAuthFailed, ErrorMessage: The AccessKeyID does not exist., RequestID: ..."), on its client's logger
    (``logger_name=``, or tablestore-client): each such record of an attempt that is re-issued is now the same
    record at DEBUG."""
    ots.create_secret(SECRET)
    options = {"logger_name": logger_name} if logger_name else {}
    client = ProxyOTSClient(ots.ots_endpoint, instance_name=INSTANCE, secret_name=SECRET, **options)
    create_table(client)
    every_record.records.clear()
    errors, (old_id, new_id) = call_through_rotation(
        lambda: put_and_get_row(client, threading.current_thread().name), lambda: revoke(ots)
    )
    client.shutdown()
    assert errors == []
    rejected = ots.count(code="OTSAuthFailed", service="ots")
    assert rejected >= 1
    assert_healed_quietly(every_record, old_id, new_id)
    lowered = [r for r in every_record.records if "ErrorCode: OTSAuthFailed" in r.getMessage()]
    assert len(lowered) == rejected and {(r.name, r.levelname) for r in lowered} == {
        (logger_name or "tablestore-client", "DEBUG")
    }
    assert all(r.getMessage().startswith("OTS request failed, API: ") for r in lowered)  # the SDK's own text


class Shipping:
    """A logger of the application whose only handler is a Log Service handler; handleError calls are kept."""

    def __init__(self, handler):
        self.handler, self.errors = handler, []
        handler.handleError = lambda record: self.errors.append(record)
        self.logger = logging.getLogger(f"tests.quiet.shipping.{id(handler)}")
        self.logger.propagate = False  # the application's records go to Log Service, not into the count
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(handler)

    def log(self, numbers):
        for n in numbers:
            self.logger.info("record %d", n, extra={"n": n})

    def close(self):
        self.logger.removeHandler(self.handler)
        self.handler.close()


class MarkedSends(logging.Filter):
    """Counts, by thread, the requests for ``path`` that urllib3 logs (each at its send), and those sent while no
    proxy call's marker (credentials.masking.ATTEMPT) was set: where an SDK record of that send would not be judged."""

    def __init__(self, path):
        super().__init__()
        self.path, self.threads, self.unmarked = path, [], 0
        self.logger = logging.getLogger("urllib3.connectionpool")
        self.logger.addFilter(self)

    def filter(self, record):
        if self.path in record.getMessage():
            self.threads.append(record.threadName)
            self.unmarked += ATTEMPT.get() is None
        return True

    def remove(self):
        self.logger.removeFilter(self)


def stored_numbers(cloud):
    return sorted(int(r.get("n")) for r in cloud.sls.records(PROJECT, LOGSTORE) if r.get("n"))


@pytest.mark.parametrize("handler_class", [ProxyQueuedLogHandler, ProxySimpleLogHandler], ids=lambda c: c.__name__)
def test_records_shipped_through_a_healed_revocation_log_no_error(sls, configured, every_record, handler_class):
    """8 threads log numbered records to a Log Service handler; the key is revoked while they are shipped (by the
    queued handler's sender thread, or by each logging thread for the simple handler): every record is stored once,
    and no logger says more than the rotation's one WARNING."""
    sls.create_secret(SECRET)
    sends = MarkedSends("/logstores/app-log/shards/lb")  # each PutLogs the handler sends, and in which context
    options = {"batch_size": 20, "put_wait": 0.05} if handler_class is ProxyQueuedLogHandler else {}
    ship = Shipping(handler_class(sls.sls_endpoint, project=PROJECT, log_store=LOGSTORE, secret_name=SECRET, **options))
    try:
        ship.log(range(8))
        ship.handler.flush()
        every_record.records.clear()
        sends.threads.clear()
        numbers, logged = itertools.count(8), []

        def log_one():
            n = next(numbers)  # itertools.count's next() is atomic
            ship.log([n])
            logged.append(n)

        errors, (old_id, new_id) = call_through_rotation(log_one, lambda: revoke(sls), calls_after=200)
        total = 8 + len(logged)
        ship.handler.flush()
        assert errors == [] and ship.errors == []
        assert sls.count("PutLogs", code="Unauthorized") >= 1  # batches were refused, and healed
        assert wait_until(lambda: len(stored_numbers(sls)) >= total)
        assert stored_numbers(sls) == list(range(total))
    finally:
        ship.close()
        sends.remove()
    assert_healed_quietly(every_record, old_id, new_id)
    # The queued handler sends from its sender thread, outside any caller's context: the marker is set there too
    # (by ProxyLogClient's re-issue rule, around each request), so an SDK record of a refused send would be judged
    sender = "ProxyQueuedLogHandler-sender" if handler_class is ProxyQueuedLogHandler else "caller"
    assert sends.threads and all(sender in name for name in sends.threads), set(sends.threads)
    assert sends.unmarked == 0


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


def log_client_call(cloud, provider):
    cloud.sls.create_logstore(PROJECT, LOGSTORE)
    client = ProxyLogClient(cloud.sls_endpoint, credentials_provider=provider)
    return client, lambda: put_logs(client, 1), LogException


def mns_account_call(cloud, provider):
    account = ProxyMnsAccount(cloud.mns_endpoint, credentials_provider=provider, logger=logging.getLogger("tests.mns"))
    queue = account.get_queue("orders")
    queue.create(QueueMeta())
    return account, lambda: queue.send_message(Message("work")), MNSServerException


def ots_client_call(cloud, provider):
    cloud.ots.create_instance(INSTANCE)
    client = ProxyOTSClient(cloud.ots_endpoint, instance_name=INSTANCE, credentials_provider=provider)
    create_table(client)
    return client, lambda: put_and_get_row(client, "row"), OTSServiceError


@pytest.mark.parametrize(
    "make",
    [acs_call, bucket_call, openapi_call, oss_v2_call, log_client_call, mns_account_call, ots_client_call],
    ids=lambda f: f.__name__,
)
def test_a_heal_that_fails_is_one_error_naming_the_secret_the_key_and_why(
    cloud, kms_client, loopback_names, every_record, make
):
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


def test_a_heal_that_fails_while_records_are_shipped_is_one_error_per_outage(sls, kms_client, every_record):
    """KMS down and the key revoked while a queued Log Service handler ships: the handler keeps the records and
    sends the refused batch again with backoff (every retry a failed heal). An operator sees one ERROR (ours: the key
    was rejected and could not be replaced, naming the secret and why) and the handler's one WARNING (records not
    stored yet, sent again with backoff), not a line per retry; when KMS is back, the records are stored (one INFO)
    and the heal is the rotation's one WARNING."""
    sls.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client, background=False)
    ship = Shipping(
        ProxyQueuedLogHandler(
            sls.sls_endpoint,
            project=PROJECT,
            log_store=LOGSTORE,
            credentials_provider=provider,
            batch_size=10,
            put_wait=0.05,
        )
    )
    try:
        ship.log(range(10))
        ship.handler.flush()
        old_id = provider.get_credentials().access_key_id
        every_record.records.clear()
        sls.kms_down()
        new_id, _ = sls.rotate_secret(SECRET, mode="revoke")
        try:
            ship.log(range(10, 60))
            assert wait_until(lambda: sls.count("PutLogs", code="Unauthorized") >= 4, DEADLINE * 3), "no retry seen"
            during = [(r.name, r.levelname) for r in every_record.at_least(logging.WARNING)]
        finally:
            sls.kms_up()
        assert wait_until(lambda: len(stored_numbers(sls)) >= 60, DEADLINE * 6)
        ship.handler.flush()
        assert stored_numbers(sls) == list(range(60)) and ship.errors == []
    finally:
        ship.close()
        provider.close()
    assert sorted(during) == [("managed_credentials.proxy", "ERROR"), ("managed_credentials.proxy", "WARNING")]
    [error] = every_record.at_least(logging.ERROR)
    assert error.getMessage().startswith(f"secret {SECRET!r}: key {mask(old_id)} was rejected (")
    assert "could not be replaced: no new key could be fetched (cannot reach KMS at " in error.getMessage()
    warnings = [r.getMessage() for r in every_record.at_least(logging.WARNING, OURS) if r.levelno == logging.WARNING]
    assert warnings[0].startswith("Log Service handler: 10 records not stored yet (LogException Unauthorized); ")
    # After it, at most the rotation's line: the new key signs the retry from the start once the provider has it (a
    # plain success, said by the INFO below), or heals it when the retry was signed with the old key still
    assert len(warnings) <= 2 and all(f"calls are re-issued with key {mask(new_id)}" in m for m in warnings[1:])
    assert every_record.at_least(logging.WARNING) == every_record.at_least(logging.WARNING, OURS)
    infos = [r.getMessage() for r in every_record.records if r.levelname == "INFO" and r.name.startswith(OURS)]
    assert any(m.startswith("Log Service handler: 10 records stored after ") for m in infos), infos
