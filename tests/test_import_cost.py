"""Start-up cost, as counts (the timings are benchmarks/startup.py's): what a new process loads, and what the KMS
client builds, when a program imports the library, constructs a client and makes its first call.

Each check runs in a new interpreter (a module imported once stays imported), reading sys.modules at the end.
"""

import calendar
import json
import os
import subprocess
import sys
import textwrap
import time
from datetime import datetime

import pytest
import tenacity
from hypothesis import given, settings
from hypothesis import strategies as st

from credentials import StaticCredentialsProvider
from credentials.config import KmsEndpoint
from credentials.kms import KmsClient, KmsRequestError
from credentials.secret import _parse_date

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "startup-secret"

#: What ``import credentials, proxy`` alone must not load: each is paid at first use by the programs that need it.
HEAVY_AT_IMPORT = (
    "difflib",  # the "did you mean" of a misspelt properties key
    "ipaddress",  # the clear-text check of an endpoint
    "email",  # an HTTP-date Retry-After (and, on some Pythons, ipaddress under it)
    "tenacity",  # retries of a failed fetch, and the proxies' re-issue
    "asyncio",  # the asyncio clients only
    "credentials.config",  # the properties file: its parser, JSON limits, validation
    "credentials.json_limits",
    "credentials.masking",  # the redaction patterns, installed at the first client
    "credentials.managed",
    "credentials.kms",  # the KMS client, and below it the dedicated-KMS gateway
    "credentials.kms.dedicated",
    "credentials.tool",  # the Credentials tool adapter
    "alibabacloud_credentials",
    "cryptography",
    "oss2",
    "alibabacloud_oss_v2",
    "alibabacloud_tea_openapi",
    "Tea",
    "proxy.acs",  # every adapter is loaded at first use
    "proxy.oss",
    "proxy.openapi",
    "proxy.oss_v2",
)

#: What a process that constructs a ProxyAcsClient and makes one successful call must not load either.
HEAVY_ON_SUCCESS = ("difflib", "ipaddress", "tenacity", "asyncio", "_strptime", "credentials.kms.dedicated", "oss2")


