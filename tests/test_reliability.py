"""Reliability and security (issue 5): every fault an operator will meet, against the emulator over real HTTP.

One section per row of the README's "Failure behaviour" table; each test names the row it proves. Every test in
this file also runs under ``leak_guard``: DEBUG logging on for our loggers and the SDKs', and at the end no
AccessKeySecret or security token the emulator ever issued may appear in a log record, in captured
stdout/stderr, in the text of an exception or repr the test saw, or in a file under the test's tmp folder
(HOME points there too).

What is proven elsewhere is not repeated: the refresh rules with a fake source (test_provider.py), secret parsing
and construction errors of ManagedSecretProvider (test_managed_secret.py), properties errors (test_config.py),
fuzzing (test_fuzz.py), bodies never half re-sent (test_proxy_bucket.py).
"""

import json
import logging
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback

import oss2
import pytest
import tenacity
from aliyunsdkcore.acs_exception.exceptions import ServerException

from credentials import ConfigError, ConfigLoader, CredentialsError, StaticCredentialsProvider, registry
from credentials.config import KmsEndpoint
from credentials.kms.client import KmsClient
from credentials.managed import ManagedSecretProvider
from proxy import ProxyAcsClient, ProxyBucket
from tests.helpers import describe_regions, join_all, regions_of, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEADLINE = 10.0
SECRET = "app-key"
BUCKET = "bkt"
SDK_LOGGERS = ("managed_credentials", "aliyunsdkcore", "oss2", "urllib3", "credentials")
ACS_EXPIRED = {"InvalidAccessKeyId.NotFound", "InvalidAccessKeyId.Inactive"}


# ---- shared helpers -------------------------------------------------------------------------------------------------


def fast_kms(cloud, *, read_timeout=0.5, attempts=2, endpoint=None, protocol="http", verify=None):
    """A KMS client for the emulator whose own retries (tenacity, full jitter) take milliseconds, not seconds."""
    return KmsClient(
        [KmsEndpoint(cloud.region_id, endpoint or cloud.kms_host, protocol)],
        StaticCredentialsProvider(*cloud.kms_access_key),
        connect_timeout=0.5,
        read_timeout=read_timeout,
        attempts=attempts,
        verify=verify,
        wait=tenacity.wait_random_exponential(multiplier=0.01, max=0.05),
    )


class CountingKms:
    """Wraps a KMS client: records when each fetch round starts; ``gate`` (optional) runs before the fetch."""

    def __init__(self, inner, gate=None):
        self.inner = inner
        self.gate = gate
        self.rounds = []

    def get_secret_value(self, secret_name):
        self.rounds.append(time.monotonic())
        if self.gate is not None:
            self.gate()
        return self.inner.get_secret_value(secret_name)

    def rounds_since(self, start):
        return sum(1 for t in self.rounds if t >= start)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def acs_call(cloud, client):
    return regions_of(client.do_action_with_exception(describe_regions(cloud)))


def oss_call(bucket, name="obj"):
    bucket.put_object(name, b"payload")
    return bucket.get_object(name).read()


def clients_on(cloud, provider, **acs_kwargs):
    cloud.create_bucket(BUCKET)
    client = ProxyAcsClient(credentials_provider=provider, timeout=5, connect_timeout=2, **acs_kwargs)
    bucket = ProxyBucket(
        credentials_provider=provider, endpoint=cloud.oss_endpoint, bucket_name=BUCKET, connect_timeout=5
    )
    return client, bucket


def is_service_expired_key_error(exc):
    """The service's own error for a rotated key, as the SDK raises it (not ours)."""
    if isinstance(exc, ServerException):
        return exc.get_error_code() in ACS_EXPIRED
    return isinstance(exc, oss2.exceptions.ServerError) and exc.code == "InvalidAccessKeyId"


def our_warnings(records):
    return [r for r in records if r.name.startswith("managed_credentials") and r.levelno >= logging.WARNING]


def call_until(condition, body, deadline=DEADLINE):
    """Call body() until condition(calls made so far) holds, checked after each call; fails after `deadline`
    seconds. Returns how many calls were made."""
    end = time.monotonic() + deadline
    calls = 0
    while True:
        body()
        calls += 1
        if condition(calls):
            return calls
        assert time.monotonic() < end, f"condition not met after {calls} calls in {deadline} s"


def run_for(seconds, body):
    """Call body() repeatedly for `seconds` (wall clock); returns how many times it ran."""
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        body()
        n += 1
    return n


# ---- leak guard: applied to every test in this file -----------------------------------------------------------------


class LeakGuard:
    """What a test saw besides logs and captured output: exception texts, reprs, other processes' output."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.texts = []
        self.canaries = set()
        self.allowed_files = set()  # files the test itself wrote on purpose (a properties file holds a KMS secret)
        self.stdout, self.stderr = [], []

    def note(self, *things):
        for thing in things:
            if isinstance(thing, BaseException):
                self.texts.append("".join(traceback.format_exception(type(thing), thing, thing.__traceback__)))
                self.texts.append(repr(thing))
            elif isinstance(thing, str):
                self.texts.append(thing)
            else:
                self.texts.append(repr(thing))
                self.texts.append(str(thing))

    def allow_file(self, path):
        self.allowed_files.add(os.path.abspath(str(path)))
        return path


def emulator_secrets(cloud):
    """Every AccessKeySecret and security token the emulator ever issued (state is test infrastructure)."""
    with cloud.state.lock:
        keys = list(cloud.state._keys.values())
    return {v for k in keys for v in (k.access_key_secret, k.security_token) if v}


def captured_output(guard, caplog, capfd):
    """(where, text) for everything the test could see: log records (all loggers but the emulator's own, which
    stands in for the cloud), stdout/stderr of this process and its children, noted texts, files under tmp."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    sources = []
    for when in ("setup", "call"):
        records = [r for r in caplog.get_records(when) if not r.name.startswith("tests.cloud")]
        sources.append((f"log records ({when})", "\n".join(formatter.format(r) for r in records)))
    out, err = capfd.readouterr()
    guard.stdout.append(out)
    guard.stderr.append(err)
    sources += [
        ("stdout", "".join(guard.stdout)),
        ("stderr", "".join(guard.stderr)),
        ("exceptions and reprs", "\n".join(guard.texts)),
    ]
    for dirpath, _, files in os.walk(guard.tmp_path):
        for name in files:
            path = os.path.abspath(os.path.join(dirpath, name))
            if path not in guard.allowed_files:
                with open(path, "rb") as handle:
                    sources.append((f"file {path}", handle.read().decode("latin-1")))
    return sources


