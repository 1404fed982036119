"""Where the start-up programs run: the library installed as a user installs it, in virtual environments made for
this benchmark run.

* ``wheel``: ``pip install`` of a wheel built from this tree (pip compiles the bytecode at install, as for any
  installed package);
* ``editable``: ``pip install -e`` (setuptools' editable finder: a ``.pth`` file that every process of the venv
  runs at start, and a meta-path finder for our two packages); Python writes our bytecode beside the source at the
  first run, as in a developer's checkout;
* ``editable, no bytecode``: the same with ``PYTHONDONTWRITEBYTECODE=1`` (this machine sets it for every process):
  our modules are compiled from source in every process, the SDKs' are not (pip compiled them at install).

Each kind has its own venv and its own copy of the source (the wheel is built from a copy too, so nothing is written
into the working tree and no stale ``build/`` directory ends up in the wheel). The dependencies are pinned to the
versions this interpreter has, and come from pip's cache. ``--quick`` builds nothing: the current interpreter runs
the source tree (``PYTHONPATH``), with a private bytecode cache.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Dict, Iterator, List, Optional, Tuple

from .cloud import ROOT

DIST = "managed-credentials-sdk-proxy"
SOURCES = ("credentials", "proxy", "setup.py", "pyproject.toml", "README.md")
INSTALL_TIMEOUT = 900.0


@dataclass(frozen=True)
class Install:
    key: str  # "wheel", "editable", "editable_no_bytecode", "source"
    label: str
    python: str
    env: Dict[str, str] = field(repr=False)  # the children's whole environment


@dataclass(frozen=True)
class Installs:
    kinds: List[Install]
    seconds: float  # building the wheel and the venvs
    cwd: str  # a directory with no properties file in it, for the children


def _base_env(properties: str) -> Dict[str, str]:
    env = dict(os.environ, MANAGED_CREDENTIALS_PROVIDERS_CONFIG=properties)
    for name in ("PYTHONPATH", "PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX"):
        env.pop(name, None)
    return env


def _copy_source(to: str) -> str:
    os.makedirs(to)
    for name in SOURCES:
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(path, os.path.join(to, name), ignore=shutil.ignore_patterns("__pycache__"))
        elif os.path.exists(path):
            shutil.copy2(path, to)
    return to


def _constraints(path: str) -> str:
    """This interpreter's distributions, pinned: the venvs get the same SDK versions as every other figure."""
    pins = sorted(
        {
            f"{d.metadata['Name']}=={d.version}"
            for d in metadata.distributions()
            if d.metadata["Name"] and d.metadata["Name"].lower().replace("_", "-") != DIST
        }
    )
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(pins) + "\n")
    return path


def _check(argv: List[str], what: str, env: Optional[Dict[str, str]] = None) -> None:
    done = subprocess.run(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=INSTALL_TIMEOUT, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stdout.strip()[-1500:]}")


def _venv(tmp: str, key: str, target: List[str], constraints: str) -> Tuple[str, subprocess.Popen]:
    """A new venv, and the ``pip install`` into it, started (the installs run side by side)."""
    home = os.path.join(tmp, f"venv-{key}")
    _check([sys.executable, "-m", "venv", home], f"creating the {key} venv")
    python = os.path.join(home, "bin", "python")
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    argv = [python, "-m", "pip", "install", "-q", "-c", constraints, *target]
    return python, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _built(tmp: str, properties: str) -> List[Install]:
    constraints = _constraints(os.path.join(tmp, "constraints.txt"))
    dist = os.path.join(tmp, "dist")
    _check(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, _copy_source(os.path.join(tmp, "src"))],
        "building the wheel",
    )
    wheel = os.path.join(dist, next(n for n in os.listdir(dist) if n.endswith(".whl")))
    started = {
        "wheel": _venv(tmp, "wheel", [wheel], constraints),
        "editable": _venv(tmp, "editable", ["-e", _copy_source(os.path.join(tmp, "src-editable"))], constraints),
        "editable_no_bytecode": _venv(
            tmp, "editable_no_bytecode", ["-e", _copy_source(os.path.join(tmp, "src-editable-nb"))], constraints
        ),
    }
    for key, (_, child) in started.items():
        out, _ = child.communicate(timeout=INSTALL_TIMEOUT)
        if child.returncode != 0:
            raise RuntimeError(f"pip install into the {key} venv failed ({child.returncode}): {out.strip()[-1500:]}")
    env = _base_env(properties)
    return [
        Install("wheel", "installed from a wheel", started["wheel"][0], env),
        Install("editable", "editable install (pip install -e)", started["editable"][0], env),
        Install(
            "editable_no_bytecode",
            "editable install, PYTHONDONTWRITEBYTECODE=1",
            started["editable_no_bytecode"][0],
            dict(env, PYTHONDONTWRITEBYTECODE="1"),
        ),
    ]


@contextlib.contextmanager
def installed(properties: str, build: bool) -> Iterator[Installs]:
    """The kinds of install to measure (built when ``build``, else the source tree); removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-installs-") as tmp:
        t0 = time.perf_counter()
        if build:
            kinds = _built(tmp, properties)
        else:
            env = dict(_base_env(properties), PYTHONPATH=ROOT, PYTHONPYCACHEPREFIX=os.path.join(tmp, "pycache"))
            kinds = [Install("source", "source tree on PYTHONPATH (--quick)", sys.executable, env)]
        cwd = os.path.join(tmp, "cwd")
        os.makedirs(cwd)
        yield Installs(kinds, time.perf_counter() - t0, cwd)
