"""Logs that say what happened (issue 11 f): one event, one line, at its level; nothing that is not true.

Each test counts every record of our loggers at WARNING and above and checks its exact wording: no "keeping the
last good key" when there is none, no retry message for a secret that is never retried, a wrong-typed field
reported as such.
"""

import json
import logging

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException

from credentials import CredentialsError
from credentials.managed import ManagedSecretProvider
from credentials.model import mask
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
    with pytest.raises(CredentialsError):  # a refresh that nobody asked for with a stale key, as a background one
        provider.refresh()
    for _ in range(2):  # within the backoff: no fetch, the good key
        assert provider.refresh() is good
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
    with pytest.raises(CredentialsError):
        provider.refresh()
    assert provider.get_credentials() is good
    assert lines() == [
        (
            "ERROR",
            f"{SECRET}: cannot refresh credentials (secret {SECRET!r}: SecretData field "
            "AccessKeySecret is missing (error code MalformedSecretData)); keeping the last "
            "good key and retrying with backoff",
        )
    ]


def test_a_reissue_given_up_is_one_error_line(cloud, kms_client, lines):
    """KMS down and the key revoked: one ERROR, the proxy's, naming the secret, the key and why (issue 21: it was the
    provider's WARNING beside an ERROR of aliyunsdkcore per call); the call's failure is the service's exception
    (which says why, see test_sdk_errors.py), and the calls after it add no line."""
    cloud.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client)
    client = ProxyAcsClient(credentials_provider=provider, timeout=5)
    cloud.kms_down()
    key = provider.get_credentials()
    cloud.revoke_key(key.access_key_id)
    for _ in range(3):
        with pytest.raises(ServerException):
            client.do_action_with_exception(describe_regions(cloud))
    [(level, message)] = lines()
    assert level == "ERROR" and message == (
        f"secret {SECRET!r}: key {mask(key.access_key_id)} was rejected (ServerException InvalidAccessKeyId.NotFound) "
        f"and could not be replaced: no new key could be fetched ({provider.last_error().reason}, error code "
        "SDK.HttpError); calls signed with it raise the service's error until a new key is fetched"
    )
    client.shutdown()


# ---- issue 19 m: lines that said something false -------------------------------------------------------------------


def proxy_debug_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "managed_credentials.proxy"]


def test_a_refresh_that_failed_after_the_key_was_rejected_is_said_as_such(cloud, kms_client, caplog, lines):
    """KMS answers 503 and the service rejects the key: the one ERROR line (the proxy's) says the key was rejected
    and no new key could be fetched, and why, never calling that key "the last good key"; the proxy's DEBUG lines
    say the refresh failed and why (they said "refresh returned the rejected key ... again", 48 times in the
    review's run, while every refresh had failed with 503), and no line claims an attempt that was never sent."""
    cloud.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client, background=False)
    client = ProxyAcsClient(credentials_provider=provider, timeout=5)
    key = provider.get_credentials()
    cloud.kms_fault(status=503)
    cloud.revoke_key(key.access_key_id)
    caplog.clear()
    for _ in range(3):
        with pytest.raises(ServerException):
            client.do_action_with_exception(describe_regions(cloud))
    error = provider.last_error()
    masked = mask(key.access_key_id)
    assert lines() == [
        (
            "ERROR",
            f"secret {SECRET!r}: key {masked} was rejected (ServerException InvalidAccessKeyId.NotFound) and could "
            f"not be replaced: no new key could be fetched ({error.reason}, error code ServiceUnavailable); calls "
            "signed with it raise the service's error until a new key is fetched",
        )
    ]
    assert "last good key" not in caplog.text
    assert [m for m in proxy_debug_lines(caplog) if "not re-sent" in m] == [
        f"key {masked} was rejected and no new key could be fetched ({error}): not re-sent"
    ] * 6  # 3 calls x 2 refreshes, each ended by the failed (then backing-off) fetch
    client.shutdown()


def test_a_refresh_that_brought_back_the_rejected_key_is_said_as_such(cloud, kms_client, caplog, lines):
    """KMS keeps the key the service rejects: the proxy's DEBUG lines say the refresh returned it again, not re-sent;
    its one ERROR says the secret still holds that key (no fetch failed: nothing of the provider's)."""
    cloud.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client, background=False)
    client = ProxyAcsClient(credentials_provider=provider, timeout=5)
    key = provider.get_credentials()
    cloud.revoke_key(key.access_key_id)
    caplog.clear()
    with pytest.raises(ServerException):
        client.do_action_with_exception(describe_regions(cloud))
    assert [m for m in proxy_debug_lines(caplog) if "not re-sent" in m] == [
        f"refresh returned the rejected key {mask(key.access_key_id)} again: not re-sent"
    ] * 2
    assert lines() == [
        (
            "ERROR",
            f"secret {SECRET!r}: key {mask(key.access_key_id)} was rejected (ServerException "
            "InvalidAccessKeyId.NotFound) and could not be replaced: the secret still holds that key: rotate the "
            "secret, or enable the key again; calls signed with it raise the service's error until a new key is "
            "fetched",
        )
    ]
    client.shutdown()


NOT_A_STRING = {
    "object": (
        {"AccessKeyId": "LTAI5tObjectNotString", "AccessKeySecret": "x"},
        "is not a string (it is a JSON object)",
    ),
    "array": (["LTAI5tInAList"], "is not a string (it is a JSON array)"),
    "null": (None, "is not a string (it is null)"),
    "number": (12, "is not a string (it is a JSON number)"),
    "empty": ("  ", "is empty"),
}


@pytest.mark.parametrize("secret_data, reason", NOT_A_STRING.values(), ids=NOT_A_STRING.keys())
def test_secret_data_that_is_not_a_string_is_said_as_such(cloud, kms_client, lines, secret_data, reason):
    """A SecretData that is a JSON object (or array, null, number) instead of a string was reported as
    "SecretData is empty"; each now says what it is, never its value."""
    cloud.create_secret(SECRET)
    answer = {"RequestId": "r", "SecretName": SECRET, "VersionId": "v1", "SecretData": secret_data}
    cloud.set_kms_answer(SECRET, json.dumps(answer).encode())
    ManagedSecretProvider(SECRET, kms_client)
    assert lines() == [
        (
            "ERROR",
            f"secret {SECRET!r}: SecretData {reason} (error code MalformedSecretData); no key yet: calls fail until "
            "a fetch succeeds (tried again at a call, after a backoff)",
        )
    ]


def test_an_answer_without_secret_data_is_said_as_such(cloud, kms_client, lines):
    cloud.create_secret(SECRET)
    cloud.set_kms_answer(SECRET, json.dumps({"RequestId": "r", "SecretName": SECRET}).encode())
    ManagedSecretProvider(SECRET, kms_client)
    assert lines() == [
        (
            "ERROR",
            f"secret {SECRET!r}: SecretData is missing from the GetSecretValue answer (error code "
            "MalformedSecretData); no key yet: calls fail until a fetch succeeds (tried again at a call, after a "
            "backoff)",
        )
    ]