def leaks(sources, secrets):
    """Where any of the secrets appears (never the secret itself: the message must not leak it either)."""
    return sorted({where for where, text in sources for s in secrets if s and s in text})


@pytest.fixture(autouse=True)
def leak_guard(request, caplog, capfd, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # anything written to ~ lands where it is scanned
    caplog.set_level(logging.DEBUG)
    for name in SDK_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    guard = LeakGuard(tmp_path)
    cloud = request.getfixturevalue("cloud") if "cloud" in request.fixturenames else None  # torn down after us
    yield guard
    secrets = set(guard.canaries) | (emulator_secrets(cloud) if cloud is not None else set())
    found = leaks(captured_output(guard, caplog, capfd), secrets)
    assert not found, f"a secret or token appeared in: {found}"


@pytest.fixture
def properties(configured, leak_guard):
    """conftest's `configured`, with the properties file marked as written on purpose."""
    return leak_guard.allow_file(configured)


# ---- KMS returns 503 / times out / refuses connections while the cached key is still valid --------------------------


def start_outage(cloud, kind):
    if kind == "503":
        cloud.kms_fault(status=503)  # every request, until cleared
    elif kind == "timeout":
        cloud.kms_fault(delay=3.0)  # far past the client's read timeout
    else:
        cloud.kms_down()


def end_outage(cloud, kind):
    if kind == "refused":
        cloud.kms_up()
    else:
        cloud.clear_faults()


@pytest.mark.parametrize("kind", ["503", "timeout", "refused"])
def test_kms_outage_with_a_valid_key_keeps_calls_working(cloud, caplog, leak_guard, record_property, kind):
    """Row "KMS 503 / timeout / refused, key still valid": every call keeps succeeding from the cache; the
    background refresh keeps retrying with backoff; one warning per outage; no restart needed afterwards."""
    cloud.create_secret(SECRET)
    kms = CountingKms(fast_kms(cloud, read_timeout=0.15, attempts=2))
    provider = ManagedSecretProvider(SECRET, kms, refresh_interval=0.1, backoff_cap=0.4)  # refresh due every 0.1 s
    client, bucket = clients_on(cloud, provider)
    acs_call(cloud, client)

    for outage, seconds, min_rounds in ((1, 1.0, 2), (2, 0.6, 1)):
        start_outage(cloud, kind)
        start = time.monotonic()
        # Calls go on (any error fails the test) for `seconds`, and until the background refresh has failed
        # `min_rounds` times and 6 call pairs succeeded: counts, not a duration alone, so a loaded machine where
        # a round or a call takes longer only makes the outage last longer.
        calls = call_until(
            lambda n, start=start, seconds=seconds, min_rounds=min_rounds: (
                time.monotonic() - start >= seconds and n > 5 and kms.rounds_since(start) >= min_rounds
            ),
            lambda: (acs_call(cloud, client), oss_call(bucket)),
        )
        elapsed = time.monotonic() - start
        rounds = kms.rounds_since(start)
        record_property(f"outage{outage}", f"{calls} call pairs, {rounds} refresh rounds in {elapsed:.2f} s")
        # Refreshes were tried in the background, and backed off: at least 0.2 s (0.4 s cap, jittered) between
        # rounds, where every call would otherwise have started one.
        assert rounds <= elapsed / 0.2 + 1, (rounds, elapsed)
        assert len(our_warnings(caplog.records)) == outage, [r.getMessage() for r in our_warnings(caplog.records)]

        fetched = cloud.count("GetSecretValue", code="OK")
        seen = len(caplog.records)
        end_outage(cloud, kind)
        # Reads start the background refresh: keep calling until one has fetched again (the emulator counts the
        # answer as it sends it; the provider stores it, and says so, a moment later).
        assert wait_until(
            lambda fetched=fetched, seen=seen: (
                acs_call(cloud, client)
                and cloud.count("GetSecretValue", code="OK") > fetched
                and any("fetched again after" in r.getMessage() for r in caplog.records[seen:])
            ),
            deadline=3.0,
        ), "the background refresh did not resume after KMS came back"
        oss_call(bucket)
    leak_guard.note(client, bucket, provider)
    client.shutdown()
    bucket.shutdown()


def test_failed_refreshes_back_off_exponentially_with_jitter_up_to_the_cap(cloud, kms_client):
    """Same row: the gaps between background refresh rounds during an outage double from ~1 s up to the cap,
    each drawn at random from [ceiling/2, ceiling] (time is simulated; every fetch goes to KMS over HTTP)."""
    cloud.create_secret(SECRET)
    clock = Clock(time.time())
    kms = CountingKms(fast_kms(cloud, attempts=1))
    provider = ManagedSecretProvider(
        SECRET, kms, clock=clock, refresh_interval=100.0, backoff_cap=8.0, background=False
    )  # the "background" round runs inline: exact timing
    good = provider.get_credentials()
    cloud.kms_fault(status=503)
    clock.now += 100.0  # the refresh is due
    round_times = []
    step = 0.01
    for _ in range(int(60 / step)):  # one simulated minute
        before = len(kms.rounds)
        assert provider.get_credentials() is good  # readers never wait for, nor see, the failure
        if len(kms.rounds) > before:
            round_times.append(clock.now)
        clock.now += step
    gaps = [b - a for a, b in zip(round_times, round_times[1:])]
    ceilings = [min(8.0, 2.0**i) for i in range(len(gaps))]  # 1, 2, 4, 8, 8, ...
    assert len(gaps) >= 8, gaps
    for gap, ceiling in zip(gaps, ceilings):
        assert ceiling / 2 - step <= gap <= ceiling + step, (gaps, ceilings)
    assert len({round(g, 2) for g in gaps[3:]}) > 1, "no jitter: a fleet would retry in lockstep"
    assert cloud.count("GetSecretValue", code="ServiceUnavailable") == len(round_times)


# ---- KMS down and the key revoked ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sdk", ["acs", "oss"])
def test_kms_down_and_key_revoked_fails_with_the_service_error_then_heals_within_one_backoff(
    cloud, leak_guard, record_property, sdk
):
    """Row "KMS down and the key is revoked": while KMS is down, calls fail with the service's own error (never
    ours, never a hang); within one backoff interval after KMS returns they succeed again, with no restart."""
    cloud.create_secret(SECRET)
    cap = 0.5
    kms = CountingKms(fast_kms(cloud, attempts=2))
    provider = ManagedSecretProvider(SECRET, kms, backoff_cap=cap)
    client, bucket = clients_on(cloud, provider)
    call = (lambda: acs_call(cloud, client)) if sdk == "acs" else (lambda: oss_call(bucket))
    call()

    cloud.kms_down()
    new_id, _ = cloud.rotate_secret(SECRET, mode="revoke")
    errors = []

    def failing_call():
        with pytest.raises(Exception) as info:
            call()
        errors.append(info.value)

    start = time.monotonic()
    calls = run_for(1.0, failing_call)
    down_for = time.monotonic() - start  # a little over 1 s: the last call may end late on a loaded machine
    rounds = kms.rounds_since(start)
    leak_guard.note(*errors[:3])
    assert all(is_service_expired_key_error(e) for e in errors), {type(e).__name__ for e in errors}
    assert rounds <= down_for / (cap / 2) + 1, rounds  # no KMS storm while it is down

    cloud.kms_up()
    up = time.monotonic()
    healed = wait_until(lambda: _succeeds(call), deadline=5.0)
    elapsed = time.monotonic() - up
    record_property(
        "figures",
        f"{calls} failing calls, {rounds} fetch rounds while down; healed {elapsed:.2f} s "
        f"after kms_up (backoff cap {cap} s)",
    )
    assert healed, "calls never recovered after KMS came back"
    # Healed by the first fetch after KMS came back: no round failed or was skipped in between, so the wait was
    # the one backoff interval then pending (<= cap; its bounds: the simulated-clock test above). Not a timed
    # assertion: how long the calls themselves take depends on the machine's load.
    assert kms.rounds_since(up) == 1, kms.rounds_since(up)
    assert provider.get_credentials().access_key_id == new_id
    client.shutdown()
    bucket.shutdown()


def _succeeds(call):
    try:
        call()
        return True
    except (ServerException, oss2.exceptions.ServerError) as exc:
        assert is_service_expired_key_error(exc), exc
        return False


# ---- SecretData is not JSON, lacks a field, is empty -----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, field",
    [
        ("not json at all", "not JSON"),
        ('{"AccessKeyId": "LTAI5tOnlyTheId"}', "AccessKeySecret"),
        ("", "empty"),
    ],
)
def test_malformed_secret_data_keeps_the_last_good_key_and_recovers_once_fixed(cloud, caplog, leak_guard, raw, field):
    """Row "SecretData malformed": calls keep using the last good key while the background refresh fails with an
    error log naming the secret and the field; when the key is then revoked, calls fail with the service's own
    error; once the secret is fixed (rotated) calls heal without a restart. (The parsing and the log text are
    covered in test_managed_secret.py; here it is the behaviour a caller sees through the proxies.)"""
    cloud.create_secret(SECRET)
    kms = CountingKms(fast_kms(cloud))
    provider = ManagedSecretProvider(SECRET, kms, refresh_interval=0.1, backoff_cap=0.3)
    client, bucket = clients_on(cloud, provider)
    good = provider.get_credentials()

    cloud.set_secret_data(SECRET, raw)
    start = time.monotonic()
    # Calls keep working (any error fails the test) until the malformed value was fetched, and fetched again
    # after the backoff: a count of rounds, not a fixed 0.6 s (which a loaded machine may fill with one round).
    call_until(lambda n: kms.rounds_since(start) >= 2, lambda: (acs_call(cloud, client), oss_call(bucket)))
    assert provider.get_credentials() is good
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(SECRET in m and field in m for m in errors), errors

    cloud.revoke_key(good.access_key_id)  # the data is still malformed: nothing better to fetch
    for _ in range(3):
        with pytest.raises(ServerException) as info:
            acs_call(cloud, client)
        assert info.value.get_error_code() == "InvalidAccessKeyId.NotFound"

    new_id, _ = cloud.rotate_secret(SECRET)  # well-formed data again
    assert wait_until(lambda: _succeeds(lambda: acs_call(cloud, client)), deadline=3.0)
    oss_call(bucket)
    assert provider.get_credentials().access_key_id == new_id
    client.shutdown()
    bucket.shutdown()


