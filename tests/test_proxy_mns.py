"""ProxyMnsAccount against the emulator's Message Service: a managed key signs every request of the queues, topics and
subscriptions it hands out; a revocation heals with one GetSecretValue; no message is ever sent twice; errors that
are not a rotated key reach the caller at once, as aliyun-mns-sdk raises them.

Every operation used here is first proven with the plain SDK in tests/test_emulator_mns.py; each operation healing a
revocation is tests/test_conformance_mns.py.
"""

import itertools
import pickle
import threading
from typing import List, Optional

import pytest
from mns.account import Account
from mns.mns_exception import MNSClientException, MNSClientNetworkException, MNSServerException
from mns.queue import Message, QueueMeta

from credentials import CredentialsError, CredentialsProvider, StaticCredentialsProvider
from credentials.model import Credentials
from proxy import MnsAKExpireHandler, ProxyMnsAccount
from tests.helpers import call_through_rotation, refused_key, wait_until

QUEUE = "orders"


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


def stored(cloud, queue: str = QUEUE) -> List[str]:
    """What the queue holds, as stored (the SDK sends bodies base64-encoded)."""
    return [m.body for m in cloud.mns.store.messages(queue)]


def drain(cloud, secret_name: str, queue: str = QUEUE) -> List[bytes]:
    """Every message in the queue, received (and deleted) by a plain Account with the secret's current key."""
    plain = Account(cloud.mns_endpoint, *cloud.current_key(secret_name)).get_queue(queue)
    bodies = []
    for _ in range(100):
        try:
            message = plain.receive_message()
        except MNSServerException as exc:
            assert exc.type == "MessageNotExist"
            return bodies
        bodies.append(message.message_body)
        plain.delete_message(message.receipt_handle)
    raise AssertionError("the queue did not run dry")


def test_a_message_sent_through_a_revocation_is_delivered_exactly_once(cloud, configured):
    """The service refuses a revoked key before it accepts anything, and only that refusal is re-issued: the message
    sent across the revocation is in the queue once, the one before it once, and nothing else."""
    cloud.create_secret("queue-writer")
    with ProxyMnsAccount(cloud.mns_endpoint, "queue-writer") as account:
        queue = account.get_queue(QUEUE)
        queue.create(QueueMeta())
        queue.send_message(Message("before"))
        old_id, _ = cloud.current_key("queue-writer")
        new_id, _ = cloud.rotate_secret("queue-writer", mode="revoke")
        cloud.reset_counts()

        sent = queue.send_message(Message("across the revocation"))

        assert sent.message_id
        assert [(c.action, c.access_key_id, c.code) for c in cloud.calls if c.service == "mns"] == [
            ("SendMessage", old_id, "InvalidAccessKeyId"),
            ("SendMessage", new_id, "OK"),
        ]
        assert cloud.count("GetSecretValue") == 1
    assert sorted(drain(cloud, "queue-writer")) == [b"across the revocation", b"before"]


def test_a_send_the_service_may_have_accepted_is_never_sent_again(cloud):
    """A send that times out after the request went out (the service is slow, then stores it) reaches the caller as
    the SDK's MNSClientNetworkException, without a second attempt: the queue holds the message once."""
    key_id, secret = cloud.add_access_key()
    provider = Counting(key_id, secret)
    account = ProxyMnsAccount(cloud.mns_endpoint, credentials_provider=provider)
    queue = account.get_queue(QUEUE)
    queue.create(QueueMeta())
    account.mns_client.set_connection_timeout(0.3)  # Account's own setting (the SDK's default is 60 s)
    cloud.service_fault("mns", delay=1.5, times=1)
    with pytest.raises(MNSClientNetworkException):
        queue.send_message(Message("once"))
    assert wait_until(lambda: stored(cloud) != [])  # the service stored it after answering nobody
    assert cloud.count("SendMessage") == 1 and provider.refreshes == 0
    assert len(stored(cloud)) == 1
    account.shutdown()


