"""ProxyLogClient (Log Service) against the emulator with the real aliyun-log-python-sdk: swap-in, healing through a
revoking rotation from 8 threads, what is not refreshed for, the SDK's own refresher refused, errors legacy handlers
catch, migration mistakes. The methods that heal, one by one, are tests/test_conformance_sls.py."""

import threading
import time

import pytest
from aliyun.log import ListLogstoresRequest, LogClient, LogException, LogItem, PutLogsRequest
from aliyun.log.credentials import StaticCredentialsProvider as SdkStaticProvider

from credentials import CredentialsError, CredentialsProvider, StaticCredentialsProvider, get_secret_provider
from credentials.managed import ManagedSecretProvider
from credentials.model import Credentials
from proxy import ProxyLogClient, SlsAKExpireHandler
from tests.helpers import call_through_rotation

PROJECT, LOGSTORE = "my-project", "app-log"


@pytest.fixture
def sls(cloud, loopback_names):
    cloud.sls.create_logstore(PROJECT, LOGSTORE)
    return cloud


def put(client, *numbers, logstore=LOGSTORE):
    items = [LogItem(timestamp=int(time.time()), contents=[("n", str(n))]) for n in numbers]
    return client.put_logs(PutLogsRequest(PROJECT, logstore, "", "", items))


def stored(cloud):
    return [record.get("n") for record in cloud.sls.records(PROJECT, LOGSTORE)]


def test_plain_program_becomes_managed_by_changing_the_constructor(sls, configured):
    key_id, secret = sls.create_secret("log-key")
    plain = LogClient(sls.sls_endpoint, key_id, secret)
    managed = ProxyLogClient(sls.sls_endpoint, "log-key")
    assert isinstance(managed, LogClient)
    put(plain, 0)
    put(managed, 1)
    assert managed.list_logstores(ListLogstoresRequest(PROJECT)).get_logstores() == [LOGSTORE]
    assert stored(sls) == ["0", "1"]
    assert sls.count("PutLogs", access_key_id=key_id, code="OK") == 2
    assert secret not in repr(managed) and repr(managed) == f"ProxyLogClient({sls.sls_endpoint!r}, secret 'log-key')"
    managed.shutdown()
    managed.shutdown()  # idempotent


def test_revoked_key_heals_with_eight_threads_and_one_fetch(sls, configured):
    """8 threads put logs (and read a cursor) while the secret rotates and the old key is revoked: no caller sees an
    error, one GetSecretValue, and every PutLogs that the service answered OK stored its log once."""
    sls.create_secret("log-key")
    client = ProxyLogClient(sls.sls_endpoint, "log-key")
    counter = iter(range(10**6))
    lock = threading.Lock()
    sent = []

    def call():
        with lock:
            number = next(counter)
        put(client, number)
        sent.append(str(number))
        client.get_cursor(PROJECT, LOGSTORE, 0, "end")

    put(client, "warm")
    sls.reset_counts()
    errors, (new_id, _) = call_through_rotation(call, lambda: sls.rotate_secret("log-key", mode="revoke"))
    client.shutdown()
    assert errors == []
    assert sls.count("GetSecretValue") == 1
    assert sls.count("PutLogs", code="Unauthorized") >= 1  # the rotation did land while they were sending
    assert sls.count("PutLogs", access_key_id=new_id, code="OK") >= 50
    numbers = stored(sls)[1:]
    assert sorted(numbers, key=int) == sorted(sent, key=int) and len(set(numbers)) == len(numbers)