def test_malformed_secret_without_a_good_key_fails_the_first_call_naming_the_secret(cloud, properties, leak_guard):
    """Same row, no last good key: construction succeeds (logged), the first call raises CredentialsError naming
    the secret and the missing field; after the secret is fixed the same client works."""
    cloud.create_secret(SECRET)
    cloud.set_secret_data(SECRET, '{"AccessKeyId": "LTAI5tOnlyTheId"}')
    client = ProxyAcsClient(SECRET, timeout=5)
    with pytest.raises(CredentialsError) as info:
        acs_call(cloud, client)
    leak_guard.note(info.value)
    assert info.value.secret_name == SECRET and SECRET in str(info.value) and "AccessKeySecret" in str(info.value)
    cloud.rotate_secret(SECRET)
    assert wait_until(lambda: _succeeds_or_credentials_error(lambda: acs_call(cloud, client)), deadline=3.0)
    client.shutdown()


def _succeeds_or_credentials_error(call):
    try:
        call()
        return True
    except CredentialsError:
        return False


# ---- unknown secret name, KMS access denied --------------------------------------------------------------------------


@pytest.mark.parametrize("sdk", ["acs", "oss"])
@pytest.mark.parametrize(
    "problem, code", [("unknown", "Forbidden.ResourceNotFound"), ("denied", "Forbidden.NoPermission")]
)
def test_unknown_secret_or_denied_kms_fails_at_construction(cloud, properties, leak_guard, sdk, problem, code):
    """Row "unknown secret name, KMS access denied": the proxy's constructor raises CredentialsError naming the
    secret and the KMS error code (ManagedSecretProvider itself: test_managed_secret.py)."""
    cloud.create_secret(SECRET)
    name = "no-such-secret" if problem == "unknown" else SECRET
    if problem == "denied":
        cloud.deny_kms(cloud.kms_access_key[0])
    with pytest.raises(CredentialsError) as info:
        if sdk == "acs":
            ProxyAcsClient(name)
        else:
            ProxyBucket(name, cloud.oss_endpoint, BUCKET)
    leak_guard.note(info.value)
    assert (info.value.secret_name, info.value.code) == (name, code)
    assert name in str(info.value) and code in str(info.value)
    assert cloud.count("GetSecretValue") == 1  # a final answer: not retried


