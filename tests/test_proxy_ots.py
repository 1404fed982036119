"""ProxyOTSClient against the emulator's Tablestore: a deleted, disabled or expired key heals (signed v2 and v4, the
answer's signature checked with the new key); every other OTSAuthFailed (an unknown instance, a missing permission,
clock skew, a wrong secret) reaches the caller at once without a refresh; 8 threads on one client heal a revoking
rotation with one GetSecretValue.

Every operation used here is first proven with the plain SDK in tests/test_emulator_ots.py; each operation healing a
revocation is tests/test_conformance_ots.py.
"""

import datetime
import pickle
import threading
from typing import Optional, Tuple

import pytest
from tablestore import (
    CapacityUnit,
    Condition,
    OTSClient,
    OTSClientError,
    OTSServiceError,
    ReservedThroughput,
    Row,
    RowExistenceExpectation,
    TableMeta,
    TableOptions,
)
from tablestore.retry import NoRetryPolicy

from credentials import CredentialsError, CredentialsProvider, CredentialsToolProvider, StaticCredentialsProvider
from credentials.model import Credentials
from proxy import OtsAKExpireHandler, ProxyOTSClient
from tests.helpers import call_through_rotation, refused_key

INSTANCE, TABLE = "my-instance", "orders"
SKEW_MESSAGE = "Mismatch between system time and x-ots-date: 2026-01-01T00:00:00.000Z."


class Counting(CredentialsProvider):
    """A fixed key, counting the refreshes the proxy asks for."""

    def __init__(self, key_id: str, secret: str, token: Optional[str] = None) -> None:
        self.credentials = Credentials(key_id, secret, token)
        self.refreshes = 0

    def get_credentials(self) -> Credentials:
        return self.credentials

    def refresh(self, stale: Optional[Credentials] = None) -> Credentials:
        self.refreshes += 1
        return self.credentials


@pytest.fixture
def ots(cloud):
    cloud.ots.create_instance(INSTANCE)
    return cloud


def plain(cloud, key: Tuple[str, str], token: Optional[str] = None, region=None, instance=INSTANCE) -> OTSClient:
    return OTSClient(
        cloud.ots_endpoint, key[0], key[1], instance, sts_token=token, region=region, retry_policy=NoRetryPolicy()
    )


def create_table(client: OTSClient) -> None:
    meta = TableMeta(TABLE, [("id", "STRING")])
    client.create_table(meta, TableOptions(), ReservedThroughput(CapacityUnit(0, 0)))


def put_and_get(client: OTSClient, row_id: str) -> str:
    client.put_row(TABLE, Row([("id", row_id)], [("status", row_id)]), Condition(RowExistenceExpectation.IGNORE))
    _, row, _ = client.get_row(TABLE, [("id", row_id)], max_version=1)
    return row.attribute_columns[0][1]


def skewed_clock(monkeypatch, minutes: int) -> None:
    """The machine's clock 20 minutes behind, as tablestore reads it (tablestore.utils)."""
    import tablestore.utils

    real = tablestore.utils.get_now_utc_datetime
    monkeypatch.setattr(tablestore.utils, "get_now_utc_datetime", lambda: real() - datetime.timedelta(minutes=minutes))


# --- which OTSAuthFailed means a rotated key ------------------------------------------------------------------------