class NewStsKeyEveryRefresh(CredentialsProvider):
    """A fresh STS key of the emulator on every refresh."""

    def __init__(self, cloud):
        self._cloud = cloud
        self.refreshes = 0
        self._credentials = self._new()

    def _new(self):
        key_id, secret = self._cloud.add_access_key(security_token=True)
        return Credentials(key_id, secret, self._cloud.security_token_of(key_id))

    def get_credentials(self):
        return self._credentials

    def refresh(self, stale=None):
        self.refreshes += 1
        self._credentials = self._new()
        return self._credentials


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_an_expired_sts_token_heals_and_the_token_travels(sls, version):
    provider = NewStsKeyEveryRefresh(sls)
    signing = {"auth_version": "v4", "region": sls.region_id} if version == "v4" else {}
    with ProxyLogClient(sls.sls_endpoint, credentials_provider=provider, **signing) as client:
        put(client, 0)
        first = provider.get_credentials().access_key_id
        sls.sts.expire(first)
        put(client, 1)
    assert provider.refreshes == 1 and stored(sls) == ["0", "1"]
    assert [(c.access_key_id, c.code) for c in sls.calls if c.action == "PutLogs"][1:] == [
        (first, "SecurityTokenExpired"),
        (provider.get_credentials().access_key_id, "OK"),
    ]


@pytest.mark.parametrize(
    "status, code, message",
    [
        (401, "Unauthorized", "denied by sts or ram, action: log:PostLogStoreLogs, resource: acs:log:cn-hangzhou:1:x"),
        (401, "SignatureNotMatch", "signature abc not match"),
        (404, "LogStoreNotExist", "logstore app-log does not exist"),
    ],
)
def test_errors_that_are_not_an_expired_key_are_raised_at_once_without_a_refresh(
    sls, kms_client, status, code, message
):
    """A RAM policy denial comes as Unauthorized too (the service's words, "denied by sts or ram, ..."): the key is
    good, so it is not refreshed for; the caller gets the service's error, once, unchanged."""
    sls.create_secret("log-key")
    provider = ManagedSecretProvider("log-key", kms_client)
    client = ProxyLogClient(sls.sls_endpoint, credentials_provider=provider)
    fetches = sls.count("GetSecretValue")
    sls.service_fault("sls", status=status, code=code, message=message, times=1)
    with pytest.raises(LogException) as info:
        put(client, 0)
    assert (info.value.get_error_code(), info.value.get_error_message()) == (code, message)
    assert sls.count("GetSecretValue") == fetches and sls.count("PutLogs") == 1
    assert not SlsAKExpireHandler().judge_ak_expire(info.value)
    put(client, 1)
    assert stored(sls) == ["1"]


def test_the_expired_key_codes_are_the_sdks_own_auth_codes():
    from aliyun.log.logclient import _auth_code_set

    handler = SlsAKExpireHandler()
    assert handler.error_codes == frozenset(_auth_code_set)
    for code in _auth_code_set:
        assert handler.judge_ak_expire(LogException(code, "AccessKeyId not found: LTAI5t", "", 401))
    assert not handler.judge_ak_expire(LogException("Unauthorized", "Denied by STS or RAM, action: log:GetCursor"))
    assert not handler.judge_ak_expire(ValueError("Unauthorized"))


def test_a_rejected_key_that_kms_keeps_returning_is_sent_once_per_call(sls, kms_client):
    key_id, _ = sls.create_secret("log-key")
    provider = ManagedSecretProvider("log-key", kms_client, clock=lambda: 1_000_000.0)
    client = ProxyLogClient(sls.sls_endpoint, credentials_provider=provider)
    sls.revoke_key(key_id)  # the service refuses it; KMS still returns it
    for _ in range(3):
        with pytest.raises(LogException) as info:
            put(client, 0)
        assert info.value.get_error_code() == "Unauthorized"
        assert "still holds the key the service rejected" in str(info.value)
    assert sls.count("PutLogs") == 3 and stored(sls) == []
    assert sls.count("GetSecretValue") == 2  # the first fetch, one useless refresh, then the back-off holds


