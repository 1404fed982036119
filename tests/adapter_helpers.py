"""Calls through the adapters of issue 22 (Log Service, Message Service, Tablestore) against the emulator, for the
tests that count what an operator sees through a revocation: records per level (test_quiet_heal.py), the metrics
(test_metrics.py), ``status()`` (test_status.py). Each operation is proven with the plain SDK in
tests/test_emulator_sls.py, test_emulator_mns.py and test_emulator_ots.py."""

import itertools
import threading
import time
from typing import Any, Callable, NamedTuple, Tuple

from aliyun.log import LogException, LogItem, PutLogsRequest
from mns.mns_exception import MNSServerException
from mns.queue import Message, QueueMeta
from tablestore import (
    CapacityUnit,
    Condition,
    OTSServiceError,
    ReservedThroughput,
    Row,
    RowExistenceExpectation,
    TableMeta,
    TableOptions,
)

from proxy import ProxyLogClient, ProxyMnsAccount, ProxyOTSClient

PROJECT, LOGSTORE = "my-project", "app-log"  # Log Service (needs the loopback_names fixture)
INSTANCE, TABLE = "my-instance", "orders"  # Tablestore


def put_logs(client: Any, *numbers: Any) -> Any:
    items = [LogItem(timestamp=int(time.time()), contents=[("n", str(n))]) for n in numbers]
    return client.put_logs(PutLogsRequest(PROJECT, LOGSTORE, "", "", items))


def create_table(client: Any) -> None:
    client.create_table(TableMeta(TABLE, [("id", "STRING")]), TableOptions(), ReservedThroughput(CapacityUnit(0, 0)))


def put_and_get_row(client: Any, row_id: str) -> None:
    client.put_row(TABLE, Row([("id", row_id)], [("status", row_id)]), Condition(RowExistenceExpectation.IGNORE))
    _, row, _ = client.get_row(TABLE, [("id", row_id)], max_version=1)
    assert row.attribute_columns[0][1] == row_id


Call = Tuple[Callable[[], Any], Callable[[], None]]  # (one call, close everything it made)


def log_client(cloud: Any, provider: Any) -> Call:
    cloud.sls.create_logstore(PROJECT, LOGSTORE)
    client = ProxyLogClient(cloud.sls_endpoint, credentials_provider=provider)
    return (lambda: put_logs(client, threading.current_thread().name)), client.shutdown


def mns_accounts(cloud: Any, provider: Any) -> Call:
    """An account per calling thread, as aliyun-mns-sdk requires (one connection each), each with a queue of its
    own: its first call creates them."""
    accounts, local, numbers = [], threading.local(), itertools.count()

    def send() -> None:
        if not hasattr(local, "queue"):
            account = ProxyMnsAccount(cloud.mns_endpoint, credentials_provider=provider)
            accounts.append(account)
            local.queue = account.get_queue("q-%d" % next(numbers))
            local.queue.create(QueueMeta())
        local.queue.send_message(Message("work"))

    def close() -> None:
        for account in accounts:
            account.shutdown()

    return send, close


def ots_client(cloud: Any, provider: Any) -> Call:
    cloud.ots.create_instance(INSTANCE)
    client = ProxyOTSClient(cloud.ots_endpoint, instance_name=INSTANCE, credentials_provider=provider)
    create_table(client)
    return (lambda: put_and_get_row(client, threading.current_thread().name)), client.shutdown


class Adapter(NamedTuple):
    make: Callable[[Any, Any], Call]
    sdk: str  # the metric's sdk attribute
    error: type  # what a call raises when its key is refused
    service: str  # the emulator's name of the service
    refusal: str  # the code the service refuses a revoked key with


ADAPTERS = {
    "ProxyLogClient": Adapter(log_client, "aliyun-log", LogException, "sls", "Unauthorized"),
    "ProxyMnsAccount": Adapter(mns_accounts, "mns", MNSServerException, "mns", "InvalidAccessKeyId"),
    "ProxyOTSClient": Adapter(ots_client, "tablestore", OTSServiceError, "ots", "OTSAuthFailed"),
}


def refused(cloud: Any, adapter: Adapter) -> int:
    """Requests the service refused for their key so far."""
    return int(cloud.count(code=adapter.refusal, service=adapter.service))
