"""CredentialsToolProvider(provider=...): a provider object of the Credentials tool that the application built, with
the tool's own classes against the emulator. An External process (a small script printing the JSON the tool
expects) and CLIProfile (a config.json with named profiles, AK and RamRoleArn modes), used through ProxyAcsClient
and ProxyBucket: our caching by the key's expiration, the advisory and mandatory windows, single flight, healing
a revocation, and what a revocation does when the tool still caches the rejected key. Also a Client read in one
snapshot, the errors of a misplaced argument, and no secret in repr, name, source or errors."""

import json
import os
import pathlib
import shlex
import sys
import threading
import time

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException

from credentials import ConfigError, CredentialsError, CredentialsToolProvider, StaticCredentialsProvider
from credentials.tool._compat import with_sts_endpoint
from credentials.tool.wrapped import TOKEN_RECHECK_SECONDS
from proxy import ProxyAcsClient, ProxyBucket
from tests.helpers import call_through_rotation, describe_regions, regions_of, wait_until
from tests.test_tool_provider import TOOL_ENV


def _tool_has(name: str) -> bool:
    import alibabacloud_credentials.provider as tool

    return hasattr(tool, name)


needs_external = pytest.mark.skipif(
    not _tool_has("ExternalCredentialsProvider"),
    reason="the Credentials tool before 1.0.9 has no ExternalCredentialsProvider",
)


@pytest.fixture
def env(cloud, tmp_path, monkeypatch):
    """No ALIBABA_CLOUD_* variables, an empty HOME, the emulator's test CA trusted (its STS speaks https only)."""
    for name in TOOL_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SSL_CERT_FILE", cloud.sts.ca_file)
    return monkeypatch


class Clock:
    """The provider's clock, moved by the test (the tool and the emulator keep real time)."""

    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


# --- an External process ----------------------------------------------------------------------------------------------

SCRIPT = """\
import os, sys
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "runs.log"), "a") as log:
    log.write("run\\n")
with open(os.path.join(here, "source.json")) as source:
    sys.stdout.write(source.read())
"""


class ExternalSource:
    """A directory with a script the tool runs (process_command): it prints source.json, the JSON the tool expects,
    and counts its runs in runs.log. The test changes source.json as a source that rotates would."""

    def __init__(self, folder):
        self.folder = folder
        (folder / "print_key.py").write_text(SCRIPT)
        self.command = f"{shlex.quote(sys.executable)} {shlex.quote(str(folder / 'print_key.py'))}"

    def serve(self, key_id, secret, token=None, expiration=None):
        data = {"mode": "StsToken" if token else "AK", "access_key_id": key_id, "access_key_secret": secret}
        if token:
            data["sts_token"] = token
        if expiration is not None:
            data["expiration"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiration))
        staged = self.folder / "source.json.new"
        staged.write_text(json.dumps(data))
        os.replace(staged, self.folder / "source.json")  # the script never reads half a file

    @property
    def runs(self):
        log = self.folder / "runs.log"
        return len(log.read_text().splitlines()) if log.exists() else 0

    def provider(self):
        from alibabacloud_credentials.provider import ExternalCredentialsProvider

        return ExternalCredentialsProvider(process_command=self.command, timeout=30)


def sts_key(cloud, expires_at):
    key_id, secret = cloud.add_access_key(security_token=True, expires_at=expires_at)
    return key_id, secret, cloud.security_token_of(key_id)