def test_a_refresh_that_fails_raises_the_services_error_saying_why(sls, kms_client):
    key_id, _ = sls.create_secret("log-key")
    provider = ManagedSecretProvider("log-key", kms_client)
    client = ProxyLogClient(sls.sls_endpoint, credentials_provider=provider)
    put(client, 0)
    sls.rotate_secret("log-key", mode="revoke")
    sls.kms_down()
    with pytest.raises(LogException) as info:
        put(client, 1)
    assert info.value.get_error_code() == "Unauthorized" and info.value.resp_status == 401
    assert "secret 'log-key' could not be refreshed" in str(info.value)
    assert isinstance(info.value.__cause__, CredentialsError)
    assert stored(sls) == ["0"]


class NoKey(CredentialsProvider):
    def get_credentials(self):
        raise CredentialsError("cannot reach KMS at kms.example", secret_name="log-key", code="Timeout")

    def refresh(self, stale=None):
        return self.get_credentials()


def test_no_key_is_a_log_exception_and_a_credentials_error(sls):
    client = ProxyLogClient(sls.sls_endpoint, credentials_provider=NoKey())
    with pytest.raises(LogException) as info:  # what a handler written for the plain SDK catches
        put(client, 0)
    error = info.value
    assert isinstance(error, CredentialsError) and error.secret_name == "log-key" and error.code == "Timeout"
    assert error.get_error_code() == "ManagedCredentials.Unavailable"
    assert "no key could be obtained" in error.get_error_message() and "kms.example" in str(error)
    assert sls.count("PutLogs") == 0


def test_the_sdks_auto_refresher_is_refused():
    """LogClient.set_credentials_auto_refresher would sleep up to 300 s in the calling thread and then sign with a
    fixed key: refused with a message saying what to do; None (no refresher) is accepted."""
    client = ProxyLogClient("127.0.0.1:9", credentials_provider=StaticCredentialsProvider("LTAI5tKeyId", "s"))
    client.set_credentials_auto_refresher(None)
    with pytest.raises(ValueError, match="remove the set_credentials_auto_refresher"):
        client.set_credentials_auto_refresher(lambda: ("id", "secret", None))
    assert client._credentials_auto_refresher is None
    client.shutdown()


def test_migration_mistakes_say_what_to_write():
    static = StaticCredentialsProvider("LTAI5tKeyId", "s")
    with pytest.raises(TypeError, match="LogClient's \\(endpoint, accessKeyId, accessKey"):
        ProxyLogClient("cn-hangzhou.log.aliyuncs.com", "LTAI5tKeyId", "the-secret")
    for name in ("accessKeyId", "accessKey", "securityToken"):
        with pytest.raises(ValueError, match=f"not {name}="):
            ProxyLogClient("cn-hangzhou.log.aliyuncs.com", credentials_provider=static, **{name: "the-secret"})
    with pytest.raises(TypeError, match="credentials.StaticCredentialsProvider"):
        ProxyLogClient("cn-hangzhou.log.aliyuncs.com", credentials_provider=SdkStaticProvider("a", "the-secret"))
    with pytest.raises(ValueError, match="exactly one"):
        ProxyLogClient("cn-hangzhou.log.aliyuncs.com")
    with pytest.raises(ValueError, match="exactly one"):
        ProxyLogClient("cn-hangzhou.log.aliyuncs.com", "x", credentials_provider=static)
    with pytest.raises(ValueError, match="endpoint"):
        ProxyLogClient("", credentials_provider=static)


def test_context_manager_releases_the_shared_provider(sls, configured):
    sls.create_secret("log-key")
    other = ProxyLogClient(sls.sls_endpoint, "log-key")
    provider = other.credentials_provider
    with ProxyLogClient(sls.sls_endpoint, secret_name="log-key", source="10.0.0.1") as client:
        assert client.credentials_provider is provider
        put(client, 0)
    assert not provider.closed
    other.shutdown()
    assert provider.closed and get_secret_provider("log-key") is not provider
    assert [record.source for record in sls.sls.records(PROJECT, LOGSTORE)] == ["10.0.0.1"]  # source= passed through
