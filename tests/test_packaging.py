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
heavy = [m for m in ("oss2", "alibabacloud_tea_openapi", "alibabacloud_credentials") if m in sys.modules]
assert not heavy, heavy
print("ok")
"""


def test_import_starts_no_thread_touches_no_network_loads_nothing_heavy():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr
