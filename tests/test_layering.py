"""The layering rules, read from the source:

* no import circle in credentials/ or proxy/;
* credentials/ knows nothing of the proxies or their SDKs;
* a subpackage is entered only through its public names. A subpackage is a folder with an ``__init__.py`` below
  ``credentials/`` or ``proxy/`` (``credentials/kms/``, ``credentials/kms/dedicated/``, ``proxy/acs/``, ...); its
  public names are its ``__init__``'s ``__all__``. Code outside the folder imports those names from the package
  (``from credentials.kms import KmsClient``), never a module inside it (``credentials.kms.client``), so that
  the modules behind a folder can be split, merged or renamed without touching its users. Code inside the folder
  imports what it likes, its parent's modules included.

Every import counts, also those inside a function (a lazy import is still a dependency; a circle through one only
waits for the right call order to fail), and a package's ``_LAZY`` table (``{name: ".module"}``, the names it
imports at first use, credentials/_lazy.py) counts as imports of those modules. Imports under
``if TYPE_CHECKING:`` are for the type checker only and are left out.
"""

import ast
import os
from typing import Dict, Iterator, List, Optional, Set, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("credentials", "proxy")
#: What credentials/ must never import: the proxies, and the SDKs only they adapt.
FORBIDDEN_IN_CREDENTIALS = ("proxy", "oss2", "alibabacloud_oss_v2", "mns", "tablestore")


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


def _lazy_table(tree: ast.Module) -> Dict[str, str]:
    """A package's ``_LAZY = {"Name": ".module", ...}``: the names it imports at first use, and from where."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets):
            value = ast.literal_eval(node.value)
            assert isinstance(value, dict), "_LAZY is a dict literal of strings"
            return value
    return {}


def _resolve(package: str, level: int, module: Optional[str]) -> str:
    """The absolute name of ``from {"." * level}{module} import ...`` written in ``package``."""
    if not level:
        return module or ""
    parts = package.split(".")
    parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([module] if module else []))


def imports_of(module: str, path: str, modules: Set[str]) -> List[Tuple[str, List[str]]]:
    """What ``module`` imports, as (dotted name, names imported from it): ``import a.b`` -> ("a.b", []);
    ``from a import b, c`` -> ("a", ["b", "c"]); a ``_LAZY`` entry "X": ".m" -> ("<package>.m", ["X"])."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found: List[Tuple[str, List[str]]] = []
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        else:
            assert isinstance(node, ast.ImportFrom)
            found.append((_resolve(package, node.level, node.module), [alias.name for alias in node.names]))
    for name, target in _lazy_table(tree).items():
        level = len(target) - len(target.lstrip("."))
        found.append((_resolve(package, level, target.lstrip(".") or None), [name]))
    return found


def imported_names(module: str, path: str, modules: Set[str]) -> List[str]:
    """The dotted names ``module`` imports (a submodule when ``from package import submodule``)."""
    names = []
    for base, imported in imports_of(module, path, modules):
        if not imported:
            names.append(base)
        for name in imported:
            candidate = f"{base}.{name}"
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
    assert "credentials.kms.client" in graph["credentials.kms"], "the _LAZY table was missed"
    assert "credentials.kms.errors" in graph["credentials.kms.dedicated.gateway"], "`from ..errors import` was missed"


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


def subpackages(files: Dict[str, str]) -> List[str]:
    """Every folder with an ``__init__.py`` below the two top packages."""
    return sorted(m for m, path in files.items() if path.endswith("__init__.py") and m not in PACKAGES)


def public_names(package: str, files: Dict[str, str]) -> Set[str]:
    """A package's public names: its ``__init__``'s ``__all__`` (a list of strings, ``*_LAZY`` standing for the
    names of its lazy table)."""
    with open(files[package], encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            assert isinstance(node.value, ast.List), f"{package}.__all__ is a list literal"
            names: Set[str] = set()
            for item in node.value.elts:
                lazy = isinstance(item, ast.Starred) and isinstance(item.value, ast.Name) and item.value.id == "_LAZY"
                names.update(_lazy_table(tree) if lazy else [ast.literal_eval(item)])
            return names
    return set()


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def reaches_into_subpackages(files: Dict[str, str]) -> List[str]:
    """Every import that enters a subpackage from outside other than through its public names."""
    found = []
    folders = subpackages(files)
    for module, path in sorted(files.items()):
        for base, names in imports_of(module, path, set(files)):
            for folder in folders:
                if _inside(module, folder) or not _inside(base, folder):
                    continue
                if base != folder:  # a module inside the folder, by its dotted name
                    found.append(f"{module} imports {base} (use `from {folder} import ...`)")
                else:
                    hidden = sorted(set(names) - public_names(folder, files))
                    if hidden:
                        found.append(f"{module} imports {', '.join(hidden)} from {folder}, not in its __all__")
                break
    return found


def test_a_subpackage_is_entered_only_through_its_public_names():
    files = module_files()
    assert subpackages(files), "no subpackage found: the rule would check nothing"
    offending = reaches_into_subpackages(files)
    assert not offending, "a subpackage's modules are its own; import its public names:\n" + "\n".join(offending)


def test_every_public_name_of_a_package_is_there():
    """``__all__`` and the ``_LAZY`` tables name things that exist (a rename that forgot the table fails here)."""
    import importlib

    files = module_files()
    for package in [*PACKAGES, *subpackages(files)]:
        if package.startswith("proxy.oss_v2"):
            continue  # the .[oss-v2] extra: tests/test_packaging.py covers its names with and without the SDK
        with open(files[package], encoding="utf-8") as handle:
            lazy = _lazy_table(ast.parse(handle.read()))
        assert set(lazy) <= public_names(package, files), f"{package}: a _LAZY name missing from __all__"
        loaded = importlib.import_module(package)
        for name in public_names(package, files):
            assert getattr(loaded, name, None) is not None, f"{package}.__all__ names {name}, which is not there"


def test_the_public_names_rule_finds_a_reach(tmp_path, monkeypatch):
    """The rule itself: a module that imports ``credentials.kms.client`` from outside ``credentials/kms/`` is found."""
    files = module_files()
    reach = tmp_path / "reach.py"
    reach.write_text("from credentials.kms.client import KmsClient\nfrom credentials.kms import exception_chain\n")
    files["credentials.reach"] = str(reach)
    found = reaches_into_subpackages(files)
    assert any("credentials.reach imports credentials.kms.client" in line for line in found), found
    assert any("exception_chain from credentials.kms" in line for line in found), found