def _modules_after(code: str, env=None) -> set:
    """The modules ``code`` loads in a new interpreter (with this checkout first on the path): sys.modules at its end,
    less what the interpreter had loaded before it (site, .pth files such as an editable install's finder)."""
    program = (
        "import sys\n_before = set(sys.modules)\n"
        + textwrap.dedent(code)
        + "\nimport json\nprint(json.dumps(sorted(set(sys.modules) - _before)))\n"
    )
    environment = dict(os.environ, **(env or {}))
    environment["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, environment.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _loaded(modules: set, names) -> list:
    return sorted(n for n in names if n in modules or any(m.startswith(n + ".") for m in modules))


def test_import_credentials_and_proxy_loads_nothing_heavy():
    modules = _modules_after("import credentials, proxy")
    assert not _loaded(modules, HEAVY_AT_IMPORT), "loaded by `import credentials, proxy` alone"
    ours = sorted(m for m in modules if m.split(".")[0] in ("credentials", "proxy"))
    # today 12 (small ones: _version, stats for status(); the refresh machinery, its throttling windows and metrics
    # come with the first RefreshingProvider): each one more is a few hundred microseconds for every program;
    # benchmarks' import_cost row times it
    assert len(ours) <= 14, ours


def test_the_public_names_still_resolve_after_the_lazy_imports():
    modules = _modules_after(
        "import credentials, proxy\n"
        "assert credentials.ConfigLoader.get_config_name()\n"
        "assert proxy.ProxyAcsClient.__name__ == 'ProxyAcsClient'\n"
        "assert credentials.RefreshingProvider.__name__ == 'RefreshingProvider'\n"
    )
    assert "credentials.config" in modules and "proxy.acs" in modules and "credentials.refreshing" in modules


def test_a_first_successful_call_loads_no_retry_event_loop_or_date_parser(cloud, tmp_path):
    """Construct + first call of a ProxyAcsClient: tenacity (loaded when a fetch fails), asyncio (the asyncio
    clients), _strptime (KMS's dates are read without it) stay out; so do the SDKs and code this program does not
    use. Nor is aliyunsdkcore's endpoint table parsed for the KMS client, which never resolves an endpoint."""
    cloud.create_secret(SECRET)
    properties = cloud.write_properties(str(tmp_path / "managed_credentials_providers.properties"))
    modules = _modules_after(
        f"""
        from aliyunsdkcore.endpoint import local_config_regional_endpoint_resolver as tables
        built = []
        original = tables.LocalConfigRegionalEndpointResolver.__init__
        def counting(self, *args, **kwargs):
            built.append(1)
            original(self, *args, **kwargs)
        tables.LocalConfigRegionalEndpointResolver.__init__ = counting

        from aliyunsdkcore.request import CommonRequest
        from proxy import ProxyAcsClient
        client = ProxyAcsClient({SECRET!r}, region_id="cn-hangzhou")
        request = CommonRequest(domain={cloud.ecs_host!r}, version="2014-05-26", action_name="DescribeRegions")
        request.set_protocol_type("http")
        client.do_action_with_exception(request)
        assert not built, "the endpoint tables were parsed"
        """,
        env={"MANAGED_CREDENTIALS_PROVIDERS_CONFIG": properties},
    )
    assert "credentials.kms.client" in modules  # the program did fetch
    key_id, key_secret = cloud.current_key(SECRET)
    plain = _modules_after(  # what the SDK itself loads for the same call, in this Python (3.13's urllib: ipaddress)
        f"""
        from aliyunsdkcore.client import AcsClient
        from aliyunsdkcore.request import CommonRequest
        client = AcsClient({key_id!r}, {key_secret!r}, "cn-hangzhou")
        request = CommonRequest(domain={cloud.ecs_host!r}, version="2014-05-26", action_name="DescribeRegions")
        request.set_protocol_type("http")
        client.do_action_with_exception(request)
        """
    )
    assert not _loaded(modules - plain, HEAVY_ON_SUCCESS), "loaded by a first successful call"


def test_a_rotation_healed_at_the_first_re_issue_loads_no_retry_library_nor_redaction_patterns(cloud, tmp_path):
    """The call that meets a revoked key is re-issued after one refresh; neither that refresh nor that re-issue
    imports tenacity, nor compiles redaction patterns (each would cost the rotation's slowest call milliseconds).
    The program makes a call, says so and waits; the test revokes the key and lets it make the next one."""
    cloud.create_secret(SECRET)
    properties = cloud.write_properties(str(tmp_path / "managed_credentials_providers.properties"))
    program = textwrap.dedent(
        f"""
        import json, sys
        from aliyunsdkcore.request import CommonRequest
        from proxy import ProxyAcsClient
        client = ProxyAcsClient({SECRET!r}, region_id="cn-hangzhou")
        def call():
            request = CommonRequest(domain={cloud.ecs_host!r}, version="2014-05-26", action_name="DescribeRegions")
            request.set_protocol_type("http")
            client.do_action_with_exception(request)
            return client.credentials_provider.get_credentials().access_key_id
        print(call(), flush=True)
        sys.stdin.readline()
        print(call(), flush=True)
        print(json.dumps(sorted(sys.modules)), flush=True)
        from credentials.masking import redaction
        compiled = getattr(redaction, "_compiled", None)  # name -> pattern (before: all or none)
        print(json.dumps(sorted(compiled) if isinstance(compiled, dict) else ["all" if compiled else "none"]))
        """
    )
    env = dict(os.environ, MANAGED_CREDENTIALS_PROVIDERS_CONFIG=properties)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    child = subprocess.Popen(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env=env,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        old_key = child.stdout.readline().strip()  # bounded: the child exits on any error, closing stdout
        assert old_key, child.communicate(timeout=30)[1][-2000:]
        new_key, _ = cloud.rotate_secret(SECRET, mode="revoke")
        out, err = child.communicate("go\n", timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert child.returncode == 0, err[-2000:]
    healed_with, modules, patterns = out.splitlines()[0], set(json.loads(out.splitlines()[1])), out.splitlines()[2]
    assert healed_with == new_key != old_key
    assert (
        cloud.count("DescribeRegions", access_key_id=old_key) == 2
    )  # the first call, and the one that met the revocation
    assert "tenacity" not in modules
    # The SDK's ERROR record of the rejected request goes through our redaction filter: it names no secret-looking
    # field, so no pattern is compiled (compiling them all took milliseconds on the rotation's slowest call).
    assert json.loads(patterns) == []


def _kms(cloud, attempts):
    return KmsClient(
        [KmsEndpoint(cloud.region_id, cloud.kms_host, "http")],
        StaticCredentialsProvider(*cloud.kms_access_key),
        attempts=attempts,
        read_timeout=3.0,
        wait=tenacity.wait_none(),
    )


@pytest.mark.parametrize("attempts", [1, 2, 4])
def test_a_failing_fetch_makes_exactly_its_attempts(cloud, attempts):
    """The first attempt is made outside tenacity and handed to it as its first: still `attempts` requests in all,
    and the service's error is raised, not a tenacity RetryError."""
    cloud.create_secret(SECRET)
    cloud.kms_fault(status=503)
    with pytest.raises(KmsRequestError) as raised:
        _kms(cloud, attempts).get_secret_value(SECRET)
    assert raised.value.status == 503
    assert cloud.count("GetSecretValue") == attempts


def test_a_transient_failure_is_retried_and_a_final_one_is_not(cloud):
    cloud.create_secret(SECRET)
    cloud.kms_fault(status=503, times=2)
    assert _kms(cloud, 4).get_secret_value(SECRET)["SecretName"] == SECRET
    assert cloud.count("GetSecretValue") == 3  # two failures, then the answer
    before = cloud.count("GetSecretValue")
    with pytest.raises(KmsRequestError) as raised:
        _kms(cloud, 4).get_secret_value("no-such-secret")
    assert not raised.value.retryable
    assert cloud.count("GetSecretValue") == before + 1


@settings(max_examples=400, deadline=None)
@given(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.sampled_from(["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S+0000"]),
    st.text(alphabet="0123456789-T:Z +.", max_size=22),
)
def test_kms_dates_read_without_strptime_are_read_as_strptime_reads_them(moment, form, noise):
    """_parse_date reads KMS's canonical form itself (time.strptime's first call costs ~2 ms); for that form and any
    other text, the answer is strptime's."""
    for text in (moment.strftime(form).rjust(len(form) + 2, "0")[-20:], moment.strftime(form), noise):
        assert _parse_date(text) == _strptime_reading(text), text


def _strptime_reading(text):
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%S+0000", "%Y-%m-%d %H:%M:%S"):
        try:
            return float(calendar.timegm(time.strptime(text.strip(), fmt)))
        except ValueError:
            continue
    return None
