"""Logs that say what happened (issue 11 f): one event, one line, at its level; nothing that is not true.

Each test counts every record of our loggers at WARNING and above and checks its exact wording: no "keeping the
last good key" when there is none, no retry message for a secret that is never retried, a wrong-typed field
reported as such.
"""

import logging

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException

from credentials import CredentialsError
from credentials.managed import ManagedSecretProvider
from proxy import ProxyAcsClient
from tests.helpers import describe_regions

SECRET = "app-key"


@pytest.fixture
def lines(caplog):
    """Our records at WARNING and above, as (level name, message), read when called."""
    caplog.set_level(logging.DEBUG, logger="managed_credentials")
    return lambda: [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.name.startswith("managed_credentials") and r.levelno >= logging.WARNING
    ]


@pytest.mark.parametrize(
    "raw, reason",
    [
        ('{"AccessKeyId": "LTAI5tOnlyTheId"}', "SecretData field AccessKeySecret is missing"),
        (
            '{"AccessKeyId": 123, "AccessKeySecret": "x"}',
            "SecretData field AccessKeyId is not a string (it is a JSON number)",
        ),
        (
            '{"AccessKeyId": "LTAI5tOnlyTheId", "AccessKeySecret": null}',
            "SecretData field AccessKeySecret is not a string (it is null)",
        ),
        ('{"AccessKeyId": " ", "AccessKeySecret": "x"}', "SecretData field AccessKeyId is empty"),
    ],
)
def test_a_malformed_secret_at_construction_is_one_error_line(cloud, kms_client, lines, raw, reason):
    cloud.create_secret(SECRET)
    cloud.set_secret_data(SECRET, raw)
    provider = ManagedSecretProvider(SECRET, kms_client)
    assert lines() == [
        (
            "ERROR",
            f"secret {SECRET!r}: {reason} (error code MalformedSecretData); no key yet: calls "
            "fail until a fetch succeeds (tried again at a call, after a backoff)",
        )
    ]
    with pytest.raises(CredentialsError) as info:
        provider.get_credentials()
    assert reason in str(info.value)
    assert len(lines()) == 1  # the failure reached the caller as an exception: not logged again


def test_kms_unreachable_at_construction_is_one_error_line_without_a_good_key_claim(cloud, kms_client, lines):
    cloud.create_secret(SECRET)
    cloud.kms_down()
    ManagedSecretProvider(SECRET, kms_client)
    [(level, message)] = lines()
    assert level == "ERROR" and message.startswith(f"secret {SECRET!r}: cannot reach KMS at ")
    assert "(error code SDK.HttpError); no key yet: calls fail until a fetch succeeds" in message
    assert "last good key" not in message


def test_an_unknown_secret_logs_nothing_and_no_retry(cloud, kms_client, caplog, lines):
    """The constructor raises, naming the secret and the code; no line says it will be retried, since it is not."""
    with pytest.raises(CredentialsError):
        ManagedSecretProvider("no-such-secret", kms_client)
    assert lines() == []
    assert not [r.getMessage() for r in caplog.records if "retry" in r.getMessage().lower()]
    assert cloud.count("GetSecretValue") == 1


def test_an_outage_with_a_good_key_is_one_warning_and_one_recovery_line(cloud, kms_client, caplog, lines):
    cloud.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client, background=False)
    good = provider.get_credentials()
    cloud.kms_fault(status=503)
    for _ in range(3):  # the first fails; the next two are within the backoff (no fetch), then the same outage
        assert provider.refresh(stale=good) is good
    [(level, message)] = lines()
    assert level == "WARNING"
    assert message.startswith(f"{SECRET}: cannot refresh credentials (secret {SECRET!r}: KMS at ")
    assert message.endswith("(error code ServiceUnavailable)); keeping the last good key and retrying with backoff")
    cloud.clear_faults()
    provider._not_before = 0.0  # skip the backoff (its timing is test_provider.py's)
    provider.refresh()
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        f"{SECRET}: credentials fetched again after 1 failed attempt(s)"
    ]
    assert len(lines()) == 1


def test_a_malformed_secret_with_a_good_key_is_one_error_line(cloud, kms_client, lines):
    cloud.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client)
    good = provider.get_credentials()
    cloud.set_secret_data(SECRET, '{"AccessKeyId": "LTAI5tOnlyTheId"}')
    assert provider.refresh(stale=good) is good
    assert lines() == [
        (
            "ERROR",
            f"{SECRET}: cannot refresh credentials (secret {SECRET!r}: SecretData field "
            "AccessKeySecret is missing (error code MalformedSecretData)); keeping the last "
            "good key and retrying with backoff",
        )
    ]


def test_a_reissue_given_up_adds_no_line_of_its_own(cloud, kms_client, lines):
    """KMS down and the key revoked: the provider's one warning; the call's failure is the service's exception
    (which says why, see test_sdk_errors.py), not a second warning."""
    cloud.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client)
    client = ProxyAcsClient(credentials_provider=provider, timeout=5)
    cloud.kms_down()
    cloud.revoke_key(provider.get_credentials().access_key_id)
    for _ in range(3):
        with pytest.raises(ServerException):
            client.do_action_with_exception(describe_regions(cloud))
    [(level, message)] = lines()
    assert level == "WARNING" and "keeping the last good key and retrying with backoff" in message
    client.shutdown()
