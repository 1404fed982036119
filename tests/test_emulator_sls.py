"""The emulator's Log Service (tests/cloud/sls.py) against the PLAIN aliyun-log-python-sdk: LogClient and the logging
handlers with a pasted key, never our proxies.

Each operation succeeds with a static and an STS key, signed v1 and v4; each refusal comes back as the LogException an
application catches (code, message, HTTP status, request id); a refused PutLogs stores nothing. The client reaches
"<project>.127.0.0.1:PORT" through the `loopback_names` fixture (the `sls` fixture asks for it).
"""

import logging
import socket
import time
import zlib
from typing import List, Optional, Tuple

import pytest
import requests
from aliyun.log import ListLogstoresRequest, LogClient, LogException, LogItem, PutLogsRequest, QueuedLogHandler
from aliyun.log.auth import make_auth
from aliyun.log.credentials import StaticCredentialsProvider
from aliyun.log.logger_hanlder import SimpleLogHandler
from aliyun.log.proto import LogGroupRaw

from tests.cloud import CloudEmulator
from tests.cloud import loopback_names as _names
from tests.helpers import managed_key, refused_key, revoke_through_control_plane, wait_until

PROJECT, LOGSTORE = "my-project", "app-log"


@pytest.fixture
def sls(cloud: CloudEmulator, loopback_names: None) -> CloudEmulator:
    """The emulator with one logstore, its project names resolving to 127.0.0.1 (loopback_names.py)."""
    cloud.sls.create_logstore(PROJECT, LOGSTORE)
    return cloud


def client(cloud: CloudEmulator, key: Tuple[str, str], token: Optional[str] = None, version: str = "v1") -> LogClient:
    return LogClient(cloud.sls_endpoint, key[0], key[1], token, auth_version=version, region=cloud.region_id)


def put(log_client: LogClient, numbers: range, compress: bool = True):
    items = [
        LogItem(timestamp=int(time.time()), contents=[("n", str(n)), ("message", "record %d" % n)]) for n in numbers
    ]
    return log_client.put_logs(PutLogsRequest(PROJECT, LOGSTORE, "topic", "", items, compress=compress))


def pulled(log_client: LogClient) -> List[str]:
    """Every stored record's "n", read back through GetCursor and PullLogs."""
    cursor = log_client.get_cursor(PROJECT, LOGSTORE, 0, "begin").get_cursor()
    answer = log_client.pull_logs(PROJECT, LOGSTORE, 0, cursor)
    return [log["n"] for log in answer.get_flatten_logs_json()]


def stored(cloud: CloudEmulator) -> List[str]:
    return [record.get("n") for record in cloud.sls.records(PROJECT, LOGSTORE)]


@pytest.mark.parametrize("version", ["v1", "v4"])
@pytest.mark.parametrize("compress", [True, False], ids=["lz4", "uncompressed"])
def test_put_logs_then_pull_logs_reads_each_record_once(sls: CloudEmulator, version: str, compress: bool) -> None:
    log_client = client(sls, sls.add_access_key(), version=version)
    response = put(log_client, range(3), compress)
    put(log_client, range(3, 5), compress)
    assert response.get_request_id()
    assert pulled(log_client) == ["0", "1", "2", "3", "4"] == stored(sls)
    assert sls.count("PutLogs", service="sls", code="OK") == 2
    end = log_client.get_cursor(PROJECT, LOGSTORE, 0, "end").get_cursor()
    assert log_client.pull_logs(PROJECT, LOGSTORE, 0, end).get_loggroup_count() == 0


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_an_sts_key_signs_with_its_token(sls: CloudEmulator, version: str) -> None:
    key = sls.add_access_key(security_token=True)
    log_client = client(sls, key, sls.security_token_of(key[0]), version)
    put(log_client, range(2))
    assert log_client.list_logstores(ListLogstoresRequest(PROJECT)).get_logstores() == [LOGSTORE]
    assert stored(sls) == ["0", "1"]


def test_list_logstores(sls: CloudEmulator) -> None:
    sls.sls.create_logstore(PROJECT, "audit")
    answer = client(sls, sls.add_access_key()).list_logstores(ListLogstoresRequest(PROJECT))
    assert (answer.get_logstores(), answer.get_total()) == (["app-log", "audit"], 2)


