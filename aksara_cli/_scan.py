"""Find an app's parts by reading its source with :mod:`ast`: nothing is imported or run.

``aksara init`` uses this to fill in ``[tool.aksara]``. Names are resolved
through each module's imports, so ``from fastapi import FastAPI as F`` and
``import fastapi; fastapi.FastAPI()`` are both seen as FastAPI.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ._scan_models import base_models, is_below, sqlmodel_models
from ._scan_names import (
    APP_CLASSES,
    ASYNC_CLASS_MAKER,
    ASYNC_ENGINE_FUNCTIONS,
    ASYNC_SESSION_CLASSES,
    BASE_CLASSES,
    BASE_FUNCTIONS,
    ENGINE_FUNCTIONS,
    SCOPED_SESSIONS,
    SESSION_CLASSES,
    SESSIONMAKERS,
    SYNC_ENGINE_FUNCTIONS,
    SYNC_SESSIONMAKERS,
)
from ._scan_source import SourceModule, alembic_inis, read_modules
from ._scan_url import UrlFinder, UrlSource, keyword_arg

__all__ = ["Found", "Project", "Scan", "SourceModule", "UrlSource", "scan"]


@dataclass(frozen=True)
class Found:
    """One candidate: ``target`` (``module:attr``, or a path) and where it was seen."""

    target: str
    where: str
    what: str
    params: tuple[str, ...] = ()  # app factories: the arguments without defaults


@dataclass
class Scan:
    """Everything found in one project."""

    root: Path
    files: int = 0
    src_layout: bool = False
    apps: list[Found] = field(default_factory=list)
    factories: list[Found] = field(default_factory=list)
    models: list[Found] = field(default_factory=list)
    sessions: list[Found] = field(default_factory=list)
    sync_sessions: list[Found] = field(default_factory=list)  # sessionmaker, scoped_session
    engines: list[Found] = field(default_factory=list)  # module-level create_engine()
    async_engines: list[Found] = field(default_factory=list)  # module-level create_async_engine()
    async_calls: int = 0  # create_async_engine(), async_sessionmaker()... calls anywhere
    sync_calls: int = 0  # create_engine(), sessionmaker() calls anywhere
    session_classes: list[Found] = field(default_factory=list)  # Session(engine) calls
    auths: list[Found] = field(default_factory=list)
    migrations: list[Found] = field(default_factory=list)
    url: UrlSource | None = None
    package: str | None = None  # the first top-level package, for a fallback database name
    models_note: str | None = None  # table modules the chosen models module does not import

    @property
    def kind(self) -> Literal["async", "sync"]:
        """``sync`` for an app on sync SQLAlchemy: nothing async, and a sync engine or session.

        Anything async (an ``async_sessionmaker``, an ``AsyncEngine``, even one
        built inside a function) keeps the project async, configured as before.
        """
        if self.sessions or self.async_engines or self.async_calls:
            return "async"
        sync_makers = [s for s in self.sync_sessions if s.what != ASYNC_CLASS_MAKER]
        sync = self.engines or sync_makers or self.session_classes or self.sync_calls
        return "sync" if sync else "async"


def scan(root: Path) -> Scan:
    """Read every Python module under ``root`` (tests and virtualenvs excepted)."""
    result = Scan(root=root, src_layout=(root / "src").is_dir())
    alembic_folders: list[str] = []
    modules = {}
    for module in read_modules(root, alembic_folders):
        result.files += 1
        if result.package is None and "." in module.name:
            result.package = module.name.split(".")[0]
        modules[module.name] = module
    project = Project(modules)
    for module in modules.values():
        project.find_in(module, result)
    result.apps = [a for a in result.apps if a.target not in project.mounted]
    inis = [Found(path, path, "alembic.ini") for path in alembic_inis(root)]
    result.migrations = inis or [Found(path, path, "Alembic") for path in alembic_folders]
    result.url = UrlFinder(project, root).find(project.engine_urls)
    result.session_classes = list({f.target: f for f in reversed(result.session_classes)}.values())
    result.session_classes.reverse()  # one per class, where it is first called
    _find_models(project, result)
    return result


def _find_models(project: Project, result: Scan) -> None:
    """SQLModel's tables; in a sync project, a Base named through the module of its tables.

    An async project's Base is named where it is defined, as before.
    """
    if result.kind == "sync":
        result.models = [_with_tables(project, result, found) for found in result.models]
    choice = sqlmodel_models(project)
    if choice is not None:
        count = f"{choice.tables} SQLModel table{'s' if choice.tables > 1 else ''}"
        result.models.append(Found(choice.target, choice.where, f"metadata of {count}, first"))
        result.models_note = choice.note


def _with_tables(project: Project, result: Scan, found: Found) -> Found:
    choice = base_models(project, found.target)
    if choice is None:
        return found
    result.models_note = choice.note
    count = f"{choice.tables} table{'s' if choice.tables > 1 else ''}"
    return Found(choice.target, choice.where, f"{found.what} at {found.where}, with its {count}")


# -- resolving names --------------------------------------------------------------------


class Project:
    """All modules of the project, with name resolution across them."""

    def __init__(self, modules: dict[str, SourceModule]) -> None:
        self.modules = modules
        self.mounted: set[str] = set()
        self.engine_urls: list[tuple[SourceModule, ast.expr]] = []

    def qualname(self, node: ast.expr, module: SourceModule) -> str | None:
        """``fastapi.FastAPI`` for ``FastAPI`` imported from fastapi, ``pkg.mod.x`` for locals."""
        if isinstance(node, ast.Name):
            if node.id in module.imports:
                return module.imports[node.id]
            return f"{module.name}.{node.id}"
        if isinstance(node, ast.Attribute):
            base = self.qualname(node.value, module)
            return f"{base}.{node.attr}" if base else None
        return None

    def lookup(self, qualname: str) -> tuple[SourceModule, str] | None:
        """The project module and top-level name a qualified name points at."""
        module_name, _, name = qualname.rpartition(".")
        module = self.modules.get(module_name)
        if module is None:
            return None
        if name in module.imports and module.imports[name] != qualname:
            return self.lookup(module.imports[name])  # re-exported
        return module, name

    def target(self, module: SourceModule, name: str) -> str:
        return f"{module.name}:{name}"

    # -- what each module holds --------------------------------------------------------

    def find_in(self, module: SourceModule, result: Scan) -> None:
        for name, value in module.assigned.items():
            self._assignment(module, name, value, result)
        for name, cls in module.classes.items():
            if any(self.qualname(b, module) in BASE_CLASSES for b in cls.bases):
                result.models.append(
                    Found(self.target(module, name), module.line(cls), "DeclarativeBase subclass")
                )
        for name, function in module.functions.items():
            self._function(module, name, function, result)
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call):
                self._call(module, node, result)

    def _assignment(self, module: SourceModule, name: str, value: ast.expr, result: Scan) -> None:
        if not isinstance(value, ast.Call):
            return
        called = self.qualname(value.func, module)
        target = self.target(module, name)
        if called in APP_CLASSES:
            what = f"{called.rpartition('.')[2]}()"
            result.apps.append(Found(target, module.line(value), what))
        elif called in BASE_FUNCTIONS:
            result.models.append(Found(target, module.line(value), "declarative_base()"))
        elif called in SESSIONMAKERS:
            result.sessions.append(Found(target, module.line(value), "async_sessionmaker"))
        elif called in SYNC_SESSIONMAKERS:
            is_async = is_below(self, self._class_arg(value, module), ASYNC_SESSION_CLASSES)
            what = ASYNC_CLASS_MAKER if is_async else "sessionmaker"
            result.sync_sessions.append(Found(target, module.line(value), what))
        elif called in SCOPED_SESSIONS:
            result.sync_sessions.append(Found(target, module.line(value), "scoped_session"))
        elif called in SYNC_ENGINE_FUNCTIONS:
            result.engines.append(Found(target, module.line(value), "create_engine()"))
        elif called in ASYNC_ENGINE_FUNCTIONS:
            result.async_engines.append(Found(target, module.line(value), "create_async_engine()"))
        elif called and self._is_factory(called):
            what = f"{called.rpartition('.')[2]}()"
            result.apps.append(Found(target, module.line(value), what))

    def _class_arg(self, call: ast.Call, module: SourceModule) -> str | None:
        class_ = keyword_arg(call, "class_")
        return self.qualname(class_, module) if class_ is not None else None

    def _session_class(self, called: str) -> str | None:
        """The ``module:attr`` of the Session class ``called`` names, if it is one."""
        if called in SESSION_CLASSES:
            return SESSION_CLASSES[called]
        found = self.lookup(called)
        if found is None or found[1] not in found[0].classes:
            return None
        if is_below(self, called, frozenset(SESSION_CLASSES)):
            return self.target(*found)
        return None

    def _is_factory(self, qualname: str) -> bool:
        found = self.lookup(qualname)
        if found is None:
            return False
        module, name = found
        function = module.functions.get(name)
        return function is not None and self._returns_app(module, function)

    def _function(
        self,
        module: SourceModule,
        name: str,
        function: ast.FunctionDef | ast.AsyncFunctionDef,
        result: Scan,
    ) -> None:
        target = self.target(module, name)
        where = module.line(function)
        if self._returns_app(module, function):
            what = (
                "async app factory" if isinstance(function, ast.AsyncFunctionDef) else "app factory"
            )
            result.factories.append(Found(target, where, what, _required_params(function.args)))
        positional = [*function.args.posonlyargs, *function.args.args]
        if "token" in name.lower() and positional and positional[0].arg == "user":
            result.auths.append(Found(target, where, "user -> token"))

    def _returns_app(
        self, module: SourceModule, function: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> bool:
        if function.returns is not None and self.qualname(function.returns, module) in APP_CLASSES:
            return True
        local_apps: set[str] = set()
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and self._is_app_call(node.value, module):
                local_apps |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            if isinstance(node, ast.Return) and node.value is not None:
                if self._is_app_call(node.value, module):
                    return True
                if isinstance(node.value, ast.Name) and node.value.id in local_apps:
                    return True
        return False

    def _is_app_call(self, node: ast.expr, module: SourceModule) -> bool:
        return isinstance(node, ast.Call) and self.qualname(node.func, module) in APP_CLASSES

    def _call(self, module: SourceModule, node: ast.Call, result: Scan) -> None:
        called = self.qualname(node.func, module) or ""
        if called in SYNC_SESSIONMAKERS:
            is_async = is_below(self, self._class_arg(node, module), ASYNC_SESSION_CLASSES)
            if is_async:
                result.async_calls += 1
            else:
                result.sync_calls += 1
        elif called in ASYNC_ENGINE_FUNCTIONS or called in SESSIONMAKERS:
            result.async_calls += 1
        elif called in SYNC_ENGINE_FUNCTIONS:
            result.sync_calls += 1
        if called in ENGINE_FUNCTIONS:
            url = node.args[0] if node.args else keyword_arg(node, "url")
            if url is not None:
                self.engine_urls.append((module, url))
            return
        session_class = self._session_class(called)
        if session_class is not None and (node.args or keyword_arg(node, "bind")):
            what = f"{called.rpartition('.')[2]}(engine) call"
            result.session_classes.append(Found(session_class, module.line(node), what))
            return
        # A sub-application mounted into another is not the app to test.
        if called.endswith((".mount", ".Mount", ".Host")) or called in ("Mount", "Host"):
            for arg in [*node.args[1:], *(k.value for k in node.keywords if k.arg == "app")]:
                mounted = self.qualname(arg, module) if isinstance(arg, ast.Name) else None
                if mounted:
                    found = self.lookup(mounted)
                    if found:
                        self.mounted.add(self.target(*found))


def _required_params(args: ast.arguments) -> tuple[str, ...]:
    """The names of the arguments a call must give (no default, not ``*args``/``**kw``)."""
    positional = [*args.posonlyargs, *args.args]
    without_default = positional[: len(positional) - len(args.defaults)]
    keyword_only = [a for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None]
    return tuple(a.arg for a in [*without_default, *keyword_only])