def test_eight_threads_each_with_an_account_heal_a_revoking_rotation_with_one_fetch(cloud, configured):
    """As the SDK requires, an account per thread (one HTTP connection each); they share the secret's one provider,
    so the rotation costs one GetSecretValue for all, and no thread sees an error."""
    cloud.create_secret("workers")
    first = ProxyMnsAccount(cloud.mns_endpoint, "workers")
    first.get_queue(QUEUE).create(QueueMeta())
    accounts, local, numbers = [first], threading.local(), itertools.count()

    def send_receive_delete() -> None:
        if not hasattr(local, "queue"):
            account = ProxyMnsAccount(cloud.mns_endpoint, "workers")
            accounts.append(account)
            local.queue = account.get_queue("q-%d" % next(numbers))  # a queue of its own: it receives its own
            local.queue.create(QueueMeta())
        local.queue.send_message(Message("work"))
        message = local.queue.receive_message()
        local.queue.delete_message(message.receipt_handle)

    cloud.reset_counts()
    try:
        errors, (new_id, _) = call_through_rotation(
            send_receive_delete, lambda: cloud.rotate_secret("workers", mode="revoke")
        )
    finally:
        for account in accounts:
            account.shutdown()
    assert errors == []
    assert cloud.count("GetSecretValue") == 1
    assert cloud.count("SendMessage", access_key_id=new_id, code="OK") >= 50
    assert len(accounts) == 9


@pytest.mark.parametrize("token", [False, True], ids=["key without a token", "sts key"])
def test_a_token_is_sent_when_there_is_one_and_no_token_header_otherwise(cloud, token):
    """aliyun-mns-sdk sends ``security-token`` unless get_security_token() returns "": our Credentials say None for
    no token, which the SDK would put in the header and fail on (MNSClientNetworkException)."""
    key_id, secret = cloud.add_access_key(security_token=token)
    provider = StaticCredentialsProvider(key_id, secret, cloud.security_token_of(key_id))
    with ProxyMnsAccount(cloud.mns_endpoint, credentials_provider=provider) as account:
        queue = account.get_queue(QUEUE)
        queue.create(QueueMeta())
        queue.send_message(Message("signed"))
    assert stored(cloud) and cloud.count("SendMessage", access_key_id=key_id, code="OK") == 1


@pytest.mark.parametrize(
    "case, code",
    [
        ("wrong secret", "SignatureDoesNotMatch"),
        ("unknown queue", "QueueNotExist"),
        ("empty queue", "MessageNotExist"),
        ("service unavailable", "ServiceUnavailable"),
    ],
)
def test_errors_that_are_not_a_rotated_key_reach_the_caller_at_once(cloud, case, code):
    key_id, secret = cloud.add_access_key()
    Account(cloud.mns_endpoint, key_id, secret).get_queue(QUEUE).create(QueueMeta())
    provider = Counting(key_id, "not-the-secret" if case == "wrong secret" else secret)
    account = ProxyMnsAccount(cloud.mns_endpoint, credentials_provider=provider)
    queue = account.get_queue("nowhere" if case == "unknown queue" else QUEUE)
    if case == "service unavailable":
        cloud.service_fault("mns", status=503, times=1)
    cloud.reset_counts()
    with pytest.raises(MNSServerException) as info:
        queue.receive_message() if case == "empty queue" else queue.send_message(Message("x"))
    assert type(info.value) is MNSServerException and info.value.type == code
    assert len(cloud.calls) == 1 and provider.refreshes == 0
    account.shutdown()


@pytest.mark.parametrize(
    "case, expired",
    [
        ("unknown key", True),
        ("disabled key", True),
        ("expired token", True),
        ("token of another key", True),
        ("wrong secret", False),
    ],
)
def test_the_expire_handler_judges_what_the_service_answers(cloud, case, expired):
    """Each refusal the emulator serves, as the plain SDK raises it, judged by MnsAKExpireHandler."""
    Account(cloud.mns_endpoint, *cloud.add_access_key()).get_queue(QUEUE).create(QueueMeta())
    key, token = refused_key(cloud, case)
    with pytest.raises(MNSServerException) as info:
        Account(cloud.mns_endpoint, key[0], key[1], token or "").get_queue(QUEUE).send_message(Message("x"))
    assert MnsAKExpireHandler().judge_ak_expire(info.value) is expired
    assert MnsAKExpireHandler("SignatureDoesNotMatch").judge_ak_expire(info.value) is (case == "wrong secret")


class NoKey(CredentialsProvider):
    def get_credentials(self) -> Credentials:
        raise CredentialsError("KMS is unreachable", secret_name="app", code="Kms.Unreachable")

    def refresh(self, stale: Optional[Credentials] = None) -> Credentials:
        return self.get_credentials()