@needs_external
def test_an_external_sts_key_is_cached_by_its_expiration_and_renewed_in_our_windows(cloud, env, tmp_path):
    """Keys that expire within 3 minutes: the tool runs the script at every ask (its own margin), so the runs count
    our fetches. Calls between fetches are served from our cache; in the advisory window one background fetch
    while callers keep the key; in the mandatory window the caller waits for the new key."""
    source, clock = ExternalSource(tmp_path), Clock()
    start = int(time.time())
    a = sts_key(cloud, start + 100)
    source.serve(*a, expiration=start + 100)
    provider = CredentialsToolProvider(provider=source.provider(), clock=clock)
    with ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id) as client:
        for _ in range(20):
            assert regions_of(client.do_action_with_exception(describe_regions(cloud)))
        first = provider.get_credentials()
        assert (first.access_key_id, first.security_token, first.expiration) == (a[0], a[2], start + 100)
        assert cloud.count("DescribeRegions", access_key_id=a[0], code="OK") == 20

        b = sts_key(cloud, start + 150)
        source.serve(*b, expiration=start + 150)
        clock.now = start + 100 - 20  # advisory (the last 25 s of 100), not mandatory (the last 10 s)
        assert provider.get_credentials() == first  # still handed out while one background fetch runs
        assert wait_until(lambda: provider.get_credentials().access_key_id == b[0])
        assert source.runs == 2
        client.do_action_with_exception(describe_regions(cloud))
        assert cloud.count("DescribeRegions", access_key_id=b[0], code="OK") == 1

        c = sts_key(cloud, start + 170)
        source.serve(*c, expiration=start + 170)
        clock.now = start + 150 - 3  # b lived 70 s from our clock's view: mandatory in its last 7 s
        assert provider.get_credentials().access_key_id == c[0]  # the caller waited for it
        assert source.runs == 3
        client.do_action_with_exception(describe_regions(cloud))
        assert cloud.count("DescribeRegions", access_key_id=c[0], code="OK") == 1


@needs_external
def test_an_external_sts_key_is_served_from_our_cache_until_its_advisory_window(cloud, env, tmp_path):
    """The tool would run the script at every ask of a key this close to expiry; we ask it once per window.
    (background=False: a refresh our windows start runs in the caller, so every run is counted when it happens.)"""
    source, clock = ExternalSource(tmp_path), Clock()
    start = int(time.time())
    source.serve(*sts_key(cloud, start + 100), expiration=start + 100)
    provider = CredentialsToolProvider(provider=source.provider(), clock=clock, background=False)
    with ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id) as client:
        for _ in range(20):
            client.do_action_with_exception(describe_regions(cloud))
        assert source.runs == 1
        clock.now = start + 100 - 20  # the advisory window
        client.do_action_with_exception(describe_regions(cloud))
        assert source.runs == 2


@needs_external
def test_an_external_static_key_heals_a_revocation_with_one_run_for_eight_threads(cloud, env, tmp_path):
    """A key without expiration is cached until a caller reports it stale; the tool runs the script at every ask
    of a key without expiration, so the one refresh after the revocation reaches the source, which rotated."""
    source = ExternalSource(tmp_path)
    old = cloud.add_access_key()
    source.serve(*old)
    provider = CredentialsToolProvider(provider=source.provider())
    client = ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id, pool_size=8)
    bucket = ProxyBucket(credentials_provider=provider, endpoint=cloud.oss_endpoint, bucket_name="external")
    try:

        def acs_and_oss():
            client.do_action_with_exception(describe_regions(cloud))
            name = threading.current_thread().name
            bucket.put_object(name, b"payload")
            assert bucket.get_object(name).read() == b"payload"

        acs_and_oss()
        assert source.runs == 1 and provider.get_credentials().expiration is None

        def rotate():
            new = cloud.add_access_key()
            source.serve(*new)
            cloud.revoke_key(old[0])
            return new

        errors, new = call_through_rotation(acs_and_oss, rotate)
        assert errors == []
        assert source.runs == 2  # one run for every thread that saw the revoked key
        assert cloud.count("DescribeRegions", access_key_id=new[0], code="OK") >= 50
        assert cloud.count("PutObject", access_key_id=new[0], code="OK") >= 50
    finally:
        client.shutdown()
        bucket.shutdown()


