"""The package's shape: no import cycles, one door to the database code, small modules.

These read the source (``ast``), so a cycle hidden in a function-level import
counts as much as one at the top of a module; only ``if TYPE_CHECKING:``
blocks are left out, as they never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aksara_testing

PACKAGE = Path(aksara_testing.__file__).parent
CLI = PACKAGE.parent / "aksara_cli"
MAX_LINES = 420  # "about 400": a module past this has two concepts in it


def _modules(root: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules(PACKAGE)


def _facade_homes() -> dict[str, str]:
    """``_db/__init__``'s table: each name it hands out and the submodule that defines it."""
    tree = ast.parse((PACKAGE / "_db" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "_HOME":
            return ast.literal_eval(node.value)  # type: ignore[arg-type]
    raise AssertionError("aksara_testing/_db/__init__.py has no _HOME table")


HOMES = _facade_homes()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == (
        "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The modules of ours that ``node``, in ``module``, makes Python import."""
    if isinstance(node, ast.Import):
        yield from (a.name for a in node.names if a.name.split(".")[0] == "aksara_testing")
        return
    if node.level:
        base = module.split(".")
        if path.name != "__init__.py":
            base.pop()
        base = base[: len(base) - (node.level - 1)]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    if source.split(".")[0] != "aksara_testing":
        return
    for alias in node.names:
        if f"{source}.{alias.name}" in MODULES:
            yield f"{source}.{alias.name}"
        elif source == "aksara_testing._db" and alias.name in HOMES:
            yield f"aksara_testing._db.{HOMES[alias.name]}"  # what the facade loads
        else:
            yield source


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for module, path in MODULES.items():
        for node in _imports(ast.parse(path.read_text())):
            for target in _targets(module, path, node):
                parts = target.split(".")
                for i in range(2, len(parts) + 1):  # importing a.b.c imports a.b first
                    imported = ".".join(parts[:i])
                    inside = imported == module or module.startswith(imported + ".")
                    if imported in MODULES and not inside:
                        graph[module].add(imported)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_context_is_a_leaf() -> None:
    assert _graph()["aksara_testing._context"] == set()


def test_database_code_is_reached_through_the_facade_only() -> None:
    """Outside ``_db``, code imports ``aksara_testing._db`` itself, never its submodules."""
    offenders = []
    for root in (PACKAGE, CLI):
        for module, path in _modules(root).items():
            if module.startswith("aksara_testing._db"):
                continue
            for node in _imports(ast.parse(path.read_text())):
                named = node.module if isinstance(node, ast.ImportFrom) else None
                names = [a.name for a in node.names]
                if isinstance(node, ast.ImportFrom) and node.level:
                    named = "." * node.level + (node.module or "")
                for spelled in [named, *names]:
                    if spelled and "_db." in spelled:
                        offenders.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    assert offenders == []


def test_every_facade_name_is_defined_where_the_table_says() -> None:
    import importlib

    for name, home in HOMES.items():
        module = importlib.import_module(f"aksara_testing._db.{home}")
        assert hasattr(module, name), f"_db.{home} does not define {name}"


def test_starting_pytest_with_the_plugin_imports_no_database_library() -> None:
    code = (
        "import sys, aksara_testing, aksara_testing.plugin, aksara_testing.fixtures;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'sqlalchemy', 'alembic', 'aiosqlite', 'asyncpg', 'faker', 'httpx'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_module_is_over_about_400_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE.parent)): lines
        for path in [*PACKAGE.rglob("*.py"), *CLI.rglob("*.py")]
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
