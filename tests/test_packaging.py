"""Importing the packages is cheap and inert: no thread, no network, no heavy SDK a program does not use."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROBE = """
import socket, sys, threading
def no_network(*args, **kwargs):
    raise AssertionError("network touched at import")
socket.socket.connect = no_network
socket.create_connection = no_network
import credentials, proxy
from proxy import ProxyAcsClient
assert threading.active_count() == 1, threading.enumerate()
heavy = [m for m in ("oss2", "alibabacloud_tea_openapi", "alibabacloud_credentials", "alibabacloud_oss_v2",
                     "aliyun.log") if m in sys.modules]
assert not heavy, heavy
print("ok")
"""


def test_import_starts_no_thread_touches_no_network_loads_nothing_heavy():
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr


def test_warnings_reach_stderr_and_nothing_below_when_the_application_configures_no_logging():
    script = (
        "import credentials, proxy, logging\n"
        "from proxy import ProxyAcsClient, ProxyBucket, ProxyOpenApiClient\n"
        "from credentials import CredentialsToolProvider\n"
        "for name in ('managed_credentials.credentials', 'managed_credentials.proxy'):\n"
        "    logging.getLogger(name).info('hidden-info')\n"
        "    logging.getLogger(name).warning('shown-' + name)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "shown-managed_credentials.credentials" in result.stderr
    assert "shown-managed_credentials.proxy" in result.stderr
    assert "hidden-info" not in result.stderr + result.stdout


HIDE_THE_OSS_V2_EXTRA = """
import sys
class HideTheExtra:  # as on a base install: alibabacloud-oss-v2 (the .[oss-v2] extra) cannot be imported
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "alibabacloud_oss_v2":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, HideTheExtra())
"""

STAR_IMPORT_AND_HELP = """
import contextlib, io, json, sys
import oss2
from proxy import *
import proxy
page = io.StringIO()
with contextlib.redirect_stdout(page):
    help(proxy)
missing = {}
for name in ("ManagedOssCredentialsProvider", "ProxyOssClient", "ProxyAsyncOssClient"):
    try:
        globals()[name]()  # the real class refuses no arguments otherwise (TypeError, ValueError)
    except ImportError as exc:
        missing[name] = str(exc)
    except (TypeError, ValueError):
        pass
print(json.dumps({
    "bound": sorted(name for name in proxy.__all__ if name in globals()),
    "all": sorted(proxy.__all__),
    "help": page.getvalue(),
    "missing": missing,
    "bucket_is_oss2": issubclass(ProxyBucket, oss2.Bucket),
    "v2_client_bases": [base.__module__ for base in ProxyOssClient.__mro__],
    "sdk_imported": "alibabacloud_oss_v2" in sys.modules,
}))
"""


def run_python(script):
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_star_import_and_help_work_without_an_extra_and_its_names_say_what_to_install():
    """Row "base install": without the .[oss-v2] extra, ``from proxy import *`` binds every name and ``help(proxy)``
    lists them; the OSS SDK V2 names are placeholders whose construction raises ImportError with the pip command."""
    seen = run_python(HIDE_THE_OSS_V2_EXTRA + STAR_IMPORT_AND_HELP)
    assert seen["bound"] == seen["all"]
    assert all(name in seen["help"] for name in seen["all"]), seen["help"]
    assert set(seen["missing"]) == {"ManagedOssCredentialsProvider", "ProxyOssClient", "ProxyAsyncOssClient"}
    assert all("pip install 'managed-credentials-sdk-proxy[oss-v2]'" in text for text in seen["missing"].values())
    assert seen["bucket_is_oss2"] and not seen["sdk_imported"]


def test_star_import_and_help_with_the_extra_give_the_real_clients():
    seen = run_python(STAR_IMPORT_AND_HELP)
    assert seen["bound"] == seen["all"] and seen["missing"] == {}
    assert "alibabacloud_oss_v2.client" in seen["v2_client_bases"]
    assert "class ProxyAsyncOssClient(" in seen["help"]


HIDE_THE_SLS_EXTRA = HIDE_THE_OSS_V2_EXTRA.replace("alibabacloud_oss_v2", "aliyun").replace("oss-v2", "sls")

SLS_NAMES = """
import json, sys
from proxy import *
import proxy
missing = {}
for name in ("ProxyLogClient", "ProxyQueuedLogHandler", "ProxySimpleLogHandler", "ProxyUwsgiQueuedLogHandler"):
    try:
        globals()[name]("cn-hangzhou.log.aliyuncs.com", secret_name="x")
    except ImportError as exc:
        missing[name] = str(exc)
seen = {"missing": missing, "handler": SlsAKExpireHandler.__name__, "sdk_imported": "aliyun.log" in sys.modules}
print(json.dumps(seen))
"""


def test_without_the_sls_extra_the_log_service_names_say_what_to_install():
    seen = run_python(HIDE_THE_SLS_EXTRA + SLS_NAMES)
    assert set(seen["missing"]) == {
        "ProxyLogClient",
        "ProxyQueuedLogHandler",
        "ProxySimpleLogHandler",
        "ProxyUwsgiQueuedLogHandler",
    }
    assert all("pip install 'managed-credentials-sdk-proxy[sls]'" in text for text in seen["missing"].values())
    assert seen["handler"] == "SlsAKExpireHandler" and not seen["sdk_imported"]