@needs_external
def test_a_revoked_key_the_tool_still_caches_comes_back_and_the_call_raises_the_service_error(
    cloud, env, tmp_path, debug_logs
):
    """An STS key with an hour left: the tool keeps it until 3 minutes before expiry. After a revocation the refresh
    asks the tool again, gets the same key, and the call raises the service's own error (not re-sent with the
    rejected key); further calls ask the tool only as the backoff allows (none here: backoff_base=60)."""
    from alibabacloud_credentials.provider import ExternalCredentialsProvider

    class Counting(ExternalCredentialsProvider):
        asked = 0

        def get_credentials(self):
            Counting.asked += 1
            return super().get_credentials()

    source = ExternalSource(tmp_path)
    expires = int(time.time()) + 3600
    old = sts_key(cloud, expires)
    source.serve(*old, expiration=expires)
    provider = CredentialsToolProvider(provider=Counting(process_command=source.command), backoff_base=60)
    with ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id) as client:
        client.do_action_with_exception(describe_regions(cloud))
        cloud.sts.expire(old[0])  # the session is cut short; the source would give another key
        source.serve(*sts_key(cloud, expires), expiration=expires)
        with pytest.raises(ServerException) as caught:
            client.do_action_with_exception(describe_regions(cloud))
        assert caught.value.get_error_code() == "InvalidSecurityToken.Expired"
        assert "refresh returned the rejected key" in debug_logs.text
        assert Counting.asked == 2 and source.runs == 1  # asked again; answered from its cache
        for _ in range(5):
            with pytest.raises(ServerException):
                client.do_action_with_exception(describe_regions(cloud))
        assert source.runs == 1 and Counting.asked == 2  # backing off after a refresh that brought the same key


# --- CLIProfile -------------------------------------------------------------------------------------------------------


def write_cli_config(path, profiles, current=None):
    path = pathlib.Path(path)
    staged = path.with_suffix(".new")
    staged.write_text(json.dumps({"current": current or profiles[0]["name"], "profiles": profiles}))
    os.replace(staged, path)
    return str(path)


def cli_profile(cloud, path, name):
    """The tool's CLIProfileCredentialsProvider; its RamRoleArn profiles' STS requests go to the emulator's STS (a
    profile names only an STS region; the existing tool tests point it the same way, credentials/tool/_compat.py)."""
    from alibabacloud_credentials.provider import CLIProfileCredentialsProvider

    # Without this hook the profile's STS host would be the real one: stop here rather than reach the internet.
    assert callable(getattr(CLIProfileCredentialsProvider, "_get_credentials_provider", None)), "see test_compat.py"

    class EmulatorCLIProfile(CLIProfileCredentialsProvider):
        asked = 0

        def _get_credentials_provider(self, config, profile_name):
            return with_sts_endpoint(super()._get_credentials_provider(config, profile_name), cloud.sts.host)

        def get_credentials(self):
            type(self).asked += 1
            return super().get_credentials()

    return EmulatorCLIProfile(profile_name=name, profile_file=str(path))


def ak_profile(name, key):
    return {"name": name, "mode": "AK", "access_key_id": key[0], "access_key_secret": key[1]}


def role_profile(cloud, name, key):
    return {
        "name": name,
        "mode": "RamRoleArn",
        "access_key_id": key[0],
        "access_key_secret": key[1],
        "ram_role_arn": cloud.sts.role_arn("app"),
        "ram_session_name": "app",
        "sts_region": "cn-hangzhou",
    }


def test_a_cli_profile_ak_key_is_cached_until_a_caller_reports_it_stale(cloud, env, tmp_path):
    """The named profile, not the current one; no expiration: our cache, however long, until refresh(stale=)."""
    current, named = cloud.add_access_key(), cloud.add_access_key()
    path = write_cli_config(tmp_path / "config.json", [ak_profile("current", current), ak_profile("prod", named)])
    tool, clock = cli_profile(cloud, path, "prod"), Clock()
    provider = CredentialsToolProvider(provider=tool, clock=clock)
    with ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id) as client:
        for _ in range(10):
            client.do_action_with_exception(describe_regions(cloud))
            clock.now += 86400
    key = provider.get_credentials()
    assert (key.access_key_id, key.security_token, key.expiration) == (named[0], None, None)
    assert cloud.count("DescribeRegions", access_key_id=named[0], code="OK") == 10
    assert type(tool).asked == 1
    assert provider.refresh(stale=key) == key and type(tool).asked == 2  # a forced refresh asks the tool again