# ---- KMS keeps returning a key that the service rejects --------------------------------------------------------------


def test_each_call_is_reissued_at_most_twice(cloud, leak_guard):
    """Row "KMS keeps returning a rejected key", the per-call bound: even when every refresh brings a *new* key
    (so each refresh is worth a re-issue), one call makes the first request and at most two re-issues."""
    cloud.create_secret(SECRET)

    def new_rejected_key():  # each fetch finds a fresh rotation whose key the service refuses (disabled)
        key_id, _ = cloud.rotate_secret(SECRET, mode="revoke")
        cloud.disable_key(key_id)

    kms = CountingKms(fast_kms(cloud))
    provider = ManagedSecretProvider(SECRET, kms)
    client, bucket = clients_on(cloud, provider)
    acs_call(cloud, client)
    kms.gate = new_rejected_key
    cloud.revoke_key(provider.get_credentials().access_key_id)
    cloud.reset_counts()
    for sdk, call, action in (
        ("acs", lambda: acs_call(cloud, client), "DescribeRegions"),
        ("oss", lambda: bucket.get_object("obj"), "GetObject"),
    ):
        before_fetches, before_calls = cloud.count("GetSecretValue"), cloud.count(action)
        with pytest.raises(Exception) as info:
            call()
        assert is_service_expired_key_error(info.value), info.value
        assert cloud.count(action) - before_calls == 3, sdk  # the call, then two re-issues with new keys
        assert cloud.count("GetSecretValue") - before_fetches == 2, sdk
    client.shutdown()
    bucket.shutdown()


def test_a_key_kms_keeps_returning_is_not_refetched_in_a_storm(cloud, leak_guard, record_property):
    """Same row, under load: 8 threads keep calling with a key the service rejects and KMS keeps returning.
    Every call fails fast with the service's error and re-sends nothing it knows is bad; fetches of the secret
    are spaced by a growing backoff (>= 0.5 s, then >= 1 s, ...); a real rotation then heals within the cap."""
    key_id, _ = cloud.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, fast_kms(cloud), backoff_cap=2.0)
    client, bucket = clients_on(cloud, provider, pool_size=8)
    acs_call(cloud, client)
    cloud.revoke_key(key_id)  # rejected by the services; KMS still returns it
    cloud.reset_counts()
    stop = threading.Event()
    outcomes = []

    def caller(i):
        while not stop.is_set():
            try:
                acs_call(cloud, client) if i % 2 else oss_call(bucket, f"obj{i}")
                outcomes.append(None)
            except Exception as exc:  # noqa: BLE001 - every outcome is checked below
                outcomes.append(exc)

    threads = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(8)]
    for t in threads:
        t.start()
    stop.wait(2.0)  # the load runs for 2 s
    stop.set()
    join_all(threads)
    fetch_times = sorted(c.time for c in cloud.calls if c.action == "GetSecretValue")
    gaps = [b - a for a, b in zip(fetch_times, fetch_times[1:])]
    service_requests = cloud.count("DescribeRegions") + cloud.count("PutObject")
    record_property(
        "figures",
        f"{len(outcomes)} calls, {service_requests} service requests, "
        f"{len(fetch_times)} fetches, gaps {[round(g, 2) for g in gaps]}",
    )
    leak_guard.note(*[e for e in outcomes if e is not None][:3])
    assert outcomes and all(e is not None and is_service_expired_key_error(e) for e in outcomes)
    # Each call sent its request once: a refresh that brought back the key just rejected is never re-sent.
    assert service_requests == len(outcomes)
    assert fetch_times, "no refresh was attempted"
    # Each fetch pushes the next one back by the jittered back-off (at least half of 1 s, 2 s, 2 s...: the cap is
    # 2 s here), however long the load ran: gap k >= 0.5 * min(2, 2 ** k) seconds.
    assert all(g >= 0.5 * min(2.0, 2.0**k) - 0.05 for k, g in enumerate(gaps)), gaps

    new_id, _ = cloud.rotate_secret(SECRET)
    assert wait_until(lambda: _succeeds(lambda: acs_call(cloud, client)), deadline=2.0 + 0.5)
    oss_call(bucket)
    assert provider.get_credentials().access_key_id == new_id
    client.shutdown()
    bucket.shutdown()


# ---- 1,000 threads hit an expired key at once ------------------------------------------------------------------------


