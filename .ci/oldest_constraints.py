"""Print a pip constraints file pinning every install_requires entry of setup.py, and every entry of the extras in
EXTRAS (the adapters' SDKs), to its lower bound. ``--extras`` prints those extras instead, as pip writes them
(``oss-v2,sls,mns,tablestore``), for ``pip install -e '.[...]'``.

Read from setup.py itself (its ``install_requires`` list and ``extras_require`` dict), so the oldest-versions step
always tests the ranges we declare. An entry without a ``>=`` lower bound is an error: the range would not say what
it supports.
"""

import ast
import os
import re
import sys
from typing import Any

# Not pinned to its lower bound, and why. requests (>=2.21, alibabacloud-tea's floor): requests before 2.30 brings
# urllib3 1.x, which fails the emulator's TLS on 127.0.0.1 ("check_hostname requires server_hostname") when the
# Credentials tool calls STS there; a real endpoint is reached by name. requests is not one of the SDKs this step
# is for (aliyun-python-sdk-core, oss2, alibabacloud-tea-openapi, alibabacloud-credentials).
OVERRIDES = {"requests": ">=2.30"}

#: The extras whose SDK an adapter of proxy/ wraps: installed at their lower bounds by the oldest-versions step, which
#: runs their tests too (picked by file name: .ci/oldest-versions).
EXTRAS = ("oss-v2", "sls", "mns", "tablestore")

SETUP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "setup.py")


def keyword_node(path: str, name: str) -> ast.expr:
    """The expression setup.py passes as keyword `name` to setup()."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == name:
            return node.value
    raise SystemExit(f"{path}: no {name}")


def setup_keyword(path: str, name: str) -> Any:
    return ast.literal_eval(keyword_node(path, name))


def install_requires(path: str) -> list:
    return list(setup_keyword(path, "install_requires"))


def setup_extras(path: str) -> dict:
    """extras_require's entries written as literals (others, such as the test extra's ``*DOCS``, are skipped)."""
    node = keyword_node(path, "extras_require")
    if not isinstance(node, ast.Dict):
        raise SystemExit(f"{path}: extras_require is not written as a dict")
    extras = {}
    for key, value in zip(node.keys, node.values):
        try:
            extras[ast.literal_eval(key)] = ast.literal_eval(value)
        except (ValueError, TypeError):  # not a literal: not an adapter's extra
            continue
    return extras


def extras_requires(path: str) -> list:
    extras = setup_extras(path)
    missing = [name for name in EXTRAS if name not in extras]
    if missing:
        raise SystemExit(f"{path}: no extra {', '.join(missing)} (.ci/oldest_constraints.py EXTRAS names it)")
    return [requirement for name in EXTRAS for requirement in extras[name]]


def main() -> int:
    if sys.argv[1:] == ["--extras"]:
        print(",".join(EXTRAS))
        return 0
    for requirement in install_requires(SETUP) + extras_requires(SETUP):
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*.*?>=\s*([0-9][^,;\s]*)", requirement)
        if not match:
            print(f"setup.py: {requirement!r} has no >= lower bound", file=sys.stderr)
            return 1
        name = match.group(1)
        print(f"{name}{OVERRIDES[name]}" if name in OVERRIDES else f"{name}=={match.group(2)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
