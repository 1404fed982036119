"""The Log Service logging handlers with a managed key, against the emulator: no record lost and none stored twice
through a revocation while records are being shipped, a KMS outage, throttling; what is given up and what is dropped
(bounded queue); flush() keeps the sender; records logged while the handler sends are not shipped by it.

Each record carries its number as the extra field "n"; what the emulator stored is counted (tests/cloud/sls.py). What
the SDK's own handlers do in the same cases (a failed batch dropped, flush() stopping the sender) is shown with the
plain SDK in tests/test_emulator_sls.py. Exit, fork and the configuration examples run in subprocesses:
tests/test_sls_handler_processes.py.
"""

import collections
import logging
import sys
import threading
import types

import pytest
from aliyun.log import QueuedLogHandler
from aliyun.log.logger_hanlder import SimpleLogHandler, UwsgiQueuedLogHandler

from credentials import CredentialsError, CredentialsProvider, StaticCredentialsProvider
from credentials.managed import ManagedSecretProvider
from credentials.model import Credentials
from proxy import ProxyQueuedLogHandler, ProxySimpleLogHandler, ProxyUwsgiQueuedLogHandler
from tests.helpers import DEADLINE, join_all, wait_until

PROJECT, LOGSTORE, SECRET = "my-project", "app-log", "log-key"


@pytest.fixture
def sls(cloud, loopback_names):
    cloud.sls.create_logstore(PROJECT, LOGSTORE)
    return cloud


@pytest.fixture
def provider(sls, kms_client):
    sls.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client)
    yield provider
    provider.close()


def handler_for(cloud, provider, handler_class=ProxyQueuedLogHandler, **options):
    options.setdefault("project", PROJECT)
    options.setdefault("log_store", LOGSTORE)
    return handler_class(cloud.sls_endpoint, credentials_provider=provider, **options)