def refusal(ots, monkeypatch, case: str) -> BaseException:
    """What the plain SDK raises for ``case``, from the emulator (a PutRow on an existing table)."""
    owner = ots.add_access_key()
    create_table(plain(ots, owner))
    key, token, region, instance = ots.add_access_key(), None, None, INSTANCE
    if case in ("unknown key", "disabled key", "expired token", "token of another key", "wrong secret"):
        key, token = refused_key(ots, case)
    elif case == "wrong secret v4":
        key, region = (key[0], "not-the-secret"), ots.region_id
    elif case == "unknown instance":
        instance = "nowhere"
    elif case == "no access to the instance":
        ots.ots.deny_instance(key[0])
    elif case == "clock skew (the SDK's own check)":
        skewed_clock(monkeypatch, -20)
    elif case == "clock skew (the service's answer)":
        ots.service_fault("ots", status=403, code="OTSAuthFailed", message=SKEW_MESSAGE, times=1)
    elif case == "a failed condition":
        key = owner
        put_and_get(plain(ots, owner), "row")
    client = plain(ots, key, token, region, instance)
    with pytest.raises((OTSServiceError, OTSClientError)) as info:
        client.put_row(TABLE, Row([("id", "row")], [("s", "x")]), Condition(RowExistenceExpectation.EXPECT_NOT_EXIST))
    return info.value


@pytest.mark.parametrize(
    "case, message, expired",
    [
        ("unknown key", "The AccessKeyID does not exist.", True),
        ("disabled key", "The AccessKeyID is disabled.", True),
        ("expired token", "The StsToken has expired.", True),
        ("token of another key", "The StsToken is invalid.", True),
        ("wrong secret", "Signature mismatch.", False),
        ("wrong secret v4", "Signature mismatch.", False),
        ("unknown instance", "The instance is not found.", False),
        ("no access to the instance", "The user has no privilege to access the instance.", False),
        ("clock skew (the service's answer)", SKEW_MESSAGE, False),
        ("clock skew (the SDK's own check)", "The difference between date in response and system time", False),
        ("a failed condition", "Condition check failed.", False),
    ],
)
def test_the_expire_handler_judges_each_refusal_by_code_and_message(ots, monkeypatch, case, message, expired):
    """Each refusal as the plain SDK raises it. OTSAuthFailed is the code of all but the last two; the message
    tells a rotated key from what a new key does not fix. (With a clock 20 minutes off, the SDK itself rejects
    the answer's date before it reads the service's OTSAuthFailed: an OTSClientError.)"""
    error = refusal(ots, monkeypatch, case)
    assert error.get_error_message().startswith(message)
    assert OtsAKExpireHandler().judge_ak_expire(error) is expired


def test_the_handler_matches_both_published_wordings_and_an_expired_token_by_its_words():
    handler = OtsAKExpireHandler()
    for text in (
        "The AccessKey ID does not exist.",
        "The AccessKeyID does not exist",
        "the accesskey id is DISABLED.",
        "The security token you provided has expired.",
        "SecurityToken expired",
    ):
        assert handler.judge_ak_expire(OTSServiceError(403, "OTSAuthFailed", text, "r")), text
    assert not handler.judge_ak_expire(OTSServiceError(403, "OTSNoPermissionAccess", "The AccessKeyID is disabled."))
    only = OtsAKExpireHandler(messages=["The AccessKeyID does not exist."])
    assert not only.judge_ak_expire(OTSServiceError(403, "OTSAuthFailed", "The StsToken has expired.", "r"))


@pytest.mark.parametrize(
    "case",
    [
        "wrong secret",
        "unknown instance",
        "no access to the instance",
        "clock skew (the service's answer)",
        "clock skew (the SDK's own check)",
    ],
)
def test_a_refusal_a_new_key_does_not_fix_is_raised_at_once_without_a_refresh(ots, monkeypatch, case):
    key = ots.add_access_key()
    create_table(plain(ots, key))
    provider = Counting(key[0], "not-the-secret" if case == "wrong secret" else key[1])
    instance = "nowhere" if case == "unknown instance" else INSTANCE
    if case == "no access to the instance":
        ots.ots.deny_instance(key[0])
    elif case == "clock skew (the service's answer)":
        ots.service_fault("ots", status=403, code="OTSAuthFailed", message=SKEW_MESSAGE, times=1)
    elif case == "clock skew (the SDK's own check)":
        skewed_clock(monkeypatch, -20)
    client = ProxyOTSClient(ots.ots_endpoint, instance_name=instance, credentials_provider=provider)
    ots.reset_counts()
    with pytest.raises((OTSServiceError, OTSClientError)) as info:
        client.list_table()
    assert type(info.value) in (OTSServiceError, OTSClientError)  # the SDK's own class, as the plain SDK raises it
    assert ots.count("ListTable") == 1 and provider.refreshes == 0
    client.shutdown()


