"""Importing the packages is cheap and inert: no thread, no network, no heavy SDK a program does not use."""

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
heavy = [m for m in ("oss2", "alibabacloud_tea_openapi", "alibabacloud_credentials", "alibabacloud_oss_v2")
         if m in sys.modules]
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
