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
heavy = [m for m in ("oss2", "alibabacloud_tea_openapi", "alibabacloud_credentials", "alibabacloud_oss_v2", "mns",
                     "tablestore") if m in sys.modules]
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


HIDE_THE_EXTRAS = """
import sys
class HideTheExtras:  # as on a base install: the SDKs of the extras .[oss-v2], .[mns], .[tablestore] cannot be imported
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("alibabacloud_oss_v2", "mns", "tablestore"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, HideTheExtras())
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
for name in ("ManagedOssCredentialsProvider", "ProxyOssClient", "ProxyAsyncOssClient", "ProxyMnsAccount",
             "ProxyOTSClient"):
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
    "sdk_imported": [m for m in ("alibabacloud_oss_v2", "mns", "tablestore") if m in sys.modules],
    "mns_account_bases": [base.__module__ for base in ProxyMnsAccount.__mro__],
    "ots_client_bases": [base.__module__ for base in ProxyOTSClient.__mro__],
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


EXTRA_OF = {
    "ManagedOssCredentialsProvider": "oss-v2",
    "ProxyOssClient": "oss-v2",
    "ProxyAsyncOssClient": "oss-v2",
    "ProxyMnsAccount": "mns",
    "ProxyOTSClient": "tablestore",
}


def test_star_import_and_help_work_without_an_extra_and_its_names_say_what_to_install():
    """Row "base install": without the extras .[oss-v2], .[mns] and .[tablestore], ``from proxy import *`` binds
    every name and ``help(proxy)`` lists them; each adapter's names are placeholders whose construction raises
    ImportError with the pip command of its extra."""
    seen = run_python(HIDE_THE_EXTRAS + STAR_IMPORT_AND_HELP)
    assert seen["bound"] == seen["all"]
    assert all(name in seen["help"] for name in seen["all"]), seen["help"]
    assert set(seen["missing"]) == set(EXTRA_OF)
    for name, text in seen["missing"].items():
        assert f"pip install 'managed-credentials-sdk-proxy[{EXTRA_OF[name]}]'" in text, (name, text)
    assert seen["bucket_is_oss2"] and not seen["sdk_imported"]


def test_star_import_and_help_with_the_extra_give_the_real_clients():
    seen = run_python(STAR_IMPORT_AND_HELP)
    assert seen["bound"] == seen["all"] and seen["missing"] == {}
    assert "alibabacloud_oss_v2.client" in seen["v2_client_bases"]
    assert "mns.account" in seen["mns_account_bases"] and "tablestore.client" in seen["ots_client_bases"]
    assert "class ProxyAsyncOssClient(" in seen["help"] and "class ProxyMnsAccount(" in seen["help"]