# --- what heals ------------------------------------------------------------------------------------------------------


def sts_role_provider(cloud, monkeypatch, tmp_path) -> CredentialsToolProvider:
    """STS keys from the emulator's AssumeRole (https, its test CA), through the Credentials tool."""
    monkeypatch.setenv("SSL_CERT_FILE", cloud.sts.ca_file)
    monkeypatch.setenv("HOME", str(tmp_path))
    key_id, secret = cloud.add_access_key()
    return CredentialsToolProvider(
        {
            "type": "ram_role_arn",
            "access_key_id": key_id,
            "access_key_secret": secret,
            "role_arn": cloud.sts.role_arn(),
            "role_session_name": "tablestore",
            "sts_endpoint": cloud.sts.host,
        }
    )


@pytest.mark.parametrize("region", [None, "cn-hangzhou"], ids=["v2", "v4"])
@pytest.mark.parametrize("how", ["revoked", "disabled", "sts token expired"])
def test_a_deleted_disabled_or_expired_key_heals_and_the_answer_verifies_with_the_new_key(
    ots, configured, monkeypatch, tmp_path, how, region
):
    """The call is built and signed anew with the refreshed key, and the SDK checks the service's answer (its key id
    and signature: the derived v4 key for v4) against that key: a good answer, one fetch."""
    if how == "sts token expired":
        provider = sts_role_provider(ots, monkeypatch, tmp_path)
        client = ProxyOTSClient(ots.ots_endpoint, instance_name=INSTANCE, credentials_provider=provider, region=region)
    else:
        ots.create_secret("tables")
        client = ProxyOTSClient(ots.ots_endpoint, instance_name=INSTANCE, secret_name="tables", region=region)
    create_table(client)
    assert put_and_get(client, "before") == "before"
    old_id = client.managed_credentials_provider.get_credentials().access_key_id
    ots.reset_counts()
    if how == "revoked":
        ots.rotate_secret("tables", mode="revoke")
    elif how == "disabled":
        ots.rotate_secret("tables", mode="grace")
        ots.disable_key(old_id)
    else:
        ots.sts.expire(old_id)

    assert put_and_get(client, "after") == "after"

    new_id = client.managed_credentials_provider.get_credentials().access_key_id
    fetch = "AssumeRole" if how == "sts token expired" else "GetSecretValue"
    assert new_id != old_id and ots.count(fetch) == 1
    assert [(c.action, c.access_key_id, c.code) for c in ots.calls if c.service == "ots"] == [
        ("PutRow", old_id, "OTSAuthFailed"),
        ("PutRow", new_id, "OK"),
        ("GetRow", new_id, "OK"),
    ]
    client.shutdown()


def test_eight_threads_on_one_client_heal_a_revoking_rotation_with_one_fetch(ots, configured):
    """An OTSClient is shared between threads (urllib3's pool, one snapshot per request): so is ProxyOTSClient."""
    ots.create_secret("shared")
    client = ProxyOTSClient(ots.ots_endpoint, instance_name=INSTANCE, secret_name="shared")
    create_table(client)
    ots.reset_counts()
    try:
        errors, (new_id, _) = call_through_rotation(
            lambda: put_and_get(client, threading.current_thread().name),
            lambda: ots.rotate_secret("shared", mode="revoke"),
        )
    finally:
        client.shutdown()
    assert errors == []
    assert ots.count("GetSecretValue") == 1
    assert ots.count("GetRow", access_key_id=new_id, code="OK") >= 50


# --- no key, misuse, what it shows -----------------------------------------------------------------------------------


