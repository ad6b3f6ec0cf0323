"""Which module the ``models`` setting should name so that importing it registers every table.

A table joins its Base's ``metadata`` only when the module defining it is
imported. SQLModel keeps one metadata for all its tables, so
``sqlmodel:SQLModel`` alone would build an empty schema; a Base in ``db.py``
whose tables live in ``models.py`` (the classic FastAPI layout) has the same
problem. The setting therefore names the Base (or ``SQLModel``) through a
module whose imports, followed through the project, reach every module that
defines a table: a module defining tables first, then one named like models,
then the one that imports the least.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._scan_names import SQLMODEL

if TYPE_CHECKING:
    from ._scan import Project
    from ._scan_source import SourceModule

__all__ = [
    "ModelsChoice",
    "Tables",
    "base_models",
    "choose_models_module",
    "import_closure",
    "is_below",
    "sqlmodel_models",
    "tables_of",
]

Table = tuple["SourceModule", ast.ClassDef]


@dataclass(frozen=True)
class Tables:
    """The table classes under one metadata root (a Base, or ``SQLModel``)."""

    roots: frozenset[str]  # qualified names whose metadata holds the tables
    classes: tuple[Table, ...]

    @property
    def modules(self) -> set[str]:
        return {module.name for module, _ in self.classes}


@dataclass(frozen=True)
class ModelsChoice:
    """``module:attr`` to name in ``models``, and the table modules its import misses."""

    target: str
    where: str
    tables: int
    missing: tuple[str, ...] = ()

    @property
    def note(self) -> str | None:
        """What to tell the user when importing the module does not reach every table."""
        if not self.missing:
            return None
        module = self.target.partition(":")[0]
        return (
            f"{module} does not import {', '.join(self.missing)}: the tables defined there "
            "are built only if a test or conftest.py imports them"
        )


def sqlmodel_models(project: Project) -> ModelsChoice | None:
    """Where to name ``SQLModel`` so that its one metadata holds the project's tables."""
    return choose_models_module(project, tables_of(project, SQLMODEL, sqlmodel=True))


def base_models(project: Project, target: str) -> ModelsChoice | None:
    """Where to name the Base ``target`` when its own module does not import its tables."""
    module_name, _, name = target.partition(":")
    tables = tables_of(project, frozenset({f"{module_name}.{name}"}), sqlmodel=False)
    own = project.modules.get(module_name)
    if own is None or tables.modules <= import_closure(project, own):
        return None
    return choose_models_module(project, tables)


def tables_of(project: Project, roots: frozenset[str], sqlmodel: bool) -> Tables:
    """Every class below ``roots`` that is a table (SQLModel's need ``table=True``)."""
    found: list[Table] = []
    for module in project.modules.values():
        for cls in module.classes.values():
            if _is_table(cls, sqlmodel) and _reaches(project, module, cls, roots, depth=0):
                found.append((module, cls))
    return Tables(roots, tuple(found))


def choose_models_module(project: Project, tables: Tables) -> ModelsChoice | None:
    """The module to name (with the root's name there), or None without tables."""
    if not tables.classes:
        return None
    wanted = tables.modules
    best: tuple[tuple[int, int, int, int, str], ModelsChoice] | None = None
    for module in project.modules.values():
        attr = _root_name(project, module, tables)
        if attr is None:
            continue
        closure = import_closure(project, module)
        missing = tuple(sorted(wanted - closure))
        rank = (
            len(missing),
            0 if module.name in wanted else 1,
            0 if "model" in module.name.lower() else 1,
            len(closure),
            module.name,
        )
        if best is None or rank < best[0]:
            where = _where(module, tables)
            choice = ModelsChoice(f"{module.name}:{attr}", where, len(tables.classes), missing)
            best = (rank, choice)
    return best[1] if best else None


def import_closure(project: Project, module: SourceModule) -> set[str]:
    """The project modules that importing ``module`` runs (its packages' ``__init__`` too)."""
    seen: set[str] = set()
    todo = [module.name, *_parents(module.name)]
    while todo:
        name = todo.pop()
        if name in seen or name not in project.modules:
            continue
        seen.add(name)
        for imported in project.modules[name].imported_modules:
            todo += [imported, *_parents(imported)]
    return seen


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _is_table(cls: ast.ClassDef, sqlmodel: bool) -> bool:
    if sqlmodel:
        return any(
            k.arg == "table" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in cls.keywords
        )
    return not any(_assigns(node, "__abstract__") for node in cls.body)


def _assigns(node: ast.stmt, name: str) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else []
    if isinstance(node, ast.AnnAssign):
        targets = [node.target]
    return any(isinstance(t, ast.Name) and t.id == name for t in targets)


def _reaches(
    project: Project, module: SourceModule, cls: ast.ClassDef, roots: frozenset[str], depth: int
) -> bool:
    """Whether a base of ``cls``, followed through the project's classes, is one of ``roots``."""
    if depth > 8:
        return False
    for base in cls.bases:
        qualname = project.qualname(base, module)
        if qualname is None:
            continue
        if qualname in roots:
            return True
        found = project.lookup(qualname)
        if found is None:
            continue
        owner, name = found
        if f"{owner.name}.{name}" in roots:
            return True
        parent = owner.classes.get(name)
        if parent is not None and _reaches(project, owner, parent, roots, depth + 1):
            return True
    return False


def _root_name(project: Project, module: SourceModule, tables: Tables) -> str | None:
    """A name in ``module`` for the root, else for a class below it (same ``.metadata``)."""
    for root in sorted(tables.roots):
        for local, qualname in module.imports.items():  # SQLModel, sqlmodel.SQLModel, db.Base
            if root == qualname or root.startswith(f"{qualname}."):
                return local + root[len(qualname) :]
        if root.rpartition(".")[0] == module.name and root.rpartition(".")[2] in module.classes:
            return root.rpartition(".")[2]
    for owner, cls in tables.classes:
        if owner is module:
            for base in cls.bases:  # as the module writes it: ``Base``, ``db.Base``
                if is_below(project, project.qualname(base, module), tables.roots):
                    return ast.unparse(base)
    for local, qualname in module.imports.items():
        if is_below(project, qualname, tables.roots):
            return local
    return None


def is_below(project: Project, qualname: str | None, roots: frozenset[str]) -> bool:
    """Whether ``qualname`` is one of ``roots`` or a project class below one of them."""
    if qualname is None:
        return False
    if qualname in roots:
        return True
    found = project.lookup(qualname)
    if found is None:
        return False
    owner, name = found
    if f"{owner.name}.{name}" in roots:
        return True
    cls = owner.classes.get(name)
    return cls is not None and _reaches(project, owner, cls, roots, depth=0)


def _where(module: SourceModule, tables: Tables) -> str:
    lines = [module.line(cls) for owner, cls in tables.classes if owner is module]
    return lines[0] if lines else module.where