def test_a_deflate_body_signed_by_the_sdk_is_stored(sls: CloudEmulator) -> None:
    """The SDK sends lz4 or nothing; other producers send deflate. The body is built and signed with the SDK's own
    LogGroup class and signer, then sent as they would send it."""
    key = sls.add_access_key()
    group = LogGroupRaw()
    log = group.Logs.add()
    log.Time = int(time.time())
    content = log.Contents.add()
    content.Key, content.Value = "n", b"7"
    raw = group.SerializeToString()
    body = zlib.compress(raw)
    resource = "/logstores/%s/shards/lb" % LOGSTORE
    headers = {
        "x-log-bodyrawsize": str(len(raw)),
        "x-log-compresstype": "deflate",
        "Content-Type": "application/x-protobuf",
        "x-log-apiversion": "0.6.0",
        "Host": "%s.%s" % (PROJECT, sls.host),
    }
    make_auth(StaticCredentialsProvider(*key)).sign_request("POST", resource, {}, headers, body)
    url = "http://%s.%s%s" % (PROJECT, sls.sls_endpoint, resource)
    assert requests.post(url, data=body, headers=headers, timeout=5).status_code == 200
    assert stored(sls) == ["7"]


def refused(log_client: LogClient) -> LogException:
    with pytest.raises(LogException) as info:
        put(log_client, range(1))
    return info.value


@pytest.mark.parametrize(
    "case, status, code, message",
    [
        ("unknown key", 401, "Unauthorized", "AccessKeyId not found: LTAI5tUnknownKey000000"),
        ("disabled key", 401, "Unauthorized", "AccessKeyId is disabled: {id}"),
        ("wrong secret", 401, "SignatureNotMatch", "signature "),
        ("expired token", 401, "SecurityTokenExpired", "The security token you provided has expired."),
        ("token of another key", 401, "Unauthorized", "The security token you provided is invalid."),
    ],
)
def test_refusals_come_back_as_the_sdk_raises_them_and_store_nothing(
    sls: CloudEmulator, case: str, status: int, code: str, message: str
) -> None:
    key, token = refused_key(sls, case)
    err = refused(client(sls, key, token))
    assert (err.resp_status, err.get_error_code()) == (status, code)
    assert err.get_error_message().startswith(message.format(id=key[0]))
    assert err.get_request_id() and err.get_request_id() in str(err)
    assert stored(sls) == [] and sls.count("PutLogs", service="sls") == 1  # refused at once: no retry, nothing stored


def test_a_key_revoked_through_the_control_plane_is_refused_before_anything_is_stored(sls: CloudEmulator) -> None:
    key = managed_key(sls, "log-shipper")
    log_client = client(sls, key)
    put(log_client, range(2))
    assert revoke_through_control_plane(sls, "log-shipper") == key[0]
    err = refused(log_client)
    assert (err.resp_status, err.get_error_code()) == (401, "Unauthorized")
    assert stored(sls) == ["0", "1"]
    assert sls.count("PutLogs", access_key_id=key[0], code="Unauthorized") == 1
    put(client(sls, sls.current_key("log-shipper")), range(2, 3))
    assert stored(sls) == ["0", "1", "2"]