def test_thousand_threads_on_a_revoked_key_make_one_fetch_and_all_succeed(cloud, leak_guard, record_property):
    """Row "1,000 threads hit an expired key at once": 1,000 threads released together all call with the key
    that was just revoked; the fetch is held until every one of them has been refused, so all 1,000 wait on the
    same refresh. Exactly one GetSecretValue; all 1,000 calls succeed."""
    threads_n = 1000
    cloud.create_secret(SECRET)
    kms = CountingKms(fast_kms(cloud, read_timeout=5.0))
    provider = ManagedSecretProvider(SECRET, kms)
    # One pooled connection per thread, so the emulator is not flooded with reconnects; bounded timeouts.
    client = ProxyAcsClient(credentials_provider=provider, pool_size=threads_n, timeout=30, connect_timeout=10)
    acs_call(cloud, client)
    new_id, _ = cloud.rotate_secret(SECRET, mode="revoke")
    cloud.reset_counts()
    kms.gate = lambda: wait_until(
        lambda: cloud.count("DescribeRegions", code="InvalidAccessKeyId.NotFound") >= threads_n, deadline=60
    )
    barrier = threading.Barrier(threads_n + 1)
    succeeded, failed = [], []

    def caller():
        barrier.wait(DEADLINE * 3)
        try:
            acs_call(cloud, client)
            succeeded.append(1)
        except Exception as exc:  # noqa: BLE001 - reported below
            failed.append(exc)

    threads = [threading.Thread(target=caller, daemon=True) for _ in range(threads_n)]
    for t in threads:
        t.start()
    start = time.monotonic()
    barrier.wait(DEADLINE * 3)
    join_all(threads, deadline=90)
    record_property(
        "figures",
        f"{len(succeeded)} succeeded in {time.monotonic() - start:.1f} s, "
        f"{cloud.count('GetSecretValue')} GetSecretValue, "
        f"{cloud.count('DescribeRegions', code='InvalidAccessKeyId.NotFound')} refused",
    )
    leak_guard.note(*failed[:3])
    assert failed == [] and len(succeeded) == threads_n
    assert cloud.count("DescribeRegions", code="InvalidAccessKeyId.NotFound") == threads_n  # all hit the old key
    assert cloud.count("GetSecretValue") == 1 and len(kms.rounds) == 2  # the first fetch, and one for all
    assert cloud.count("DescribeRegions", access_key_id=new_id, code="OK") == threads_n
    client.shutdown()


# ---- 16 threads calling while rotations happen every 200 ms ----------------------------------------------------------


def test_sixteen_threads_during_rotations_every_200ms_never_sign_with_a_torn_key(
    cloud, properties, leak_guard, record_property
):
    """Row "16 threads during rotations every 200 ms": 8 AcsClient and 8 OSS threads call without pause while the
    key is rotated (old key revoked at once) every 200 ms. The emulator checks every signature independently:
    zero SignatureDoesNotMatch (no key id of one version signed with the secret of another), zero errors
    reaching a caller, every rotated key used, exactly one fetch per rotation.

    A rotation waits, past its 200 ms, until every thread has finished a call since the previous one. The
    promise is that a call heals the rotations it meets, two re-issues each; it cannot heal a key that lives
    shorter than one request. On a loaded machine (16 threads and the emulator share one interpreter) a request
    takes up to half a second: rotating on the clock alone let one call meet three rotations (its first key, the
    re-issue's key and the second re-issue's key each revoked before its request arrived) and fail with the
    service's error (1 run in 3 on a loaded machine; 8 runs in 10 with two busy processes beside it). Paced
    this way a call meets at most one rotation after it started (and perhaps a key already replaced when it
    started): at most two rejections, always healed."""
    cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)
    client = ProxyAcsClient(SECRET, pool_size=8, timeout=5, connect_timeout=2)
    bucket = ProxyBucket(SECRET, cloud.oss_endpoint, BUCKET, connect_timeout=5)
    acs_call(cloud, client)
    stop = threading.Event()
    errors, done = [], []
    finished = [0] * 16  # calls each thread has finished, succeeded or not

    def caller(i):
        while not stop.is_set():
            try:
                acs_call(cloud, client) if i % 2 else oss_call(bucket, f"obj{i}")
                done.append(1)
            except Exception as exc:  # noqa: BLE001 - any error reaching a caller fails the test
                errors.append(exc)
            finished[i] += 1

    def every_thread_finished_a_call_since(marks):
        assert wait_until(lambda: all(n > m for n, m in zip(finished, marks)), deadline=DEADLINE * 3), (
            "a thread did not finish a call after the rotation"
        )

    threads = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(16)]
    for t in threads:
        t.start()
    rotations = 12
    keys = []
    try:
        marks = list(finished)
        for _ in range(rotations):
            stop.wait(0.2)  # pacing of the workload, not synchronisation
            every_thread_finished_a_call_since(marks)
            keys.append(cloud.rotate_secret(SECRET, mode="revoke")[0])
            marks = list(finished)
        every_thread_finished_a_call_since(marks)  # the last rotation is healed too
    finally:
        stop.set()
        join_all(threads)
    torn = sum(cloud.count(code=code) for code in ("SignatureDoesNotMatch", "InvalidAccessKeySecret"))
    fetches = cloud.count("GetSecretValue")
    record_property(
        "figures",
        f"{len(done)} calls, {len(errors)} errors, {torn} bad signatures, {fetches} fetches for {rotations} rotations",
    )
    leak_guard.note(*errors[:3])
    assert torn == 0
    assert errors == []
    assert all(cloud.count(access_key_id=k, code="OK") > 0 for k in keys)  # every rotation was healed
    assert fetches == rotations + 1  # the first fetch, then one per rotation: never one per thread
    client.shutdown()
    bucket.shutdown()


# ---- os.fork() after first use ---------------------------------------------------------------------------------------


class Child:
    """A forked child running `body(send, receive)`; lines go both ways over pipes, every wait has a deadline.
    The child always ends with os._exit (no atexit, no pytest teardown in the child)."""

    def __init__(self, body, deadline=DEADLINE * 2):
        self.deadline = time.monotonic() + deadline
        up_r, up_w = os.pipe()
        down_r, down_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child
            code = 1
            try:
                os.close(up_r)
                os.close(down_w)
                reader = os.fdopen(down_r, "r")
                send = lambda line: os.write(up_w, (line + "\n").encode())  # noqa: E731
                receive = lambda: _readline(reader, self.deadline)  # noqa: E731
                body(send, receive)
                code = 0
            except BaseException:  # noqa: BLE001 - reported to the parent, then exit
                try:
                    os.write(up_w, ("error " + traceback.format_exc().replace("\n", " | ") + "\n").encode())
                except OSError:
                    pass
            finally:
                os._exit(code)
        os.close(up_w)
        os.close(down_r)
        self._up = os.fdopen(up_r, "r")
        self._down = down_w
        self.output = []

    def receive(self):
        line = _readline(self._up, self.deadline)
        self.output.append(line)
        assert not line.startswith("error"), line
        return line

    def send(self, line):
        os.write(self._down, (line + "\n").encode())

    def wait(self):
        """The child's exit status; kills it if it has not finished by the deadline."""
        try:
            while time.monotonic() < self.deadline:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    return os.waitstatus_to_exitcode(status)
                time.sleep(0.01)
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            raise AssertionError("the forked child did not finish in time (a lock inherited in a held state?)")
        finally:
            self._up.close()
            os.close(self._down)


