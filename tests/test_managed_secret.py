"""ManagedSecretProvider against the emulator's KMS over HTTP: fetch, parse, rotate, retry, fail well, leak nothing."""

import logging
import random
import threading
import time
from collections import Counter

import pytest

from credentials import Credentials, CredentialsError, get_secret_provider
from credentials.managed import ManagedSecretProvider
from credentials.secret import SecretValue, next_refresh_at

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


HOUR = 3600.0
DAY = 24 * HOUR


def fetches_per_hour(provider, clock, cloud, hours, step=60.0, on_fetch=None):
    """Move the provider's clock forward `hours` hours by `step`, reading the key at each tick; the number of
    GetSecretValue made in each hour. ``on_fetch(clock_reading)`` runs after each fetch (KMS acting on it)."""
    start, counts = clock.now, [0] * hours
    seen = cloud.count("GetSecretValue")
    while clock.now < start + hours * HOUR:
        provider.get_credentials()
        now_seen = cloud.count("GetSecretValue")
        if now_seen > seen:
            counts[int((clock.now - start) // HOUR)] += now_seen - seen
            seen = now_seen
            if on_fetch is not None:
                on_fetch(clock.now)
        clock.now += step
    return counts


def test_a_stale_next_rotation_date_falls_back_to_the_periodic_refresh(cloud, kms_client):
    """KMS keeps a NextRotationDate two days old (issue 19 l): the provider fetches at the periodic interval (here
    the default 6 h, jittered to 3-6 h), never every few minutes: over a day of its clock, at most one fetch in any
    hour, 4 to 8 in all (the bug: 10-60 an hour, 18 measured)."""
    now = float(int(time.time()))
    clock = Clock(now)
    cloud.create_secret("app-key")
    cloud.set_next_rotation_date("app-key", now - 2 * DAY)
    provider = ManagedSecretProvider("app-key", kms_client, clock=clock, background=False)
    assert cloud.count("GetSecretValue") == 1
    clock.now += 1.0
    counts = fetches_per_hour(provider, clock, cloud, hours=24)
    assert max(counts) <= 1, counts
    assert 3 <= sum(counts) <= 8, counts  # 24 h / (3-6 h): 4-8, 3 only if every draw is within a minute of 6 h


def test_a_date_kms_keeps_after_it_passed_is_looked_at_once_more_then_treated_as_stale(cloud, kms_client):
    """The rotation is due in an hour and KMS never moves the date on: one fetch just after it (as for any
    rotation), one more look a minute or a few later (KMS may rotate a little late), then the periodic refresh:
    2 fetches in the hour after the date, at most one in any later hour."""
    now = float(int(time.time()))
    clock = Clock(now)
    cloud.create_secret("app-key")  # RotationInterval 7 days
    cloud.set_next_rotation_date("app-key", now + HOUR)
    provider = ManagedSecretProvider("app-key", kms_client, clock=clock, background=False)
    counts = fetches_per_hour(provider, clock, cloud, hours=25)
    assert counts[0] == 0 and counts[1] == 2, counts
    assert max(counts[2:]) <= 1 and sum(counts[2:]) <= 8, counts


def test_a_rotation_kms_makes_a_little_after_the_date_is_picked_up_at_the_second_look(cloud, kms_client):
    """The normal case stays as it was: KMS rotates a few minutes after NextRotationDate, so the fetch just after
    the date still finds the old key and the old date; the second look, 1-6 minutes later, finds the new key and
    the next date, and the schedule follows that date."""
    now = float(int(time.time()))
    clock = Clock(now)
    cloud.create_secret("app-key")
    cloud.set_next_rotation_date("app-key", now + HOUR)
    provider = ManagedSecretProvider("app-key", kms_client, clock=clock, background=False)
    rotated = {}

    def rotate_late(fetched_at):
        if not rotated and fetched_at >= now + HOUR:  # the fetch just after the date saw the old one: rotate now
            rotated["at"] = fetched_at
            rotated["key"], _ = cloud.rotate_secret("app-key", mode="grace")
            cloud.set_next_rotation_date("app-key", now + HOUR + 7 * DAY)

    counts = fetches_per_hour(provider, clock, cloud, hours=4, on_fetch=rotate_late)
    assert counts == [0, 2, 0, 0], counts
    assert provider.get_credentials().access_key_id == rotated["key"]


def test_a_fleet_spreads_its_fetches_after_a_rotation_over_the_jitter_window():
    """1,000 processes that read the same NextRotationDate (a seeded random for each draw): their fetches spread
    over the 5-minute window after it, every 30 s slice of it taken by at least 50 of them; none before the date.
    Without the jitter every process of a fleet would fetch in the same second."""
    fetched, rotation = 1_000_000.0, 1_000_000.0 + HOUR
    value = SecretValue(Credentials("LTAI5tFleetKeyId", "s"), "v1", 7 * DAY, rotation)
    rand = random.Random(19)
    offsets = [next_refresh_at(value, fetched, rand=rand) - rotation for _ in range(1000)]
    assert min(offsets) >= 0 and max(offsets) <= 300
    slices = Counter(int(offset // 30) for offset in offsets)
    assert all(slices[i] >= 50 for i in range(10)), sorted(slices.items())
