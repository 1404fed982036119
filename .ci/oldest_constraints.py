"""Print a pip constraints file pinning every install_requires entry of setup.py to its lower bound.

Read from setup.py itself (its ``install_requires`` list), so the oldest-versions step always tests the ranges we
declare. An entry without a ``>=`` lower bound is an error: the range would not say what it supports.
"""

import ast
import os
import re
import sys

# Not pinned to its lower bound, and why. requests (>=2.21, alibabacloud-tea's floor): requests before 2.30 brings
# urllib3 1.x, which fails the emulator's TLS on 127.0.0.1 ("check_hostname requires server_hostname") when the
# Credentials tool calls STS there; a real endpoint is reached by name. requests is not one of the SDKs this step
# is for (aliyun-python-sdk-core, oss2, alibabacloud-tea-openapi, alibabacloud-credentials).
OVERRIDES = {"requests": ">=2.30"}

SETUP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "setup.py")


def install_requires(path: str) -> list:
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "install_requires":
            return [ast.literal_eval(item) for item in node.value.elts]  # type: ignore[attr-defined]
    raise SystemExit(f"{path}: no install_requires list")


def main() -> int:
    for requirement in install_requires(SETUP):
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*.*?>=\s*([0-9][^,;\s]*)", requirement)
        if not match:
            print(f"setup.py: {requirement!r} has no >= lower bound", file=sys.stderr)
            return 1
        name = match.group(1)
        print(f"{name}{OVERRIDES[name]}" if name in OVERRIDES else f"{name}=={match.group(2)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
