"""Settings classes read from source: their fields, and the values a ``.env`` file gives them.

A pydantic-settings class (``BaseSettings``, directly or through the
project's own base classes) fills each field from the environment variable
of the same name, ``env_prefix`` first and case ignored, or from the field's
alias; with ``env_file`` set (in ``model_config`` or ``class Config``), from
that file too, which wins over the default written in the code. A
hand-written class's fields are its ``self.x = ...`` assignments.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ._dotenv import read_env_file

if TYPE_CHECKING:
    from ._scan import Project
    from ._scan_source import SourceModule

__all__ = [
    "SETTINGS_BASES",
    "EnvValue",
    "SettingsClass",
    "env_lookup",
    "keyword_arg",
    "settings_classes",
]

SETTINGS_BASES = frozenset(
    {"pydantic_settings.BaseSettings", "pydantic.BaseSettings", "pydantic.v1.BaseSettings"}
)
_VALIDATORS = frozenset({"validator", "field_validator", "root_validator", "model_validator"})
Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class EnvValue:
    """A variable's value in an env file: ``file`` is relative to the project."""

    var: str
    value: str
    file: str


@dataclass
class SettingsClass:
    """One class of the project that holds settings, with its project base classes."""

    module: SourceModule
    node: ast.ClassDef
    chain: list[tuple[SourceModule, ast.ClassDef]]  # the class first, then its bases
    pydantic: bool

    @property
    def name(self) -> str:
        return self.node.name

    def field(self, attr: str) -> tuple[SourceModule, ast.stmt, ast.expr | None] | None:
        """Where ``attr`` is assigned (class body or ``self.attr = ...``), nearest class first."""
        for module, cls in self.chain:
            for node in ast.walk(cls):
                if isinstance(node, ast.AnnAssign) and _is_named(node.target, attr):
                    return module, node, node.value
                if isinstance(node, ast.Assign) and any(_is_named(t, attr) for t in node.targets):
                    return module, node, node.value
        return None

    def method(self, attr: str) -> tuple[SourceModule, Function] | None:
        """A method called ``attr``: a ``@property`` or ``@computed_field`` building a value."""
        for module, cls in self.chain:
            for node in cls.body:
                if isinstance(node, Function) and node.name == attr:
                    return module, node
        return None

    def validators(self, attr: str) -> Iterator[tuple[SourceModule, Function]]:
        """Validators of ``attr``: ``@validator("attr")``, ``@field_validator`` or model-wide."""
        for module, cls in self.chain:
            for node in cls.body:
                if isinstance(node, Function) and _validates(node, attr):
                    yield module, node

    def default(self, attr: str) -> ast.expr | None:
        """The default written for ``attr``: ``x = "v"``, ``Field("v")``, ``Field(default="v")``."""
        found = self.field(attr)
        value = found[2] if found else None
        if isinstance(value, ast.Call) and _call_name(value.func) == "Field":
            return value.args[0] if value.args else keyword_arg(value, "default")
        return value

    def env_var(self, attr: str) -> str:
        """The environment variable pydantic-settings reads ``attr`` from."""
        found = self.field(attr)
        value = found[2] if found else None
        if isinstance(value, ast.Call) and _call_name(value.func) == "Field":
            for name in ("validation_alias", "alias", "env"):
                alias = keyword_arg(value, name)
                if isinstance(alias, ast.Constant) and isinstance(alias.value, str):
                    return alias.value.upper()
        return self._config_string("env_prefix").upper() + attr.upper()

    @cached_property
    def env_file_nodes(self) -> list[ast.expr]:
        """The ``env_file`` expressions of the nearest class that sets one."""
        for _module, cls in self.chain:
            value = _config_value(cls, "env_file")
            if value is not None:
                if isinstance(value, ast.Tuple | ast.List):
                    return list(value.elts)
                return [value]
        return []

    def env_files(self, root: Path) -> list[Path]:
        """The files named by ``env_file`` that exist, in the order pydantic reads them."""
        files = []
        for node in self.env_file_nodes:
            path = _env_file_path(node, self.module.path.parent, root)
            if path is not None:
                files.append(path)
        return files

    def env_value(self, attr: str, root: Path) -> EnvValue | None:
        """``attr``'s value in the class's env files (the last file wins), if any."""
        return env_lookup(self.env_var(attr), self.env_files(root), root)

    def _config_string(self, key: str) -> str:
        for _module, cls in self.chain:
            value = _config_value(cls, key)
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return value.value
        return ""