def _readline(handle, deadline):
    ready, _, _ = select.select([handle], [], [], max(0.0, deadline - time.monotonic()))
    if not ready:
        raise AssertionError("timed out waiting for the other process")
    line = handle.readline()
    if not line:
        raise AssertionError("the other process closed the pipe")
    return line.strip()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_after_first_use_child_works_and_refreshes(cloud, leak_guard):
    """Row "os.fork() after first use": the parent forks while its background refresh thread holds the
    provider's refresh lock in the middle of a (delayed) KMS fetch, and after the key was revoked. In the child
    the same proxies heal (refresh lock not inherited held), parent and child call at the same time on their own
    connections (different requests, so a crossed answer would show), and the child's own background refresh
    picks up a later rotation (no dead thread relied upon)."""
    cloud.create_secret(SECRET)
    kms = fast_kms(cloud, read_timeout=5.0)
    provider = ManagedSecretProvider(SECRET, kms, refresh_interval=0.2, backoff_cap=0.5)
    client, bucket = clients_on(cloud, provider)
    acs_call(cloud, client)
    oss_call(bucket)  # both now hold pooled keep-alive connections
    new_id, _ = cloud.rotate_secret(SECRET, mode="revoke")
    cloud.kms_fault(delay=1.5, times=1)
    assert wait_until(lambda: time.time() >= provider._slot.refresh_at)
    provider.get_credentials()  # starts the background refresh, which takes the lock and waits on KMS
    assert wait_until(lambda: provider._lock.locked()), "the background refresh did not start"

    def in_child(send, receive):
        request = describe_regions(cloud)
        request.set_action_name("DescribeInstances")
        request.add_query_param("PageNumber", "7")
        for _ in range(5):
            assert json.loads(client.do_action_with_exception(request))["PageNumber"] == 7
            assert oss_call(bucket, "child") == b"payload"
        send("healed " + provider.get_credentials().access_key_id)
        rotated = receive().split()[1]
        # Only the background refresh can bring this key: the old one still works (grace), no call fails.
        assert wait_until(
            lambda: acs_call(cloud, client) and provider.get_credentials().access_key_id == rotated, deadline=5.0
        ), "the child's background refresh never ran"
        acs_call(cloud, client)  # signed with the rotated key (the last poll's call may have preceded the refresh)
        send("done")

    child = Child(in_child)
    for _ in range(5):  # meanwhile the parent calls too, on its own connections
        assert acs_call(cloud, client)
        assert oss_call(bucket, "parent") == b"payload"
    healed = child.receive()
    assert healed == "healed " + new_id
    assert cloud.count("DescribeInstances", access_key_id=new_id, code="OK") == 5
    rotated_id, _ = cloud.rotate_secret(SECRET, mode="grace")
    child.send("rotated " + rotated_id)
    assert child.receive() == "done"
    assert child.wait() == 0
    leak_guard.note(*child.output)
    assert cloud.count("DescribeRegions", access_key_id=rotated_id, code="OK") >= 1
    client.shutdown()
    bucket.shutdown()


# ---- shutdown() / interpreter exit -----------------------------------------------------------------------------------

EXIT_SCRIPT = textwrap.dedent("""
    import logging, sys, threading, time
    sys.path.insert(0, sys.argv[1])
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)  # everything, for the leak check
    from aliyunsdkcore.request import CommonRequest
    from credentials.kms.access import kms_access_provider
    from credentials.kms.client import KmsClient
    from credentials.managed import ManagedSecretProvider
    from credentials.registry import default_config
    from proxy import ProxyAcsClient

    mode, ecs_host, secret = sys.argv[2:5]
    request = CommonRequest(domain=ecs_host, version="2014-05-26", action_name="DescribeRegions")
    request.set_protocol_type("http")
    shared = ProxyAcsClient(secret, timeout=5)  # the registry's provider, as most programs use it
    config = default_config()  # KMS from the same properties file; a fetch waits for it as long as it takes
    kms = KmsClient(config.endpoints, kms_access_provider(config), read_timeout=600, attempts=1)
    provider = ManagedSecretProvider(secret, kms, refresh_interval=0.05)
    client = ProxyAcsClient(credentials_provider=provider, timeout=5)
    shared.do_action_with_exception(request)
    client.do_action_with_exception(request)
    print("ready", flush=True)
    sys.stdin.readline()  # the parent has made KMS never answer (until the emulator stops)
    deadline = time.monotonic() + 10
    while not provider._lock.locked() and time.monotonic() < deadline:
        client.do_action_with_exception(request)  # a read starts the background refresh
        time.sleep(0.01)
    assert provider._lock.locked(), "no background refresh in flight"
    if mode == "shutdown":
        client.shutdown(); client.shutdown(); shared.shutdown(); provider.close()
    print("main-end %.6f" % time.monotonic(), flush=True)
""")