def test_a_cli_profile_key_revoked_while_the_tool_caches_it_raises_the_service_error(cloud, env, tmp_path, debug_logs):
    """The tool reads config.json once: a key revoked and replaced in the file still comes back from it. The call
    raises the service's own error (not re-sent with the rejected key); the refresh asked the tool once."""
    old = cloud.add_access_key()
    path = write_cli_config(tmp_path / "config.json", [ak_profile("prod", old)])
    tool = cli_profile(cloud, path, "prod")
    provider = CredentialsToolProvider(provider=tool)
    with ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id) as client:
        client.do_action_with_exception(describe_regions(cloud))
        cloud.revoke_key(old[0])
        write_cli_config(path, [ak_profile("prod", cloud.add_access_key())])
        with pytest.raises(ServerException) as caught:
            client.do_action_with_exception(describe_regions(cloud))
    assert caught.value.get_error_code() == "InvalidAccessKeyId.NotFound"
    assert "refresh returned the rejected key" in debug_logs.text
    assert type(tool).asked == 2
    # A new tool object reads the file anew: what an operator does after editing config.json.
    fresh = CredentialsToolProvider(provider=cli_profile(cloud, path, "prod"))
    with ProxyAcsClient(credentials_provider=fresh, region_id=cloud.region_id) as client:
        client.do_action_with_exception(describe_regions(cloud))


def test_a_cli_profile_ram_role_heals_a_revoked_token_through_proxies_for_eight_threads(cloud, env, tmp_path):
    """RamRoleArn mode with sessions shorter than the tool's 15-minute margin: the tool assumes the role at every ask,
    so the one refresh after the revocation gets a new token (one AssumeRole for all threads)."""
    cloud.sts.lifetime = 600
    path = write_cli_config(tmp_path / "config.json", [role_profile(cloud, "prod", cloud.add_access_key())])
    frozen = Clock()  # no token recheck (TOKEN_RECHECK_SECONDS) however long the test takes: AssumeRoles counted
    provider = CredentialsToolProvider(provider=cli_profile(cloud, path, "prod"), clock=frozen)
    client = ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id, pool_size=8)
    bucket = ProxyBucket(credentials_provider=provider, endpoint=cloud.oss_endpoint, bucket_name="cli-profile")
    try:

        def acs_and_oss():
            client.do_action_with_exception(describe_regions(cloud))
            name = threading.current_thread().name
            bucket.put_object(name, b"payload")
            assert bucket.get_object(name).read() == b"payload"

        acs_and_oss()
        old = provider.get_credentials()
        assert old.access_key_id.startswith("STS.") and old.security_token
        assert cloud.count("AssumeRole", code="OK") == 1
        errors, _ = call_through_rotation(acs_and_oss, lambda: cloud.sts.expire(old.access_key_id))
        assert errors == []
        new = provider.get_credentials()
        assert new.access_key_id != old.access_key_id
        assert cloud.count("AssumeRole", code="OK") == 2
        assert cloud.count("DescribeRegions", access_key_id=new.access_key_id, code="OK") >= 50
        assert cloud.count("PutObject", access_key_id=new.access_key_id, code="OK") >= 50
    finally:
        client.shutdown()
        bucket.shutdown()


def test_a_token_that_comes_without_expiration_is_asked_for_again_in_the_background(cloud, env, tmp_path):
    """CLIProfile drops the expiration of the STS key it passes on. Without a recheck we would hold that token until
    a service rejects it; every TOKEN_RECHECK_SECONDS the tool is asked again (it renews ahead of expiry itself),
    in the background, while callers keep the key."""
    cloud.sts.lifetime = 600
    path = write_cli_config(tmp_path / "config.json", [role_profile(cloud, "prod", cloud.add_access_key())])
    clock = Clock()
    provider = CredentialsToolProvider(provider=cli_profile(cloud, path, "prod"), clock=clock)
    first = provider.get_credentials()
    assert first.security_token and first.expiration is None
    clock.now += TOKEN_RECHECK_SECONDS - 1
    assert provider.get_credentials() == first and cloud.count("AssumeRole", code="OK") == 1
    clock.now += 2
    assert provider.get_credentials() == first  # handed out while the background fetch runs
    assert wait_until(lambda: provider.get_credentials() != first)
    assert cloud.count("AssumeRole", code="OK") == 2


