"""KMS throttling (issue 23) for one process, against the emulator: KMS answers HTTP 429 Rejected.Throttling (the
fault is proven with the plain AcsClient in test_emulator.py and through the control plane in
test_control_plane.py).

The design (credentials/throttling.py): a throttled answer is never retried at once; the provider tries again after
a window that grows with the throttled answers in a row (2, 4, 8, 16, then 30 s; the wait in the window's upper
half; never before a Retry-After); a call that needs the new key waits through those windows at most
``refresh_wait`` (default 10 s), then raises the service's error noted "KMS is throttling".

No timed assertions: counts of KMS answers and of call outcomes; the long cases run on an injected clock that the
emulator's throttling window shares.
"""

import threading

import pytest
import tenacity
from aliyunsdkcore.acs_exception.exceptions import ServerException

from credentials import StaticCredentialsProvider
from credentials.config import KmsEndpoint
from credentials.kms import KmsClient, KmsRequestError
from credentials.managed import ManagedSecretProvider
from credentials.throttling import DEFAULT_REFRESH_WAIT, retry_after_seconds, throttle_delay
from proxy import ProxyAcsClient
from tests.helpers import describe_regions, join_all, managed_key, regions_of, revoke_through_control_plane

SECRET = "app-key"
NOTE = "could not be refreshed: KMS is throttling (Rejected.Throttling)"


class Clock:
    """The provider's clock and the emulator's throttling window, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def kms_client(cloud, attempts=4):
    """The KMS client as a user has it (4 attempts), with quick waits for the retries it still makes (5xx)."""
    return KmsClient(
        [KmsEndpoint(cloud.region_id, cloud.kms_host, "http")],
        StaticCredentialsProvider(*cloud.kms_access_key),
        connect_timeout=2,
        read_timeout=5,
        attempts=attempts,
        wait=tenacity.wait_random_exponential(multiplier=0.01, max=0.05),
    )


def throttled(cloud) -> int:
    return cloud.count("GetSecretValue", code="Rejected.Throttling")


def fetched(cloud) -> int:
    return cloud.count("GetSecretValue", code="OK")


# ---- the rules, without KMS ------------------------------------------------------------------------------------------


def test_the_throttling_windows_grow_to_30_s_and_each_wait_is_in_the_upper_half():
    low, high = type("Low", (), {"uniform": lambda self, a, b: a})(), type("High", (), {"uniform": lambda s, a, b: b})()
    assert [throttle_delay(n, rand=low) for n in range(1, 8)] == [1, 2, 4, 8, 15, 15, 15]
    assert [throttle_delay(n, rand=high) for n in range(1, 8)] == [2, 4, 8, 16, 30, 30, 30]
    assert throttle_delay(1, retry_after=20.0, rand=high) == 20.0  # never before KMS says
    assert throttle_delay(3, retry_after=1.0, rand=low) == 4.0
    assert retry_after_seconds({"retry-after": "7"}) == 7.0
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2065 07:28:00 GMT"}, now=3023335670.0) == 10.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None and retry_after_seconds({}) is None
    assert retry_after_seconds({"Retry-After": "1e9"}) == 600.0  # bounded


def test_refresh_wait_is_validated():
    with pytest.raises(ValueError, match="refresh_wait"):
        ManagedSecretProvider("s", object(), fetch_now=False, refresh_wait=-1)
    assert DEFAULT_REFRESH_WAIT == 10.0


# ---- against the emulator --------------------------------------------------------------------------------------------


def test_a_throttled_answer_is_not_retried_within_the_fetch(cloud_emulator):
    """One request per fetch: the KMS client's quick retries (4 attempts) are for 5xx, not for throttling."""
    cloud = cloud_emulator
    managed_key(cloud, SECRET)
    client = kms_client(cloud)
    cloud.kms_throttle(times=3, retry_after="5")
    with pytest.raises(KmsRequestError) as info:
        client.get_secret_value(SECRET)
    assert (info.value.code, info.value.status, info.value.throttled, info.value.retry_after) == (
        "Rejected.Throttling",
        429,
        True,
        5.0,
    )
    assert throttled(cloud) == 1
    cloud.clear_faults()
    cloud.kms_fault(status=503, times=2)
    assert client.get_secret_value(SECRET)["SecretName"] == SECRET  # 5xx: still retried within the fetch
    assert cloud.count("GetSecretValue", code="ServiceUnavailable") == 2


