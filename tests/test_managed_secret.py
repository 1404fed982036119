"""ManagedSecretProvider against the emulator's KMS over HTTP: fetch, parse, rotate, retry, fail well, leak nothing."""

import logging
import threading
import time

import pytest

from credentials import CredentialsError, get_secret_provider
from credentials.managed import ManagedSecretProvider

DEADLINE = 10.0


def test_secret_is_fetched_and_parsed(cloud, kms_client):
    key_id, secret = cloud.create_secret("app-key")
    provider = ManagedSecretProvider("app-key", kms_client)
    creds = provider.get_credentials()
    assert (creds.access_key_id, creds.access_key_secret, creds.security_token) == (key_id, secret, None)
    assert cloud.count("GetSecretValue", code="OK") == 1
    provider.get_credentials()
    assert cloud.count("GetSecretValue") == 1


def test_sixteen_threads_calling_refresh_cause_one_fetch(cloud, kms_client):
    cloud.create_secret("app-key")
    provider = ManagedSecretProvider("app-key", kms_client)
    new_id, _ = cloud.rotate_secret("app-key", mode="revoke")
    stale = provider.get_credentials()
    cloud.reset_counts()
    barrier = threading.Barrier(16)
    results = []

    def worker():
        barrier.wait(DEADLINE)
        results.append(provider.refresh(stale=stale))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    assert len(results) == 16 and {c.access_key_id for c in results} == {new_id}
    assert cloud.count("GetSecretValue") == 1


def test_rotation_is_picked_up_on_refresh(cloud, kms_client):
    old_id, _ = cloud.create_secret("app-key")
    provider = ManagedSecretProvider("app-key", kms_client)
    assert provider.get_credentials().access_key_id == old_id
    new_id, new_secret = cloud.rotate_secret("app-key", mode="grace")
    refreshed = provider.refresh()
    assert (refreshed.access_key_id, refreshed.access_key_secret) == (new_id, new_secret)


def test_kms_503s_are_retried_then_succeed(cloud, kms_client):
    key_id, _ = cloud.create_secret("app-key")
    cloud.kms_fault(status=503, code="ServiceUnavailable", times=2)
    provider = ManagedSecretProvider("app-key", kms_client)
    assert provider.get_credentials().access_key_id == key_id
    assert cloud.count("GetSecretValue") == 3
    assert cloud.count("GetSecretValue", code="OK") == 1


def test_unknown_secret_fails_at_construction_naming_it(cloud, kms_client):
    with pytest.raises(CredentialsError) as info:
        ManagedSecretProvider("no-such-secret", kms_client)
    assert info.value.code == "Forbidden.ResourceNotFound"
    assert "no-such-secret" in str(info.value) and "Forbidden.ResourceNotFound" in str(info.value)


def test_kms_access_denied_fails_at_construction(cloud, kms_client):
    cloud.create_secret("app-key")
    cloud.deny_kms(cloud.kms_access_key[0])
    with pytest.raises(CredentialsError) as info:
        ManagedSecretProvider("app-key", kms_client)
    assert info.value.code == "Forbidden.NoPermission" and "app-key" in str(info.value)


@pytest.mark.parametrize(
    "raw, field",
    [
        ("not json at all", "not JSON"),
        ('{"AccessKeyId": "LTAIonly"}', "AccessKeySecret"),
        ('{"AccessKeySecret": "CANARY-half-secret"}', "AccessKeyId"),
        ("", "empty"),
    ],
)
def test_malformed_secret_data_keeps_last_good_key(cloud, kms_client, caplog, raw, field):
    key_id, _ = cloud.create_secret("app-key")
    provider = ManagedSecretProvider("app-key", kms_client)
    cloud.set_secret_data("app-key", raw)
    caplog.set_level(logging.ERROR, logger="managed_credentials")
    with pytest.raises(CredentialsError):
        provider.refresh()
    assert provider.get_credentials().access_key_id == key_id
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("app-key" in m and field in m for m in errors), errors
    assert not any("CANARY" in m for m in errors)


def test_malformed_secret_without_last_good_key_raises_at_first_use(cloud, kms_client):
    cloud.create_secret("app-key")
    cloud.set_secret_data("app-key", '{"AccessKeyId": "LTAIonly"}')
    provider = ManagedSecretProvider("app-key", kms_client)  # construction logs, does not raise
    with pytest.raises(CredentialsError) as info:
        provider.get_credentials()
    assert "app-key" in str(info.value) and "AccessKeySecret" in str(info.value)