class Shipping:
    """A logger whose only handler is the one under test; every handleError call is kept (with its exception)."""

    def __init__(self, handler):
        self.handler = handler
        self.errors = []
        handler.handleError = lambda record: self.errors.append((record, sys.exc_info()[1]))
        self.logger = logging.getLogger(f"tests.sls.handlers.{id(handler)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(handler)

    def log(self, numbers):
        for n in numbers:
            self.logger.info("record %d", n, extra={"n": n})

    def close(self):
        self.logger.removeHandler(self.handler)
        self.handler.close()


@pytest.fixture
def shipping():
    made = []

    def make(handler):
        made.append(Shipping(handler))
        return made[-1]

    yield make
    for each in made:
        each.close()


def stored(cloud, logstore=LOGSTORE):
    return [int(record.get("n")) for record in cloud.sls.records(PROJECT, logstore) if record.get("n")]


def each_once(cloud, count):
    numbers = stored(cloud)
    duplicated = [n for n, times in collections.Counter(numbers).items() if times > 1]
    return sorted(numbers) == list(range(count)) and not duplicated


def test_2000_numbered_records_across_a_revocation_are_all_stored_once(sls, configured, shipping):
    """Four threads log 2,000 numbered records; while the first are being shipped the secret rotates and the old
    key is revoked. Every record is stored exactly once, with one GetSecretValue; the revocation did refuse batches
    (the service refuses before storing, so the re-issued batch is stored once)."""
    sls.create_secret(SECRET)
    handler = ProxyQueuedLogHandler(
        sls.sls_endpoint, project=PROJECT, log_store=LOGSTORE, secret_name=SECRET, batch_size=50, put_wait=0.05
    )
    ship = shipping(handler)
    sls.reset_counts()
    rotated = threading.Event()

    def log_share(first):
        ship.log(range(first, first + 125))
        assert rotated.wait(DEADLINE * 3)
        ship.log(range(first + 125, first + 500))

    threads = [threading.Thread(target=log_share, args=(first,), daemon=True) for first in range(0, 2000, 500)]
    for thread in threads:
        thread.start()
    try:
        assert wait_until(lambda: len(stored(sls)) >= 100), "nothing was shipped"
        sls.rotate_secret(SECRET, mode="revoke")
    finally:
        rotated.set()
        join_all(threads)
    handler.flush()
    assert each_once(sls, 2000), (len(stored(sls)), len(set(stored(sls))))
    assert sls.count("PutLogs", code="Unauthorized") >= 1
    assert sls.count("GetSecretValue") == 1
    assert (handler.dropped, ship.errors) == (0, [])
    assert handler.worker.is_alive()  # flush() did not stop the sender


def test_a_kms_outage_with_the_key_revoked_loses_no_record(sls, provider, shipping):
    """KMS is unreachable and the key is revoked: records keep being logged (queued, not dropped) while the sender
    retries the refused batch; when KMS is back every record is stored once."""
    ship = shipping(handler_for(sls, provider, batch_size=20, put_wait=0.05))
    ship.log(range(100))
    ship.handler.flush()
    assert stored(sls) == list(range(100))
    sls.kms_down()
    sls.rotate_secret(SECRET, mode="revoke")
    try:
        ship.log(range(100, 250))
        assert wait_until(lambda: sls.count("PutLogs", code="Unauthorized") >= 3, DEADLINE * 3), "no retry seen"
        ship.log(range(250, 400))  # logged while the sender is failing: queued
        assert len(stored(sls)) == 100 and ship.handler.pending == 300
    finally:
        sls.kms_up()
    assert wait_until(lambda: len(stored(sls)) >= 400, DEADLINE * 6), len(stored(sls))
    ship.handler.flush()
    assert each_once(sls, 400)
    assert (ship.handler.dropped, ship.errors) == (0, [])


def test_throttling_is_retried_and_the_batch_stored_once(sls, provider, shipping):
    """403 WriteQuotaExceed is not retried by LogClient itself: the handler sends the same batch again later."""
    ship = shipping(handler_for(sls, provider, put_wait=0.05))
    sls.service_fault("sls", status=403, code="WriteQuotaExceed", message="Project write quota exceed", times=2)
    ship.log(range(10))
    ship.handler.flush()
    assert each_once(sls, 10)
    assert [c.code for c in sls.calls if c.action == "PutLogs"] == ["WriteQuotaExceed", "WriteQuotaExceed", "OK"]


def test_a_batch_refused_for_good_is_reported_once_and_not_sent_again(sls, provider, shipping):
    ship = shipping(handler_for(sls, provider, log_store="no-such-store", put_wait=0.05))
    ship.log(range(3))
    ship.handler.flush()
    assert sls.count("PutLogs") == 1 and sls.count("PutLogs", code="LogStoreNotExist") == 1
    assert ship.handler.dropped == 3 and len(ship.errors) == 1
    assert ship.errors[0][1].get_error_code() == "LogStoreNotExist"


def test_flush_keeps_the_sender_running(sls, provider, shipping):
    """The SDK's flush() stops its sender for good (records logged after it are never sent): ours does not."""
    ship = shipping(handler_for(sls, provider))
    ship.log(range(5))
    ship.handler.flush()
    assert stored(sls) == list(range(5))
    ship.log(range(5, 10))
    ship.handler.flush()
    assert each_once(sls, 10) and ship.handler.worker.is_alive()


def test_a_full_queue_drops_at_once_while_the_sender_is_failing(sls, provider, shipping):
    """queue_size bounds what waits. While the sender retries a refused batch (here: the key revoked and KMS down) a
    record that finds the queue full is dropped at once (never a wait on an outage), counted and reported; what was
    queued is stored once when KMS is back."""
    ship = shipping(handler_for(sls, provider, queue_size=20, batch_size=5, put_wait=30))  # a full queue: 60 s
    sls.kms_down()
    sls.rotate_secret(SECRET, mode="revoke")
    try:
        ship.log(range(5))  # one full batch: sent at once
        assert wait_until(lambda: sls.count("PutLogs", code="Unauthorized") >= 2), "not refused twice"  # retrying
        logging_thread = threading.Thread(target=ship.log, args=(range(5, 105),), daemon=True)
        logging_thread.start()
        logging_thread.join(DEADLINE * 3)  # 80 waits of 60 s each, were a full queue waited on
        assert not logging_thread.is_alive(), "a logging call waited for room during an outage"
        assert ship.handler.dropped == 80 and len(ship.errors) == 80  # 5 in hand, 20 queued
        assert "queue full (20 records)" in str(ship.errors[0][1])
    finally:
        sls.kms_up()
    assert wait_until(lambda: len(stored(sls)) >= 25, DEADLINE * 6)
    ship.handler.flush()
    assert each_once(sls, 25)


def test_a_full_queue_does_not_wait_on_a_send_that_hangs(sls, provider, shipping):
    """Log Service holds the first PutLogs unanswered (a hung service: LogClient waits up to 120 s). A logging call
    that finds the queue full waits at most 2 x put_wait, and none waits once the send has hung longer than that."""
    ship = shipping(handler_for(sls, provider, queue_size=5, batch_size=5, put_wait=0.5))
    sls.service_fault("sls", delay=60, times=1)
    ship.log(range(5))  # the batch taken and sent: held by the service
    assert wait_until(lambda: ship.handler.pending == 5 and len(ship.handler._shipper._items) == 0)
    logging_thread = threading.Thread(target=ship.log, args=(range(5, 100),), daemon=True)
    logging_thread.start()
    logging_thread.join(DEADLINE * 3)  # 90 waits of a second each, were every full put to wait
    assert not logging_thread.is_alive(), "logging calls waited on a send that hangs"
    assert ship.handler.dropped == 90 and ship.handler.pending == 10  # 5 held, 5 queued


@pytest.mark.parametrize("handler_class", [ProxyQueuedLogHandler, ProxySimpleLogHandler])
def test_records_logged_while_the_handler_sends_are_not_shipped_by_it(sls, provider, monkeypatch, handler_class):
    """On the root logger at DEBUG, the sending itself logs (urllib3's connection lines, our re-issue line): those
    records are not fed back into the handler that is sending (they would loop); the application's are stored once."""
    options = {"put_wait": 0.05} if handler_class is ProxyQueuedLogHandler else {}
    handler = handler_for(sls, provider, handler_class, **options)
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", logging.DEBUG)
    root.addHandler(handler)

    def application():
        logging.getLogger("app").info("hello", extra={"n": 0})
        handler.flush()
        sls.rotate_secret(SECRET, mode="revoke")  # the next send is refused and re-issued: more log lines
        logging.getLogger("app").info("again", extra={"n": 1})
        handler.flush()

    thread = threading.Thread(target=application, daemon=True)
    try:
        thread.start()
        thread.join(DEADLINE * 3)
        assert not thread.is_alive(), "the handler's own sending fed back into it"
    finally:
        root.removeHandler(handler)
        if not thread.is_alive():
            handler.close()
    names = [record.get("name") for record in sls.sls.records(PROJECT, LOGSTORE)]
    assert names == ["app", "app"], names
    assert sls.count("PutLogs", code="OK") == 2


def test_the_simple_handler_heals_a_revocation(sls, configured, shipping):
    sls.create_secret(SECRET)
    ship = shipping(ProxySimpleLogHandler(sls.sls_endpoint, project=PROJECT, log_store=LOGSTORE, secret_name=SECRET))
    ship.log(range(3))
    sls.rotate_secret(SECRET, mode="revoke")
    ship.log(range(3, 6))
    assert each_once(sls, 6) and ship.errors == []
    assert sls.count("PutLogs", code="Unauthorized") == 1 and sls.count("GetSecretValue") == 2


class KeyAfterAWhile(CredentialsProvider):
    """No key at all (KMS unreachable before the first key) until ``ready`` is set, then a fixed key."""

    def __init__(self, key):
        self.ready = threading.Event()
        self.failures = 0
        self._credentials = Credentials(*key)

    def get_credentials(self):
        if not self.ready.is_set():
            self.failures += 1
            raise CredentialsError("cannot reach KMS", secret_name=SECRET)
        return self._credentials

    def refresh(self, stale=None):
        return self.get_credentials()


def test_records_logged_before_the_first_key_are_stored_once_it_comes(sls, shipping):
    provider = KeyAfterAWhile(sls.add_access_key())
    ship = shipping(handler_for(sls, provider, put_wait=0.05))
    ship.log(range(50))
    assert wait_until(lambda: provider.failures >= 2), "the sender did not try again"
    assert sls.count("PutLogs") == 0 and ship.handler.pending == 50
    provider.ready.set()
    assert wait_until(lambda: len(stored(sls)) >= 50, DEADLINE * 6)
    ship.handler.flush()
    assert each_once(sls, 50) and (ship.handler.dropped, ship.errors) == (0, [])


def test_closing_a_handler_releases_its_hold_on_the_shared_secret(sls, configured):
    sls.create_secret(SECRET)
    handler = ProxyQueuedLogHandler(sls.sls_endpoint, project=PROJECT, log_store=LOGSTORE, secret_name=SECRET)
    provider = handler.credentials_provider
    handler.handle(logging.makeLogRecord({"msg": "one", "levelno": logging.INFO, "n": 0}))
    handler.close()
    assert provider.closed and stored(sls) == [0]
    handler.close()  # idempotent


def test_close_sends_what_is_queued_first(sls, provider, shipping):
    """close() without flush() (a handler closed by the application): what waits in the queue is sent first."""
    ship = shipping(handler_for(sls, provider, put_wait=30))  # records would linger 30 s for a fuller batch
    ship.log(range(20))
    ship.handler.close()
    assert each_once(sls, 20) and ship.handler.dropped == 0


def test_records_of_another_topic_go_in_a_batch_of_their_own(sls, provider, shipping):
    """A batch is one PutLogs, one topic (and source, tags): records queued under another topic are not merged into
    it (the SDK's handler sent a whole batch under its last record's topic)."""
    ship = shipping(handler_for(sls, provider, topic="first", put_wait=30))
    ship.log(range(3))
    ship.handler.set_topic("second")
    ship.log(range(3, 5))
    ship.handler.flush()
    topics = {int(record.get("n")): record.topic for record in sls.sls.records(PROJECT, LOGSTORE)}
    assert topics == {0: "first", 1: "first", 2: "first", 3: "second", 4: "second"}
    assert sls.count("PutLogs", code="OK") == 2


def test_a_record_after_close_is_reported_not_sent(sls, provider, shipping):
    ship = shipping(handler_for(sls, provider))
    ship.log(range(2))
    ship.handler.close()
    ship.log(range(2, 3))
    assert stored(sls) == [0, 1] and ship.handler.dropped == 1 and "closed" in str(ship.errors[0][1])


def test_they_are_the_sdks_handlers_and_say_what_to_write_instead_of_the_key_pair():
    provider = StaticCredentialsProvider("LTAI5tKeyId", "the-secret")
    for proxy_class, sdk_class in (
        (ProxyQueuedLogHandler, QueuedLogHandler),
        (ProxySimpleLogHandler, SimpleLogHandler),
    ):
        handler = proxy_class("127.0.0.1:9", project="p", log_store="s", credentials_provider=provider, topic="t")
        assert isinstance(handler, sdk_class) and handler.topic == "t" and handler.client is None
        assert getattr(handler, "worker", None) is None  # no thread until the first record
        handler.close()
        with pytest.raises(TypeError, match="access_key_id, access_key, project, log_store"):
            proxy_class("cn-hangzhou.log.aliyuncs.com", "LTAI5tKeyId", "the-secret", "p", "s")
        with pytest.raises(ValueError, match="not access_key="):
            proxy_class("ep", project="p", log_store="s", credentials_provider=provider, access_key="the-secret")
        with pytest.raises(ValueError, match="needs log_store="):
            proxy_class("ep", project="p", credentials_provider=provider)
        with pytest.raises(ValueError, match="exactly one"):
            proxy_class("ep", project="p", log_store="s")


def test_the_uwsgi_handler_empties_each_workers_copy_of_the_queue_after_uwsgis_fork(sls, provider, monkeypatch):
    """uWSGI forks its workers without Python's fork hooks (unless told to): the handler registers a uWSGI
    postfork hook instead (uwsgidecorators exists only inside uWSGI; a stand-in records the registration)."""
    hooks = []
    monkeypatch.setitem(sys.modules, "uwsgidecorators", types.SimpleNamespace(postfork=hooks.append))
    handler = handler_for(sls, provider, ProxyUwsgiQueuedLogHandler, put_wait=30)
    try:
        assert isinstance(handler, UwsgiQueuedLogHandler) and handler.close_wait == 2  # the SDK's uWSGI default
        assert len(hooks) == 1
        handler.handle(logging.makeLogRecord({"msg": "queued in the master", "levelno": logging.INFO}))
        assert handler.pending == 1
        hooks[0]()  # what uWSGI runs in each worker right after its fork
        assert handler.pending == 0 and handler.worker is None
    finally:
        handler.close()
    assert stored(sls) == []


def test_many_threads_logging_while_a_batch_is_retried_lose_nothing(sls, provider, shipping):
    """8 threads log through a throttled period (the batch in hand sent again, the queue filling behind it)."""
    ship = shipping(handler_for(sls, provider, batch_size=100, put_wait=0.05))
    sls.service_fault("sls", status=403, code="ShardWriteQuotaExceed", times=3)
    threads = [threading.Thread(target=ship.log, args=(range(k, k + 100),), daemon=True) for k in range(0, 800, 100)]
    for thread in threads:
        thread.start()
    join_all(threads)
    ship.handler.flush()
    assert each_once(sls, 800) and ship.handler.dropped == 0
    assert sls.count("PutLogs", code="ShardWriteQuotaExceed") == 3