@pytest.mark.parametrize("mode", ["exit", "shutdown"])
def test_interpreter_exits_promptly_with_a_refresh_in_flight(
    cloud, properties, tmp_path, leak_guard, record_property, mode
):
    """Row "shutdown() / interpreter exit": a program whose background refresh is blocked on a KMS that does not
    answer exits when its main module ends, with or without calling shutdown() first: it never waits for the
    refresh (which could only end when the emulator stops, after the test). The exit time is a figure, not an
    assertion (on a quiet machine about 0.1 s; the interpreter's own teardown, slower under load)."""
    cloud.create_secret(SECRET)
    script = tmp_path / "program.py"
    script.write_text(EXIT_SCRIPT)
    env = dict(os.environ, MANAGED_CREDENTIALS_PROVIDERS_CONFIG=properties)
    proc = subprocess.Popen(
        [sys.executable, str(script), ROOT, mode, cloud.ecs_host, SECRET],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = _readline(proc.stdout, time.monotonic() + 30)
        assert ready == "ready", ready
        cloud.kms_fault(delay=3600.0)  # cut short when the emulator stops
        proc.stdin.write("go\n")
        proc.stdin.flush()
        line = _readline(proc.stdout, time.monotonic() + 15)
        assert line.startswith("main-end"), line
        main_end = float(line.split()[1])
        try:
            proc.wait(timeout=DEADLINE * 3)
        except subprocess.TimeoutExpired:
            raise AssertionError("the program did not exit: its interpreter waits for the blocked refresh") from None
        exit_time = time.monotonic() - main_end  # CLOCK_MONOTONIC is system-wide on Linux
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out, err = proc.communicate()
        leak_guard.note(out, err)
    record_property("exit_time", f"{exit_time:.3f} s")
    assert proc.returncode == 0, err[-2000:]


def test_shutdown_is_idempotent_and_other_clients_keep_the_shared_provider(cloud, properties, leak_guard):
    """Same row: shutting a client down twice releases its hold once; other clients on the secret keep the same
    provider (no new fetch), still heal after a rotation; the last one out closes it."""
    cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)
    a, b = ProxyAcsClient(SECRET), ProxyAcsClient(SECRET)
    c = ProxyBucket(SECRET, cloud.oss_endpoint, BUCKET)
    provider = b.credentials_provider
    for client in (a, a, c, c):
        client.shutdown()
    assert not provider.closed
    d = ProxyAcsClient(SECRET)
    assert d.credentials_provider is provider and cloud.count("GetSecretValue") == 1
    new_id, _ = cloud.rotate_secret(SECRET, mode="revoke")
    acs_call(cloud, b)
    assert cloud.count("DescribeRegions", access_key_id=new_id, code="OK") == 1 and cloud.count("GetSecretValue") == 2
    for client in (b, d, d):
        client.shutdown()
    assert provider.closed
    leak_guard.note(a, b, c, d, provider)


def test_a_closed_provider_starts_no_more_background_refreshes(cloud, leak_guard):
    """Same row: background work stops at shutdown — a closed provider keeps answering (a caller mid-flight is
    not broken) but never starts another background fetch."""
    cloud.create_secret(SECRET)
    kms = CountingKms(fast_kms(cloud))
    provider = ManagedSecretProvider(SECRET, kms, refresh_interval=0.05)
    assert wait_until(lambda: provider.get_credentials() and len(kms.rounds) >= 3)  # refreshing in the background
    provider.close()
    assert wait_until(lambda: not provider._bg_running)
    rounds = len(kms.rounds)
    run_for(0.3, provider.get_credentials)
    assert len(kms.rounds) == rounds


# ---- properties: missing file, bad JSON, unknown type, missing key ---------------------------------------------------

REGIONS = 'cache_client_region_id=[{"regionId":"cn-hangzhou","endpoint":"http://127.0.0.1:9"}]'


@pytest.mark.parametrize(
    "text, key",
    [
        (None, None),  # no file at all
        (
            "credentials_type=ak\ncredentials_access_key_id=A\ncredentials_access_secret=S\n"
            'cache_client_region_id=[{"regionId":"cn-hangzhou"\n',
            "cache_client_region_id",
        ),
        (f"credentials_type=magic\n{REGIONS}\n", "credentials_type"),
        (f"credentials_type=ak\n{REGIONS}\ncredentials_access_key_id=A\n", "credentials_access_secret"),
    ],
)
def test_bad_properties_fail_the_proxy_constructor_naming_file_and_key(tmp_path, leak_guard, text, key):
    """Row "properties": what a proxy's constructor raises for each kind of mistake (the parser's own cases are
    in test_config.py): ConfigError naming the file and, where there is one, the key; nothing is contacted."""
    path = str(tmp_path / "managed_credentials_providers.properties")
    if text is not None:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    ConfigLoader.set_config_name(path)
    registry.reset()
    try:
        for make in (lambda: ProxyAcsClient(SECRET), lambda: ProxyBucket(SECRET, "http://127.0.0.1:9", BUCKET)):
            with pytest.raises(ConfigError) as info:
                make()
            leak_guard.note(info.value)
            assert info.value.file == os.path.abspath(path) or info.value.file == path
            assert path in str(info.value)
            assert info.value.key == key and (key is None or key in str(info.value))
    finally:
        registry.reset()
        ConfigLoader.set_config_name(None)


# ---- TLS -------------------------------------------------------------------------------------------------------------


@pytest.fixture
def kms_tls(cloud):
    """The emulator's KMS also on an https listener, with a certificate from a CA nobody trusts by default."""
    from tests.cloud.kms import KmsService
    from tests.cloud.tls import test_ca

    ca = test_ca()
    listener = cloud.add_service(
        "kms-tls", KmsService(cloud.state, cloud.region_id), tls=True, ssl_context=ca.server_context()
    )
    return listener.address, ca.ca_file