# --- a Client, read in one snapshot -----------------------------------------------------------------------------------


def test_a_client_is_read_once_per_fetch_never_a_torn_pair(cloud, env):
    """A Client's deprecated per-field getters each ask its provider: across a renewal, the id of one key and the
    secret of the next. We read get_credential() once and take every field from it."""
    from alibabacloud_credentials.client import Client
    from alibabacloud_credentials.provider import StaticAKCredentialsProvider
    from alibabacloud_credentials_api import ICredentialsProvider

    keys = [cloud.add_access_key(), cloud.add_access_key()]

    class Renewing(ICredentialsProvider):
        """Another key at every ask (the tool's static provider makes each answer)."""

        asked = 0

        def get_credentials(self):
            key = keys[Renewing.asked % 2]
            Renewing.asked += 1
            return StaticAKCredentialsProvider(access_key_id=key[0], access_key_secret=key[1]).get_credentials()

        def get_provider_name(self):
            return "renewing"

    provider = CredentialsToolProvider(provider=Client(provider=Renewing()))
    fetched = [provider.get_credentials()]
    for _ in range(3):
        fetched.append(provider.refresh(stale=fetched[-1]))
    assert [(c.access_key_id, c.access_key_secret) for c in fetched] == [keys[0], keys[1], keys[0], keys[1]]
    assert Renewing.asked == 4  # one ask per fetch
    with ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id) as client:
        client.do_action_with_exception(describe_regions(cloud))


# --- misuse, and secrets ----------------------------------------------------------------------------------------------


def _misuses():
    from alibabacloud_credentials.provider import StaticAKCredentialsProvider

    static = StaticAKCredentialsProvider(access_key_id="LTAI5tExample0001", access_key_secret="s")

    class AsyncOnly:
        async def get_credentials(self):
            return None

    return [
        ("both", dict(config={"type": "access_key"}, provider=static), "provider", "not both"),
        ("no get_credentials", dict(provider=object()), "provider", "has no get_credentials()"),
        ("a class", dict(provider=StaticAKCredentialsProvider), "provider", "pass an instance"),
        ("a coroutine", dict(provider=AsyncOnly()), "provider", "coroutine function"),
        ("ours", dict(provider=StaticCredentialsProvider("k", "s")), "provider", "credentials_provider="),
        ("as config", dict(config=static), "config", "CredentialsToolProvider(provider=...)"),
    ]


@pytest.mark.parametrize("case", range(6), ids=[c[0] for c in _misuses()])
def test_a_misplaced_or_wrong_provider_argument_says_what_to_fix(case):
    _, kwargs, key, hint = _misuses()[case]
    with pytest.raises(ConfigError) as caught:
        CredentialsToolProvider(**kwargs)
    assert caught.value.key == key and hint in str(caught.value), str(caught.value)


@needs_external
def test_no_secret_in_repr_name_source_errors_or_logs(cloud, env, tmp_path, debug_logs):
    source = ExternalSource(tmp_path)
    expires = int(time.time()) + 3600
    key = sts_key(cloud, expires)
    source.serve(*key, expiration=expires)
    provider = CredentialsToolProvider(provider=source.provider())
    with ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id) as client:
        client.do_action_with_exception(describe_regions(cloud))
    (tmp_path / "source.json").write_text('{"access_key_id": "%s", "access_key_secret": "%s", ' % key[:2])  # cut off
    failing = CredentialsToolProvider(provider=source.provider())
    with pytest.raises(CredentialsError) as caught:
        failing.get_credentials()
    assert "ExternalCredentialsProvider" in str(caught.value)
    texts = [repr(provider), provider.name, str(provider.source), repr(provider.get_credentials())]
    texts += [str(caught.value), repr(caught.value), repr(failing)]
    texts += [r.getMessage() for r in debug_logs.records if not r.name.startswith("tests.cloud")]
    everything = "\n".join(texts)
    assert provider.source == "ExternalCredentialsProvider object"
    assert key[1] not in everything and key[2] not in everything