def test_no_secret_in_any_log_with_debug_on(cloud, kms_client, debug_logs, capfd):
    _, secret = cloud.create_secret("app-key")
    provider = ManagedSecretProvider("app-key", kms_client)
    provider.refresh()
    cloud.rotate_secret("app-key")
    provider.refresh(stale=provider.get_credentials())
    rotated_secret = provider.get_credentials().access_key_secret
    text = "\n".join(r.getMessage() for r in debug_logs.records) + "".join(capfd.readouterr())
    assert debug_logs.records, "DEBUG logging was not captured"
    assert secret not in text and rotated_secret not in text


def test_registry_shares_one_provider_per_secret(cloud, configured):
    cloud.create_secret("shared")
    assert get_secret_provider("shared") is get_secret_provider("shared")
    assert cloud.count("GetSecretValue") == 1


def test_secret_names_are_fetched_at_first_use_of_the_registry(cloud, tmp_path):
    from credentials import ConfigLoader, registry

    cloud.create_secret("pre-a")
    cloud.create_secret("pre-b")
    path = cloud.write_properties(str(tmp_path / "p.properties"), secret_names=["pre-a", "pre-b"])
    ConfigLoader.set_config_name(path)
    registry.reset()
    try:
        get_secret_provider("pre-a")
        assert cloud.count("GetSecretValue") == 2
        get_secret_provider("pre-b")
        assert cloud.count("GetSecretValue") == 2
    finally:
        registry.reset()
        ConfigLoader.set_config_name(None)


# ---- when the next fetch is scheduled --------------------------------------------------------------------------------


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def first_fetch_between(provider, clock, cloud, start, end, step):
    """Move the provider's clock from `start` to `end` by `step`, reading the key at each tick; the clock reading at
    which a read made the provider fetch again (background=False: the fetch runs in the reader), or None."""
    fetches = cloud.count("GetSecretValue")
    clock.now = start
    while clock.now <= end:
        provider.get_credentials()
        if cloud.count("GetSecretValue") > fetches:
            return clock.now
        clock.now += step
    return None


@pytest.mark.parametrize(
    "rotation_in, window",
    [
        (3600, (3600, 3600 + 300)),  # ahead: just after the rotation, jittered over 5 minutes (10 % of 7 days, capped)
        (-100, (60, 60 + 300)),  # overdue: not before a minute from now (never a tight loop on KMS), then jittered
    ],
    ids=["ahead", "overdue"],
)
def test_refresh_is_scheduled_just_after_the_next_rotation_date(cloud, kms_client, rotation_in, window):
    """The headline of refresh-ahead-of-rotation: KMS says when it will rotate (NextRotationDate); the provider
    fetches again after that moment, within the jitter window, and not before (the clock is the provider's own,
    so hours pass in microseconds)."""
    now = float(int(time.time()))  # NextRotationDate has whole seconds
    clock = Clock(now)
    cloud.create_secret("app-key")  # RotationInterval 7 days
    cloud.set_next_rotation_date("app-key", now + rotation_in)
    provider = ManagedSecretProvider("app-key", kms_client, clock=clock, background=False)
    assert cloud.count("GetSecretValue") == 1
    new_id, _ = cloud.rotate_secret("app-key", mode="grace")  # KMS rotates on schedule
    fetched_at = first_fetch_between(provider, clock, cloud, now, now + window[1] + 1, step=1.0)
    assert fetched_at is not None, "no fetch within the jitter window after NextRotationDate"
    assert now + window[0] <= fetched_at <= now + window[1] + 1
    assert provider.get_credentials().access_key_id == new_id


def test_without_a_rotation_date_the_secret_is_fetched_at_the_periodic_interval(cloud, kms_client):
    """No automatic rotation (no NextRotationDate: a key rotated by hand): fetched again after a jittered
    refresh_interval (here 1,000 s: between 500 s and 1,000 s), and not before."""
    now = float(int(time.time()))
    clock = Clock(now)
    cloud.create_secret("app-key", rotation_interval=None)
    provider = ManagedSecretProvider("app-key", kms_client, clock=clock, background=False, refresh_interval=1000.0)
    new_id, _ = cloud.rotate_secret("app-key", mode="grace")
    fetched_at = first_fetch_between(provider, clock, cloud, now, now + 1001, step=1.0)
    assert fetched_at is not None and now + 500 <= fetched_at <= now + 1001
    assert provider.get_credentials().access_key_id == new_id