def test_kms_certificate_is_verified_by_default(cloud, kms_tls, tmp_path, leak_guard, monkeypatch):
    """Row "TLS": KMS over https with a certificate the system does not trust is refused before any request is
    sent — through the properties file and the proxies as users configure it; trusting the CA makes it work."""
    address, ca_file = kms_tls
    cloud.create_secret(SECRET)
    key_id, key_secret = cloud.kms_access_key
    path = leak_guard.allow_file(tmp_path / "tls.properties")
    path.write_text(
        f"credentials_type=ak\ncredentials_access_key_id={key_id}\ncredentials_access_secret={key_secret}\n"
        f'cache_client_region_id=[{{"regionId":"{cloud.region_id}","endpoint":"https://{address}"}}]\n'
    )
    monkeypatch.delenv("ALIBABA_CLOUD_CA_BUNDLE", raising=False)
    ConfigLoader.set_config_name(str(path))
    registry.reset()
    try:
        client = ProxyAcsClient(SECRET, timeout=5)  # the start-up fetch failed (logged); calls report it
        with pytest.raises(CredentialsError) as info:
            acs_call(cloud, client)
        leak_guard.note(info.value)
        assert info.value.code == "SDK.HttpError" and "SSLError" in str(info.value)
        assert cloud.count("GetSecretValue") == 0  # the handshake failed: no signed request ever left
        client.shutdown()

        monkeypatch.setenv("ALIBABA_CLOUD_CA_BUNDLE", ca_file)  # aliyunsdkcore's own CA knob
        registry.reset()
        client = ProxyAcsClient(SECRET, timeout=5)
        acs_call(cloud, client)
        assert cloud.count("GetSecretValue", code="OK") == 1
        client.shutdown()
    finally:
        registry.reset()
        ConfigLoader.set_config_name(None)

    trusting = ManagedSecretProvider(SECRET, fast_kms(cloud, endpoint=address, protocol="https", verify=ca_file))
    assert trusting.get_credentials().access_key_id == cloud.current_key(SECRET)[0]


# ---- secrets in output -----------------------------------------------------------------------------------------------


def test_no_secret_or_token_in_any_output_with_debug_logging(cloud, tmp_path, caplog, capfd, leak_guard):
    """Row "secrets in output": canary values as the KMS access secret and security token (credentials_type=sts)
    and as the managed AccessKeySecret; then, with DEBUG on for our loggers and the SDKs', the scenarios above in
    brief (use, rotation, revocation, KMS outage, malformed SecretData holding a canary, a wrong secret, unknown
    secret, reprs of everything). No canary may appear in any log record, exception text or repr, stdout/stderr,
    or file (HOME is redirected into the scanned tmp folder). Every other test in this file gets the same scan
    over the secrets the emulator issued, through the leak_guard fixture."""
    kms_secret, kms_token = "CANARY-kms-secret-7Qx2", "CANARY-kms-token-Vb81"
    managed_secret, malformed_secret = "CANARY-managed-secret-Lp4z", "CANARY-malformed-secret-Hh30"
    canaries = {kms_secret, kms_token, managed_secret, malformed_secret}
    leak_guard.canaries |= canaries
    assert leaks([("self-check", "x" + managed_secret + "x")], canaries) == ["self-check"]

    kms_id, _ = cloud.add_access_key(access_key_secret=kms_secret, security_token=kms_token)
    cloud.create_secret(SECRET)
    canary_id, _ = cloud.add_access_key(access_key_secret=managed_secret)
    cloud.set_secret_data(
        SECRET,
        json.dumps(
            {"AccessKeyId": canary_id, "AccessKeySecret": managed_secret, "GenerateTimestamp": "2026-01-01T00:00:00Z"}
        ),
    )
    path = leak_guard.allow_file(tmp_path / "sts.properties")
    path.write_text(
        f"credentials_type=sts\ncredentials_access_key_id={kms_id}\ncredentials_access_secret={kms_secret}\n"
        f"credentials_security_token={kms_token}\n"
        f'cache_client_region_id=[{{"regionId":"{cloud.region_id}","endpoint":"{cloud.kms_endpoint}"}}]\n'
    )
    ConfigLoader.set_config_name(str(path))
    registry.reset()
    cloud.create_bucket(BUCKET)
    try:
        client = ProxyAcsClient(SECRET, timeout=5)
        bucket = ProxyBucket(SECRET, cloud.oss_endpoint, BUCKET)
        provider = client.credentials_provider
        acs_call(cloud, client)
        oss_call(bucket)
        assert cloud.count(access_key_id=canary_id, code="OK") == 3  # the canary key really signed
        assert cloud.count("GetSecretValue", access_key_id=kms_id, code="OK") == 1  # and the canary token

        seen = [
            client,
            bucket,
            provider,
            provider.get_credentials(),
            registry.default_config(),
            registry.default_kms_client(),
            registry.default_kms_client().access,
        ]
        cloud.rotate_secret(SECRET, mode="revoke")  # healing: a refused call, a fetch, a re-issue
        acs_call(cloud, client)
        oss_call(bucket)
        cloud.kms_fault(status=503, times=4)  # an outage outlasting the KMS client's 4 attempts
        with pytest.raises(CredentialsError) as outage:
            provider.refresh()
        cloud.set_secret_data(SECRET, json.dumps({"AccessKeySecret": malformed_secret}))
        fresh = ManagedSecretProvider(SECRET, registry.default_kms_client())  # logs the malformed value's error
        with pytest.raises(CredentialsError) as malformed:
            fresh.get_credentials()
        assert malformed.value.code == "MalformedSecretData"
        wrong_id, _ = cloud.add_access_key()
        wrong = ProxyAcsClient(credentials_provider=StaticCredentialsProvider(wrong_id, managed_secret), timeout=5)
        with pytest.raises(ServerException) as signature:
            acs_call(cloud, wrong)  # a wrong secret: the SDK reports it, the secret must not be in the report
        with pytest.raises(CredentialsError) as unknown:
            ProxyAcsClient("no-such-secret")
        leak_guard.note(*seen, outage.value, malformed.value, signature.value, unknown.value, wrong)
        for thing in (client, bucket, wrong):
            thing.shutdown()
    finally:
        registry.reset()
        ConfigLoader.set_config_name(None)

    by_logger = {r.name.split(".")[0] for r in caplog.records if r.levelno == logging.DEBUG}
    assert {"managed_credentials", "aliyunsdkcore", "oss2", "urllib3"} <= by_logger, by_logger  # DEBUG was on
    assert os.listdir(tmp_path / "home") == []  # no log files of our own anywhere
    found = leaks(captured_output(leak_guard, caplog, capfd), canaries | emulator_secrets(cloud))
    assert not found, f"a secret or token appeared in: {found}"