def test_no_key_at_all_is_an_mns_client_exception_and_a_credentials_error(cloud):
    account = ProxyMnsAccount(cloud.mns_endpoint, credentials_provider=NoKey())
    with pytest.raises(MNSClientException) as info:
        account.get_queue(QUEUE).send_message(Message("x"))
    error = info.value
    assert isinstance(error, CredentialsError) and error.secret_name == "app" and error.code == "Kms.Unreachable"
    assert error.type == "ManagedCredentials.Unavailable" and "KMS is unreachable" in error.message
    assert isinstance(error.__cause__, CredentialsError) and cloud.count(service="mns") == 0
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error) and again.secret_name == "app"
    account.shutdown()


def test_set_client_points_at_another_host_with_the_managed_key_and_refuses_a_key(cloud, configured):
    cloud.create_secret("mover")
    account = ProxyMnsAccount("http://127.0.0.1:9", "mover")
    account.set_client(cloud.mns_endpoint)
    queue = account.get_queue(QUEUE)
    queue.create(QueueMeta())
    cloud.rotate_secret("mover", mode="revoke")
    queue.send_message(Message("healed after set_client"))
    with pytest.raises(ValueError, match="takes the host only"):
        account.set_client(cloud.mns_endpoint, "LTAI5tPastedKeyId", "pasted-secret")
    account.shutdown()
    assert len(stored(cloud)) == 1


def test_account_forms_that_do_not_apply_say_what_to_write(cloud):
    with pytest.raises(TypeError, match=r"ProxyMnsAccount\(host, 'my-ram-secret'\)") as info:
        ProxyMnsAccount(cloud.mns_endpoint, "LTAI5tPastedKeyId", "pasted-secret")
    assert "pasted-secret" not in str(info.value)
    with pytest.raises(ValueError, match="not access_key=") as info:
        ProxyMnsAccount(cloud.mns_endpoint, credentials_provider=Counting("k", "s"), access_key="pasted-secret")
    assert "pasted-secret" not in str(info.value)
    with pytest.raises(ValueError, match="exactly one of secret_name"):
        ProxyMnsAccount(cloud.mns_endpoint)


def test_repr_and_the_sdk_facing_provider_show_no_secret(cloud):
    key_id, secret = cloud.add_access_key(security_token=True)
    token = cloud.security_token_of(key_id)
    provider = StaticCredentialsProvider(key_id, secret, token)
    with ProxyMnsAccount(cloud.mns_endpoint, credentials_provider=provider, debug=False) as account:
        sdk_facing = account.credentials_provider
        shown = repr(account) + repr(sdk_facing) + repr(sdk_facing.get_credentials())
        assert secret not in shown and token not in shown
        assert account.managed_credentials_provider is provider
        assert account.credentials_provider.get_credentials().get_security_token() == token


def test_shutdown_releases_the_shared_provider_and_closes_the_connection(cloud, configured):
    cloud.create_secret("app-key")
    other = ProxyMnsAccount(cloud.mns_endpoint, "app-key")
    provider = other.managed_credentials_provider
    with ProxyMnsAccount(cloud.mns_endpoint, "app-key") as account:
        assert account.managed_credentials_provider is provider  # one shared provider per secret
        account.get_queue(QUEUE).create(QueueMeta())
        assert account.mns_client.http.conn.sock is not None
    assert account.mns_client.http.conn.sock is None and not provider.closed  # `other` still holds it
    other.get_queue(QUEUE).send_message(Message("still works"))
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


def test_the_refresh_is_told_which_key_the_service_refused(cloud):
    """The key that signed the refused request is what the provider's single flight compares (one fetch for all the
    threads that saw that key, none when the cache already holds another)."""
    old, new = cloud.add_access_key(), cloud.add_access_key()
    Account(cloud.mns_endpoint, *new).get_queue(QUEUE).create(QueueMeta())
    cloud.revoke_key(old[0])
    provider = Rotating(Credentials(*old), Credentials(*new))
    with ProxyMnsAccount(cloud.mns_endpoint, credentials_provider=provider) as account:
        account.get_queue(QUEUE).send_message(Message("x"))
    assert provider.stale_seen == [Credentials(*old)]
