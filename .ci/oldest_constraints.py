"""Print a pip constraints file pinning every install_requires entry of setup.py to its lower bound.

Read from setup.py itself (its ``install_requires`` list), so the oldest-versions step always tests the ranges we
declare. An entry without a ``>=`` lower bound is an error: the range would not say what it supports.
"""
import ast
import os
import re
import sys

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
        print(f"{match.group(1)}=={match.group(2)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
