"""What the figures were measured on: cores, CPU model, Python and SDK versions, load."""

import os
import platform
import sys
from importlib import metadata
from typing import Dict

PACKAGES = ("aliyun-python-sdk-core", "oss2", "tenacity", "managed-credentials-sdk-proxy")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def describe() -> Dict[str, str]:
    info = {
        "cores": str(os.cpu_count()),
        "cpu": cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "load_average_at_start": load_average(),
        "executable": sys.executable,
    }
    for name in PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "not installed"
    return info
