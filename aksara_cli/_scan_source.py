"""Reading a project's Python files for ``aksara init``: parsed with :mod:`ast`, never run.

Tests, docs, virtualenvs and build output are skipped, and an Alembic script
folder is noted instead of read (its code is not the app's). Each module is
indexed by its top-level names, which :mod:`._scan` resolves across modules.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SourceModule", "alembic_inis", "folders_to_walk", "read_modules", "relative"]

# Folders that never hold the app: tests, docs, virtualenvs, build output.
_SKIP_DIRS = frozenset(
    {"tests", "test", "docs", "node_modules", "build", "dist", "site-packages", "__pycache__"}
)


@dataclass
class SourceModule:
    """One parsed module: its top-level imports, assignments, classes and functions by name."""

    name: str
    path: Path
    where: str
    tree: ast.Module
    imports: dict[str, str] = field(default_factory=dict)
    assigned: dict[str, ast.expr] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    imported_modules: set[str] = field(default_factory=set)  # what its top-level imports name

    def line(self, node: ast.AST) -> str:
        return f"{self.where}:{getattr(node, 'lineno', 0)}"


def _python_files(root: Path, alembic_folders: list[str]) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if "script.py.mako" in files:  # an Alembic script folder: its code is not the app's
            alembic_folders.append(relative(here, root))
            dirs[:] = []
            continue
        dirs[:] = folders_to_walk(here, dirs, _SKIP_DIRS)
        for name in sorted(files):
            if name.endswith(".py") and not _is_test_file(name):
                yield here / name


def folders_to_walk(here: Path, dirs: list[str], skip: frozenset[str]) -> list[str]:
    """The sub-folders of ``here`` worth reading, sorted: no dot folder, virtualenv or ``skip``."""
    return sorted(
        d
        for d in dirs
        if not d.startswith(".") and d not in skip and not (here / d / "pyvenv.cfg").exists()
    )


def _is_test_file(name: str) -> bool:
    return name.startswith("test_") or name.endswith("_test.py") or name in _NOT_APP_FILES


_NOT_APP_FILES = frozenset({"conftest.py", "setup.py", "noxfile.py"})


def read_modules(root: Path, alembic_folders: list[str]) -> Iterator[SourceModule]:
    """Every Python module under ``root`` that parses, in folder order.

    Alembic script folders met on the way are added to ``alembic_folders``
    (relative to ``root``) instead of being read.
    """
    for path in _python_files(root, alembic_folders):
        name = _module_name(path, root)
        if name is None:
            continue
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError, RecursionError, OSError):
            continue  # not ours to judge; the import check in `aksara doctor` will say
        module = SourceModule(name, path, relative(path, root), tree)
        _index(module)
        yield module


def _module_name(path: Path, root: Path) -> str | None:
    relative = path.relative_to(root)
    if relative.parts[0] == "src" and len(relative.parts) > 1:
        relative = relative.relative_to("src")
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)


def relative(path: Path, root: Path) -> str:
    """``path`` under ``root`` as written in pyproject.toml: with forward slashes."""
    return path.relative_to(root).as_posix()


def _index(module: SourceModule) -> None:
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    for node in module.tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                module.imports[local] = alias.name if alias.asname else local
                module.imported_modules.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            module.imported_modules.add(base)
            for alias in node.names:
                module.imports[alias.asname or alias.name] = f"{base}.{alias.name}"
                module.imported_modules.add(f"{base}.{alias.name}")  # when it is a module
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    module.assigned.setdefault(target.id, node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            module.assigned.setdefault(node.target.id, node.value)
        elif isinstance(node, ast.ClassDef):
            module.classes[node.name] = node
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            module.functions[node.name] = node


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".") if package else []
    if node.level > 1:
        parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, *([node.module] if node.module else [])])


def alembic_inis(root: Path) -> list[str]:
    """The ``alembic.ini`` files at the root or one folder down, relative to ``root``."""
    found = sorted(root.glob("alembic.ini")) + sorted(root.glob("*/alembic.ini"))
    return [relative(p, root) for p in found]
