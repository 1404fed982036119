"""The layering rule, read from the source: no import circle in credentials/ or proxy/, and credentials/ knows
nothing of the proxies or their SDKs.

Every import counts, also those inside a function (a lazy import is still a dependency; a circle through one only
waits for the right call order to fail). Imports under ``if TYPE_CHECKING:`` are for the type checker only and are
left out.
"""

import ast
import os
from typing import Dict, Iterator, List, Optional, Set, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("credentials", "proxy")
#: What credentials/ must never import: the proxies, and the SDKs only they adapt.
FORBIDDEN_IN_CREDENTIALS = ("proxy", "oss2", "alibabacloud_oss_v2")


def module_files() -> Dict[str, str]:
    """Dotted module name -> file, for every module of the two packages."""
    found = {}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for file in files:
                if file.endswith(".py"):
                    path = os.path.join(folder, file)
                    parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
                    if parts[-1] == "__init__":
                        parts = parts[:-1]
                    found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.stmt]:
    """Every import statement, at any depth, except the bodies of ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _imports(node)


def imported_names(module: str, path: str, modules: Set[str]) -> List[str]:
    """The dotted names ``module`` imports (a submodule when ``from package import submodule``)."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    names = []
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
            continue
        assert isinstance(node, ast.ImportFrom)
        if node.level:
            base_parts = package.split(".")
            base_parts = base_parts[: len(base_parts) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            names.append(candidate if candidate in modules else base)
    return names


def import_graph() -> Dict[str, Set[str]]:
    """Module -> the modules of the two packages it imports (including each package's ``__init__``)."""
    files = module_files()
    graph: Dict[str, Set[str]] = {}
    for module, path in files.items():
        edges = set()
        for name in imported_names(module, path, set(files)):
            while name and name not in files:  # credentials.config.KmsEndpoint -> credentials.config
                name = name.rpartition(".")[0]
            if name and name != module:
                edges.add(name)
        graph[module] = edges
    return graph


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """One import circle as a path (first module repeated at the end), or None."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        state[node] = 1
        path.append(node)
        for successor in sorted(graph.get(node, ())):
            if state.get(successor) == 1:
                return path[path.index(successor) :] + [successor]
            if successor not in state:
                found = visit(successor)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_the_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    assert "credentials.default_kms" in graph["credentials.registry"], "`from . import default_kms` was missed"
    assert "credentials.managed" in graph["credentials.registry"], "the function-level import was missed"
    assert "credentials.registry" in graph["proxy.source"], "`from credentials import registry` was missed"


def test_no_import_circle_in_credentials_or_proxy():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_credentials_never_imports_proxy_or_its_sdks():
    files = module_files()
    offending: List[Tuple[str, str]] = []
    for module, path in files.items():
        if not module.startswith("credentials"):
            continue
        for name in imported_names(module, path, set(files)):
            if name.split(".")[0] in FORBIDDEN_IN_CREDENTIALS:
                offending.append((module, name))
    assert not offending, "credentials/ must not import the proxies or their SDKs: " + ", ".join(
        f"{module} imports {name}" for module, name in offending
    )


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
