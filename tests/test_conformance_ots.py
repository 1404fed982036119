"""Conformance matrix for ProxyOTSClient: every Tablestore operation the emulator serves, signed v2 and v4, called
right after a revoking rotation: it succeeds (the answer's signature checked with the new key), costs exactly one
GetSecretValue, and the emulator sees one request refused with the old key and one answered with the new.

CALLS is the matrix; the "Which calls heal" table of docs/sdks/tablestore.md is checked against it
(tests/test_docs.py::test_which_calls_heal_ots_table_matches_the_matrix).
"""

import itertools
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

import pytest
from tablestore import (
    CapacityUnit,
    Condition,
    ReservedThroughput,
    Row,
    RowExistenceExpectation,
    TableMeta,
    TableOptions,
)

from credentials import ConfigLoader, registry
from proxy import ProxyOTSClient
from tests.cloud import CloudEmulator

_names = itertools.count()
INSTANCE = "conformance"
PK = [("id", "order-1")]


@pytest.fixture(scope="module")
def shared_cloud() -> Iterator[CloudEmulator]:
    with CloudEmulator() as cloud:
        cloud.ots.create_instance(INSTANCE)
        yield cloud


@pytest.fixture
def cloud(shared_cloud: CloudEmulator, tmp_path: Path) -> Iterator[CloudEmulator]:
    """The shared emulator, its call log emptied, the registry empty and pointed at it."""
    ConfigLoader.set_config_name(shared_cloud.write_properties(str(tmp_path / "managed.properties")))
    registry.reset()
    shared_cloud.reset_counts()
    try:
        yield shared_cloud
    finally:
        registry.reset()
        ConfigLoader.set_config_name(None)


def _create(client: ProxyOTSClient, table: str) -> None:
    client.create_table(TableMeta(table, [("id", "STRING")]), TableOptions(), ReservedThroughput(CapacityUnit(0, 0)))


def _put(client: ProxyOTSClient, table: str) -> Any:
    return client.put_row(table, Row(PK, [("status", "shipped")]), Condition(RowExistenceExpectation.IGNORE))


def _get(client: ProxyOTSClient, table: str) -> Any:
    _, row, _ = client.get_row(table, PK, max_version=1)
    assert row.attribute_columns[0][:2] == ("status", "shipped")


def _listed(client: ProxyOTSClient, table: str) -> Any:
    assert table in client.list_table()


def _described(client: ProxyOTSClient, table: str) -> Any:
    assert client.describe_table(table).table_meta.table_name == table


# the OTSClient method (a row of the docs table) -> (made before the rotation: "table" or "row", or None, the call
# after it, the action the emulator logs)
CALLS: Dict[str, Tuple[Optional[str], Callable[[ProxyOTSClient, str], Any], str]] = {
    "create_table": (None, _create, "CreateTable"),
    "list_table": ("table", _listed, "ListTable"),
    "describe_table": ("table", _described, "DescribeTable"),
    "delete_table": ("table", lambda c, t: c.delete_table(t), "DeleteTable"),
    "put_row": ("table", _put, "PutRow"),
    "get_row": ("row", _get, "GetRow"),
}


@pytest.mark.parametrize("region", [None, "cn-hangzhou"], ids=["v2", "v4"])
@pytest.mark.parametrize("call", list(CALLS))
def test_call_right_after_a_revoking_rotation_heals_with_one_fetch(
    cloud: CloudEmulator, call: str, region: Optional[str]
) -> None:
    made, send, action = CALLS[call]
    secret, table = "ots-key-%d" % next(_names), "t%d" % next(_names)
    cloud.create_secret(secret)
    with ProxyOTSClient(cloud.ots_endpoint, instance_name=INSTANCE, secret_name=secret, region=region) as client:
        if made:
            _create(client, table)
        if made == "row":
            _put(client, table)
        old_id, _ = cloud.current_key(secret)
        new_id, _ = cloud.rotate_secret(secret, mode="revoke")
        cloud.reset_counts()

        send(client, table)

        assert cloud.count("GetSecretValue") == 1
        assert [(c.action, c.access_key_id, c.code) for c in cloud.calls if c.service == "ots"] == [
            (action, old_id, "OTSAuthFailed"),
            (action, new_id, "OK"),
        ]