def test_the_sdk_logs_nothing_at_warning_or_above_for_a_refused_key(sls: CloudEmulator) -> None:
    """What ProxyLogClient relies on to heal quietly: without a credentials auto-refresher (which ProxyLogClient
    refuses), LogClient logs no record at WARNING or above when the service refuses its key; there is nothing to
    lower (proxy/sls/_compat.py has no record parser). Should a release log one, this fails naming it."""
    from importlib import metadata

    records: List[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep, root = Keep(level=logging.WARNING), logging.getLogger()
    root.addHandler(keep)
    try:
        key, token = refused_key(sls, "unknown key")
        refused(client(sls, key, token))
        key = managed_key(sls, "log-shipper")
        log_client = client(sls, key)
        revoke_through_control_plane(sls, "log-shipper")
        refused(log_client)
    finally:
        root.removeHandler(keep)
    assert records == [], (
        f"aliyun-log-python-sdk {metadata.version('aliyun-log-python-sdk')} now logs a refused key at WARNING or "
        f"above: {[(r.name, r.levelname, r.getMessage()[:200]) for r in records]}; ProxyLogClient's Reissuer needs "
        "record_error= (a parser in proxy/sls/_compat.py) unless the record carries exc_info"
    )


def test_the_sdk_retries_a_server_error_itself_and_the_logs_are_stored_once(sls: CloudEmulator) -> None:
    sls.service_fault("sls", status=500, code="InternalServerError", times=1)
    put(client(sls, sls.add_access_key()), range(2))  # LogClient sleeps 1 s and sends the same request again
    assert stored(sls) == ["0", "1"]
    assert [c.code for c in sls.calls if c.action == "PutLogs"] == ["InternalServerError", "OK"]


def test_unknown_project_and_logstore(sls: CloudEmulator) -> None:
    log_client = client(sls, sls.add_access_key())
    with pytest.raises(LogException) as info:
        log_client.put_logs(PutLogsRequest("elsewhere", LOGSTORE, "", "", [LogItem(contents=[("n", "1")])]))
    assert (info.value.resp_status, info.value.get_error_code()) == (404, "ProjectNotExist")
    with pytest.raises(LogException) as info:
        log_client.put_logs(PutLogsRequest(PROJECT, "nope", "", "", [LogItem(contents=[("n", "1")])]))
    assert (info.value.resp_status, info.value.get_error_code()) == (404, "LogStoreNotExist")


# ---- the logging handlers, with a pasted key --------------------------------------------------------------------


def ship(handler: logging.Handler, numbers: range) -> None:
    """Log one record per number (its "n" an extra field) through a logger that has only `handler`, then flush()."""
    logger = logging.getLogger("tests.sls.%d" % id(handler))
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        for n in numbers:
            logger.info("record", extra={"n": n})
    finally:
        logger.removeHandler(handler)
        handler.flush()


def test_queued_log_handler_ships_numbered_records_once(sls: CloudEmulator) -> None:
    key = sls.add_access_key()
    handler = QueuedLogHandler(sls.sls_endpoint, key[0], key[1], PROJECT, LOGSTORE, put_wait=0.2, close_wait=5)
    ship(handler, range(200))  # then flush(): the SDK sends what is queued and stops its sender thread for good
    assert not handler.worker.is_alive()
    assert sorted(int(n) for n in stored(sls)) == list(range(200))


def test_queued_log_handler_drops_a_batch_the_service_refuses(sls: CloudEmulator) -> None:
    """What the adapter has to fix: with a revoked key the SDK's handler sends the batch once, gets 401 and drops it
    (handleError), and sends nothing again."""
    key = sls.add_access_key()
    sls.revoke_key(key[0])
    handler = QueuedLogHandler(sls.sls_endpoint, key[0], key[1], PROJECT, LOGSTORE, put_wait=0.2, close_wait=5)
    dropped: List[logging.LogRecord] = []
    handler.handleError = dropped.append  # type: ignore[method-assign]  # logging's hook for a failed emit
    ship(handler, range(5))
    assert stored(sls) == [] and len(dropped) == 1
    assert sls.count("PutLogs", code="Unauthorized") == 1


def test_simple_log_handler_sends_each_record(sls: CloudEmulator) -> None:
    key = sls.add_access_key()
    handler = SimpleLogHandler(sls.sls_endpoint, key[0], key[1], PROJECT, LOGSTORE)
    ship(handler, range(3))
    assert wait_until(lambda: stored(sls) == ["0", "1", "2"])
    assert sls.count("PutLogs", code="OK") == 3


def test_loopback_names_answer_project_names_in_process_and_are_undone() -> None:
    """Both ways a Python process resolves a name (getaddrinfo, and connect() with a host name, which the SDK's
    source-address probe uses) answer 127.0.0.1 for "<project>.127.0.0.1" inside the context, and only there."""
    with _names.loopback_names():
        assert socket.getaddrinfo("my-project.127.0.0.1", 80, socket.AF_INET)[0][4] == ("127.0.0.1", 80)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("my-project.127.0.0.1", 80))
            assert probe.getsockname()[0] == "127.0.0.1"
    assert "connect" not in vars(socket.socket) and socket.getaddrinfo is _names._originals["getaddrinfo"]
