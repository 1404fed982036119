"""The package as a user installs it. Importing it is cheap and inert: no thread, no network, no heavy SDK a
program does not use. The wheel holds every module, the LICENSE and the example properties file, and a fresh
virtualenv with only the wheel installed imports it and runs the ``managed-credentials`` command.

The wheel tests build and install offline (no index is asked), in about 10 s; set ``SKIP_WHEEL_TEST=1`` to skip them
locally (CI runs them).
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

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
                     "tablestore", "aliyun.log") if m in sys.modules]
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
class HideTheExtras:  # a base install: the SDKs of .[oss-v2], .[mns], .[tablestore], .[sls] cannot be imported
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("alibabacloud_oss_v2", "mns", "tablestore", "aliyun"):
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
             "ProxyOTSClient", "ProxyLogClient", "ProxyQueuedLogHandler", "ProxySimpleLogHandler",
             "ProxyUwsgiQueuedLogHandler"):
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
    "sdk_imported": [m for m in ("alibabacloud_oss_v2", "mns", "tablestore", "aliyun.log") if m in sys.modules],
    "sls_handler": SlsAKExpireHandler.__name__,
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
    "ProxyLogClient": "sls",
    "ProxyQueuedLogHandler": "sls",
    "ProxySimpleLogHandler": "sls",
    "ProxyUwsgiQueuedLogHandler": "sls",
    "ProxyOTSClient": "tablestore",
}


def test_star_import_and_help_work_without_an_extra_and_its_names_say_what_to_install():
    """Row "base install": without the extras .[oss-v2], .[mns], .[tablestore] and .[sls], ``from proxy import *`` binds
    every name and ``help(proxy)`` lists them; each adapter's names are placeholders whose construction raises
    ImportError with the pip command of its extra."""
    seen = run_python(HIDE_THE_EXTRAS + STAR_IMPORT_AND_HELP)
    assert seen["bound"] == seen["all"]
    assert all(name in seen["help"] for name in seen["all"]), seen["help"]
    assert set(seen["missing"]) == set(EXTRA_OF)
    for name, text in seen["missing"].items():
        assert f"pip install 'managed-credentials-sdk-proxy[{EXTRA_OF[name]}]'" in text, (name, text)
    assert seen["bucket_is_oss2"] and not seen["sdk_imported"] and seen["sls_handler"] == "SlsAKExpireHandler"


def test_star_import_and_help_with_the_extra_give_the_real_clients():
    seen = run_python(STAR_IMPORT_AND_HELP)
    assert seen["bound"] == seen["all"] and seen["missing"] == {}
    assert "alibabacloud_oss_v2.client" in seen["v2_client_bases"]
    assert "mns.account" in seen["mns_account_bases"] and "tablestore.client" in seen["ots_client_bases"]
    assert "class ProxyAsyncOssClient(" in seen["help"] and "class ProxyMnsAccount(" in seen["help"]


# --- the wheel ----------------------------------------------------------------------------------------------------

SKIP_WHEEL = "SKIP_WHEEL_TEST"
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".mypy_cache", ".ruff_cache", ".hypothesis", "site"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel, built offline from a copy of the checkout (a stale build/ of the checkout cannot leak into it)."""
    if os.environ.get(SKIP_WHEEL):
        pytest.skip(f"{SKIP_WHEEL} is set")
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
        + ["--wheel-dir", str(tmp / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (path,) = glob.glob(str(tmp / "dist" / "*.whl"))
    return path


def _sources(package):
    found = set()
    for folder, _, files in os.walk(os.path.join(ROOT, package)):
        if "__pycache__" not in folder:
            found |= {os.path.relpath(os.path.join(folder, f), ROOT).replace(os.sep, "/") for f in files}
    return found


def test_the_wheel_holds_every_module_the_license_and_the_example(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    ours = {n for n in names if n.startswith(("credentials/", "proxy/"))}
    assert ours == _sources("credentials") | _sources("proxy")  # every module, py.typed, the example; nothing else
    assert "credentials/config/managed_credentials_providers.properties.example" in ours
    assert {"credentials/py.typed", "proxy/py.typed"} <= ours
    licenses = [n for n in names if ".dist-info/" in n and n.rsplit("/", 1)[1] == "LICENSE"]
    assert licenses, sorted(names)
    with zipfile.ZipFile(wheel) as archive, open(os.path.join(ROOT, "LICENSE"), encoding="utf-8") as handle:
        assert archive.read(licenses[0]).decode("utf-8") == handle.read()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode("utf-8")
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    from credentials import __version__

    assert f"\nVersion: {__version__}\n" in metadata
    assert "managed-credentials = credentials.__main__:main" in entry_points
    assert not [n for n in names if n.startswith(("tests/", "samples/", "benchmarks/", "docs/"))]


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory):
    """A new virtualenv with the wheel installed (offline); its dependencies are this environment's, reached through
    a .pth path entry (a plain path: this environment's editable install of the checkout is not activated)."""
    import venv

    home = tmp_path_factory.mktemp("fresh")
    venv.create(home / "venv", with_pip=False, symlinks=(os.name != "nt"))
    python = str(home / "venv" / ("Scripts" if os.name == "nt" else "bin") / "python")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True
    ).stdout.strip()
    with open(os.path.join(purelib, "dependencies.pth"), "w", encoding="utf-8") as handle:
        handle.write(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _outside(python, *args, cwd):
    """``python *args`` of the fresh virtualenv (or its ``managed-credentials`` command), run outside the checkout
    without this process's PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MANAGED_CREDENTIALS_PROVIDERS_CONFIG")}
    if args[0] == "managed-credentials":
        command = [os.path.join(os.path.dirname(python), "managed-credentials"), *args[1:]]
    else:
        command = [python, *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_a_fresh_venv_with_only_the_wheel_imports_and_runs_the_command(fresh_venv, tmp_path, cloud):
    probe = "import credentials, proxy, os; from proxy import *; print(os.path.dirname(credentials.__file__))"
    where = _outside(fresh_venv, "-c", probe, cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(os.path.dirname(os.path.dirname(os.path.dirname(fresh_venv))))

    helped = _outside(fresh_venv, "managed-credentials", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "check" in helped.stdout and "example" in helped.stdout, helped.stderr
    from credentials import __version__

    assert _outside(fresh_venv, "managed-credentials", "--version", cwd=tmp_path).stdout.split() == [
        "managed-credentials",
        __version__,
    ]
    example = _outside(fresh_venv, "managed-credentials", "example", cwd=tmp_path)
    with open(os.path.join(ROOT, "managed_credentials_providers.properties.example"), encoding="utf-8") as handle:
        assert example.returncode == 0 and example.stdout == handle.read()

    missing = _outside(fresh_venv, "managed-credentials", "check", cwd=tmp_path)  # no properties file here
    assert missing.returncode == 1 and "`managed-credentials example` prints" in missing.stdout, missing.stdout

    cloud.create_secret("app-key")
    properties = cloud.write_properties(str(tmp_path / "managed_credentials_providers.properties"), ["app-key"])
    checked = _outside(fresh_venv, "managed-credentials", "check", "--config", properties, cwd=tmp_path)
    assert checked.returncode == 0 and "secret 'app-key': OK" in checked.stdout, checked.stdout + checked.stderr