class NoKey(CredentialsProvider):
    def get_credentials(self) -> Credentials:
        raise CredentialsError("KMS is unreachable", secret_name="app", code="Kms.Unreachable")

    def refresh(self, stale: Optional[Credentials] = None) -> Credentials:
        return self.get_credentials()


def test_no_key_at_all_is_an_ots_client_error_and_a_credentials_error(ots):
    client = ProxyOTSClient(ots.ots_endpoint, instance_name=INSTANCE, credentials_provider=NoKey())
    with pytest.raises(OTSClientError) as info:
        client.list_table()
    error = info.value
    assert isinstance(error, CredentialsError) and error.secret_name == "app" and error.code == "Kms.Unreachable"
    assert "KMS is unreachable" in error.get_error_message() and ots.count(service="ots") == 0
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error) and again.code == "Kms.Unreachable"
    client.shutdown()


def test_client_forms_that_do_not_apply_say_what_to_write(ots):
    with pytest.raises(TypeError, match="instance_name='my-instance', secret_name='my-ram-secret'") as info:
        ProxyOTSClient(ots.ots_endpoint, "LTAI5tPastedKeyId", "pasted-secret", INSTANCE)
    assert "pasted-secret" not in str(info.value)
    with pytest.raises(ValueError, match="not access_key_secret=") as info:
        ProxyOTSClient(
            ots.ots_endpoint,
            instance_name=INSTANCE,
            credentials_provider=Counting("k", "s"),
            access_key_secret="pasted-secret",
        )
    assert "pasted-secret" not in str(info.value)
    with pytest.raises(OTSClientError, match="instance_name"):  # the SDK's own check
        ProxyOTSClient(ots.ots_endpoint, credentials_provider=Counting("k", "s"))


def test_repr_shows_no_secret_and_a_token_is_sent(ots):
    key_id, secret = ots.add_access_key(security_token=True)
    token = ots.security_token_of(key_id)
    provider = StaticCredentialsProvider(key_id, secret, token)
    with ProxyOTSClient(ots.ots_endpoint, instance_name=INSTANCE, credentials_provider=provider) as client:
        assert client.list_table() == ()  # an STS key without its token is refused
        shown = repr(client) + repr(client.credentials_provider)
        assert secret not in shown and token not in shown and client.managed_credentials_provider is provider


def test_shutdown_releases_the_shared_provider(ots, configured):
    ots.create_secret("app-key")
    other = ProxyOTSClient(ots.ots_endpoint, instance_name=INSTANCE, secret_name="app-key")
    provider = other.managed_credentials_provider
    with ProxyOTSClient(ots.ots_endpoint, instance_name=INSTANCE, secret_name="app-key") as client:
        assert client.managed_credentials_provider is provider and client.list_table() == ()
    assert not provider.closed  # `other` still holds it
    assert other.list_table() == ()
    other.shutdown()
    other.shutdown()  # idempotent
    assert provider.closed


class Rotating(CredentialsProvider):
    """Hands out ``first`` until refreshed, then ``second``; notes the ``stale`` key each refresh is given."""

    def __init__(self, first: Credentials, second: Credentials) -> None:
        self.current, self.second, self.stale_seen = first, second, []

    def get_credentials(self) -> Credentials:
        return self.current

    def refresh(self, stale: Optional[Credentials] = None) -> Credentials:
        self.stale_seen.append(stale)
        self.current = self.second
        return self.current


def test_the_refresh_is_told_which_key_the_service_refused(ots):
    """The key that signed the refused request is what the provider's single flight compares (one fetch for all the
    threads that saw that key, none when the cache already holds another)."""
    old, new = ots.add_access_key(), ots.add_access_key()
    ots.revoke_key(old[0])
    provider = Rotating(Credentials(*old), Credentials(*new))
    with ProxyOTSClient(ots.ots_endpoint, instance_name=INSTANCE, credentials_provider=provider) as client:
        assert client.list_table() == ()
    assert provider.stale_seen == [Credentials(*old)]
