"""The emulator's Tablestore (tests/cloud/ots.py) against the PLAIN tablestore SDK: OTSClient with a pasted key, never
our proxies.

Each operation succeeds with a static and an STS key, signed v2 and v4 (the SDK also checks the signature of every
successful answer); each refusal is the OTSServiceError an application catches (HTTP status, code, message, request
id). OTSAuthFailed covers a bad key *and* things a new key does not fix (an unknown instance, a key without access
to the instance): only the message tells them apart.
"""

from typing import Optional, Tuple

import pytest
from tablestore import (
    CapacityUnit,
    Condition,
    OTSClient,
    OTSServiceError,
    ReservedThroughput,
    Row,
    RowExistenceExpectation,
    TableMeta,
    TableOptions,
)
from tablestore.retry import NoRetryPolicy

from tests.cloud import CloudEmulator
from tests.helpers import REFUSED_KEYS, managed_key, refused_key, revoke_through_control_plane

INSTANCE, TABLE = "my-instance", "orders"
PK = [("id", "order-1"), ("part", 7)]


@pytest.fixture
def ots(cloud: CloudEmulator) -> CloudEmulator:
    cloud.ots.create_instance(INSTANCE)
    return cloud


def client(
    cloud: CloudEmulator,
    key: Tuple[str, str],
    token: Optional[str] = None,
    region: Optional[str] = None,
    instance: str = INSTANCE,
) -> OTSClient:
    return OTSClient(
        cloud.ots_endpoint, key[0], key[1], instance, sts_token=token, region=region, retry_policy=NoRetryPolicy()
    )


def create_table(ots_client: OTSClient) -> None:
    meta = TableMeta(TABLE, [("id", "STRING"), ("part", "INTEGER")])
    ots_client.create_table(meta, TableOptions(), ReservedThroughput(CapacityUnit(0, 0)))


def put_row(ots_client: OTSClient, value: str = "shipped", expect=RowExistenceExpectation.IGNORE) -> None:
    ots_client.put_row(TABLE, Row(PK, [("status", value), ("count", 3)]), Condition(expect))


@pytest.mark.parametrize("region", [None, "cn-hangzhou"], ids=["v2", "v4"])
@pytest.mark.parametrize("sts", [False, True], ids=["static key", "sts key"])
def test_create_list_describe_put_get(ots: CloudEmulator, region: Optional[str], sts: bool) -> None:
    key = ots.add_access_key(security_token=True) if sts else ots.add_access_key()
    ots_client = client(ots, key, ots.security_token_of(key[0]), region)
    create_table(ots_client)
    assert ots_client.list_table() == (TABLE,)
    assert ots_client.describe_table(TABLE).table_meta.schema_of_primary_key == [("id", "STRING"), ("part", "INTEGER")]
    put_row(ots_client)
    consumed, row, _ = ots_client.get_row(TABLE, PK, max_version=1)
    assert row.primary_key == PK
    assert [(name, value) for name, value, _ in row.attribute_columns] == [("status", "shipped"), ("count", 3)]
    assert ots_client.get_row(TABLE, [("id", "other"), ("part", 7)], max_version=1)[1] is None
    _, only, _ = ots_client.get_row(TABLE, PK, columns_to_get=["count"], max_version=1)
    assert [c[:2] for c in only.attribute_columns] == [("count", 3)]


def test_a_conditional_put_is_checked(ots: CloudEmulator) -> None:
    ots_client = client(ots, ots.add_access_key())
    create_table(ots_client)
    put_row(ots_client, expect=RowExistenceExpectation.EXPECT_NOT_EXIST)
    with pytest.raises(OTSServiceError) as info:
        put_row(ots_client, "again", RowExistenceExpectation.EXPECT_NOT_EXIST)
    assert (info.value.get_http_status(), info.value.get_error_code()) == (403, "OTSConditionCheckFail")


def refused(ots_client: OTSClient) -> OTSServiceError:
    with pytest.raises(OTSServiceError) as info:
        put_row(ots_client, "must not be stored")
    return info.value


@pytest.mark.parametrize(
    "case, message",
    [
        ("unknown key", "The AccessKeyID does not exist."),
        ("disabled key", "The AccessKeyID is disabled."),
        ("wrong secret", "Signature mismatch."),
        ("wrong secret v4", "Signature mismatch."),
        ("expired token", "The StsToken has expired."),
        ("token of another key", "The StsToken is invalid."),
        ("unknown instance", "The instance is not found."),
        ("no access to the instance", "The user has no privilege to access the instance."),
    ],
)
def test_refusals_are_otsauthfailed_told_apart_by_message_and_store_nothing(
    ots: CloudEmulator, case: str, message: str
) -> None:
    owner = client(ots, ots.add_access_key())
    create_table(owner)
    key, token, region, instance = ots.add_access_key(), None, None, INSTANCE
    if case in REFUSED_KEYS:
        key, token = refused_key(ots, case)
    elif case == "wrong secret v4":
        key, region = (key[0], "not-the-secret"), "cn-hangzhou"
    elif case == "unknown instance":
        instance = "nowhere"
    else:
        ots.ots.deny_instance(key[0])
    err = refused(client(ots, key, token, region, instance))
    assert (err.get_http_status(), err.get_error_code(), err.get_error_message()) == (403, "OTSAuthFailed", message)
    assert err.get_request_id()
    assert ots.ots.rows(INSTANCE, TABLE) == {}


def test_a_key_revoked_through_the_control_plane_is_refused_before_the_row_is_written(ots: CloudEmulator) -> None:
    key = managed_key(ots, "table-writer")
    ots_client = client(ots, key)
    create_table(ots_client)
    put_row(ots_client, "first")
    assert revoke_through_control_plane(ots, "table-writer") == key[0]
    err = refused(ots_client)
    assert (err.get_http_status(), err.get_error_code()) == (403, "OTSAuthFailed")
    assert err.get_error_message() == "The AccessKeyID does not exist."
    (columns,) = ots.ots.rows(INSTANCE, TABLE).values()
    assert columns[0][:2] == ("status", "first")
    assert ots.count("PutRow", access_key_id=key[0], code="OTSAuthFailed") == 1


def test_the_sdk_default_retry_policy_does_not_retry_an_auth_failure(ots: CloudEmulator) -> None:
    key = ots.add_access_key()
    create_table(client(ots, key))
    ots.revoke_key(key[0])
    with pytest.raises(OTSServiceError):
        OTSClient(ots.ots_endpoint, key[0], key[1], INSTANCE).list_table()  # DefaultRetryPolicy
    assert ots.count("ListTable", access_key_id=key[0]) == 1