def test_a_revocation_during_a_1_5_s_throttling_burst_costs_no_application_error_with_the_default_wait(
    cloud_emulator,
):
    """8 threads call through a revocation while KMS throttles for 1.5 s: calls that meet the revoked key wait for
    the refresh (at most refresh_wait_seconds, default 10 s) and none fails; one fetch heals all eight."""
    cloud = cloud_emulator
    managed_key(cloud, SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client(cloud))
    client = ProxyAcsClient(credentials_provider=provider, timeout=5, connect_timeout=2)
    try:
        assert regions_of(client.do_action_with_exception(describe_regions(cloud)))
        errors, successes = [], []
        cloud.kms_throttle(seconds=1.5)
        revoked = revoke_through_control_plane(cloud, SECRET)
        new_key = cloud.current_key(SECRET)[0]

        def caller():
            for _ in range(200):  # bounded: each call either succeeds or fails within refresh_wait
                try:
                    client.do_action_with_exception(describe_regions(cloud))
                except ServerException as exc:
                    errors.append(str(exc))
                    continue
                successes.append(1)
                if provider.get_credentials().access_key_id == new_key:
                    return

        threads = [threading.Thread(target=caller, daemon=True) for _ in range(8)]
        for thread in threads:
            thread.start()
        join_all(threads)
        assert errors == []
        assert provider.get_credentials().access_key_id == new_key != revoked
        assert throttled(cloud) >= 1  # the burst was met: the heal came through it
        assert fetched(cloud) == 2  # the first key, then one fetch for all eight threads
        assert len(successes) >= 8
    finally:
        client.shutdown()
        provider.close()


def test_a_30_s_throttle_fails_calls_with_the_throttling_note_and_heals_one_window_after_kms_admits(cloud_emulator):
    """KMS throttles for 30 s (on the provider's injected clock) after a revocation. A call a second: each fails
    (after at most refresh_wait) with the SDK's error noted "KMS is throttling"; the process asks KMS once per
    window (2, 4, 8, 16 s: at most 5 requests in 30 s, not one per call nor 4 per round), and the first attempt
    after KMS admits heals it, within one window."""
    cloud = cloud_emulator
    managed_key(cloud, SECRET)
    clock = Clock()
    provider = ManagedSecretProvider(SECRET, kms_client(cloud), clock=clock, background=False, refresh_wait=0.2)
    client = ProxyAcsClient(credentials_provider=provider, timeout=5, connect_timeout=2)
    try:
        assert regions_of(client.do_action_with_exception(describe_regions(cloud)))
        start = clock.now
        cloud.kms_throttle(seconds=30, clock=clock)
        revoke_through_control_plane(cloud, SECRET)
        notes, healed_at, throttled_at = [], None, []
        for _ in range(100):  # 100 s of the injected clock, a call every second
            before = throttled(cloud)
            try:
                client.do_action_with_exception(describe_regions(cloud))
            except ServerException as exc:
                assert exc.get_error_code() == "InvalidAccessKeyId.NotFound"  # the service's own error
                notes.append(NOTE in str(exc))
            else:
                healed_at = clock.now - start
                break
            if throttled(cloud) > before:
                throttled_at.append(clock.now - start)
            clock.now += 1.0
        assert healed_at is not None and healed_at >= 30
        assert notes and all(notes), notes[:3]
        assert len(throttled_at) == throttled(cloud) <= 5  # one request per window, in 30 s
        assert len(notes) >= 29  # ... while the calls kept failing, one a second
        assert healed_at - throttled_at[-1] <= 30 + 1.0  # the first attempt after the throttling heals
        assert fetched(cloud) == 2  # the first key, then the one that healed: nothing after
        for _ in range(10):
            clock.now += 1.0
            client.do_action_with_exception(describe_regions(cloud))
        assert cloud.count("GetSecretValue") == fetched(cloud) + throttled(cloud)  # healed: no more KMS traffic
        assert fetched(cloud) == 2
    finally:
        client.shutdown()
        provider.close()


def test_a_retry_after_is_honoured(cloud_emulator):
    """KMS answers one 429 with Retry-After: 20; the provider asks again only 20 s later (injected clock)."""
    cloud = cloud_emulator
    managed_key(cloud, SECRET)
    clock = Clock()
    provider = ManagedSecretProvider(SECRET, kms_client(cloud), clock=clock, background=False, refresh_wait=0)
    client = ProxyAcsClient(credentials_provider=provider, timeout=5, connect_timeout=2)
    try:
        client.do_action_with_exception(describe_regions(cloud))
        cloud.kms_throttle(times=1, retry_after="20")
        revoke_through_control_plane(cloud, SECRET)
        failures = 0
        for _ in range(40):
            try:
                client.do_action_with_exception(describe_regions(cloud))
                break
            except ServerException:
                failures += 1
                clock.now += 1.0
        assert throttled(cloud) == 1 and fetched(cloud) == 2
        assert failures == 20  # calls at 0..19 s: no request to KMS before the 20 s it asked for
    finally:
        client.shutdown()
        provider.close()


def test_a_constructor_waits_through_a_throttling_burst_within_the_startup_timeout(cloud_emulator):
    cloud = cloud_emulator
    managed_key(cloud, SECRET)
    cloud.kms_throttle(times=1)
    provider = ManagedSecretProvider(SECRET, kms_client(cloud))
    try:
        assert provider.get_credentials().access_key_id == cloud.current_key(SECRET)[0]
        assert (throttled(cloud), fetched(cloud)) == (1, 1)
    finally:
        provider.close()
