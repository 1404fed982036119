"""Names a package exports but imports at first use (PEP 562), so that importing the package stays cheap.

A package lists ``_LAZY = {name: ".module"}`` and sets ``__getattr__ = lazy_exports(__name__, _LAZY)``; for the type
checker it imports the same names under ``if TYPE_CHECKING:``. tests/test_layering.py reads ``_LAZY`` tables as
imports, so a circle through a lazy name is still found.
"""

import sys
from importlib import import_module
from typing import Any, Callable, Mapping


def lazy_exports(package: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports each name of ``table`` from its module at first use."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # the next lookup is an ordinary attribute
        return value

    return __getattr__