def env_lookup(var: str, files: list[Path], root: Path) -> EnvValue | None:
    """``var`` in ``files`` (names compared without case, as pydantic-settings does)."""
    found = None
    for path in files:
        values = {k.upper(): v for k, v in read_env_file(path).items()}
        if var.upper() in values:
            found = EnvValue(var, values[var.upper()], Path(os.path.relpath(path, root)).as_posix())
    return found


def settings_classes(project: Project) -> Iterator[SettingsClass]:
    """Every class of the project, pydantic-settings ones marked as such."""
    for module in project.modules.values():
        for cls in module.classes.values():
            chain = _chain(project, module, cls, depth=0)
            pydantic = any(
                project.qualname(base, owner) in SETTINGS_BASES
                for owner, klass in chain
                for base in klass.bases
            )
            yield SettingsClass(module, cls, chain, pydantic)


def _chain(
    project: Project, module: SourceModule, cls: ast.ClassDef, depth: int
) -> list[tuple[SourceModule, ast.ClassDef]]:
    chain = [(module, cls)]
    if depth > 8:
        return chain
    for base in cls.bases:
        qualname = project.qualname(base, module)
        found = project.lookup(qualname) if qualname else None
        if found is not None and found[1] in found[0].classes:
            owner, name = found
            chain += _chain(project, owner, owner.classes[name], depth + 1)
    return chain


def _config_value(cls: ast.ClassDef, key: str) -> ast.expr | None:
    """``key`` in ``model_config = SettingsConfigDict(...)``/``{...}`` or ``class Config``."""
    for node in cls.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_is_named(t, "model_config") for t in targets):
                return _mapping_value(node.value, key)
        if isinstance(node, ast.ClassDef) and node.name == "Config":
            for item in node.body:
                if isinstance(item, ast.Assign) and any(_is_named(t, key) for t in item.targets):
                    return item.value
    return None


def _mapping_value(node: ast.expr, key: str) -> ast.expr | None:
    if isinstance(node, ast.Call):
        return keyword_arg(node, key)
    if isinstance(node, ast.Dict):
        for k, v in zip(node.keys, node.values, strict=True):
            if isinstance(k, ast.Constant) and k.value == key:
                return v
    return None


def _env_file_path(node: ast.expr, folder: Path, root: Path) -> Path | None:
    """The file an ``env_file`` value names: relative to where the app runs, else the module.

    pydantic-settings opens a relative name from the working directory (the
    project, when tests run); ``Path(__file__).parent / ".env"`` and the like
    are found by their last string part, looked for from the module's folder up.
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        path = root / node.value  # "../.env" too: a repository's .env above the project
        return path if path.is_file() else None
    names = [
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and ".env" in n.value
    ]
    if not names:
        return None
    name = names[-1].lstrip("/")
    candidates = [parent / name for parent in (folder, *folder.parents)]
    candidates = [c for c in candidates if c.is_relative_to(root)] + [root / name]
    return next((c for c in candidates if c.is_file()), None)


def _validates(function: Function, attr: str) -> bool:
    for decorator in function.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        name = _call_name(call.func if call else decorator)
        if name not in _VALIDATORS:
            continue
        if name in ("root_validator", "model_validator"):
            return True
        fields = [a.value for a in (call.args if call else []) if isinstance(a, ast.Constant)]
        if attr in fields:
            return True
    return False


def _call_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_named(node: ast.expr, attr: str) -> bool:
    """``attr`` or ``self.attr``."""
    if isinstance(node, ast.Name):
        return node.id == attr
    return (
        isinstance(node, ast.Attribute)
        and node.attr == attr
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


def keyword_arg(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)
