"""Find an app's parts by reading its source with :mod:`ast`: nothing is imported or run.

``aksara init`` uses this to fill in ``[tool.aksara]``. Names are resolved
through each module's imports, so ``from fastapi import FastAPI as F`` and
``import fastapi; fastapi.FastAPI()`` are both seen as FastAPI.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Found", "Scan", "UrlSource", "scan"]

APP_CLASSES = frozenset(
    {
        "fastapi.FastAPI",
        "fastapi.applications.FastAPI",
        "starlette.applications.Starlette",
        "litestar.Litestar",
        "litestar.app.Litestar",
    }
)
BASE_CLASSES = frozenset(
    {
        "sqlalchemy.orm.DeclarativeBase",
        "sqlalchemy.orm.DeclarativeBaseNoMeta",
        "sqlalchemy.orm.decl_api.DeclarativeBase",
    }
)
BASE_FUNCTIONS = frozenset(
    {"sqlalchemy.orm.declarative_base", "sqlalchemy.ext.declarative.declarative_base"}
)
SESSIONMAKERS = frozenset(
    {
        "sqlalchemy.ext.asyncio.async_sessionmaker",
        "sqlalchemy.ext.asyncio.session.async_sessionmaker",
    }
)
SYNC_SESSIONMAKERS = frozenset({"sqlalchemy.orm.sessionmaker"})
ENGINE_FUNCTIONS = frozenset(
    {
        "sqlalchemy.ext.asyncio.create_async_engine",
        "sqlalchemy.ext.asyncio.engine.create_async_engine",
        "sqlalchemy.create_engine",
    }
)
SETTINGS_BASES = frozenset({"pydantic_settings.BaseSettings", "pydantic.BaseSettings"})
URL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "mssql", "oracle")
URL_NAME_HINTS = ("database_url", "db_url", "database_uri", "db_uri", "dsn", "sqlalchemy_url")
# Folders that never hold the app: tests, docs, virtualenvs, build output.
SKIP_DIRS = frozenset(
    {"tests", "test", "docs", "node_modules", "build", "dist", "site-packages", "__pycache__"}
)


@dataclass(frozen=True)
class Found:
    """One candidate: ``target`` (``module:attr``, or a path) and where it was seen."""

    target: str
    where: str
    what: str
    required_args: int = 0  # app factories: arguments without defaults


@dataclass(frozen=True)
class UrlSource:
    """Where the app's database URL comes from: a literal, an env var, or both."""

    url: str | None
    env_var: str | None
    where: str
    what: str


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
    sync_sessions: list[Found] = field(default_factory=list)
    auths: list[Found] = field(default_factory=list)
    migrations: list[Found] = field(default_factory=list)
    url: UrlSource | None = None
    package: str | None = None  # the first top-level package, for a fallback database name


@dataclass
class _Module:
    name: str
    path: Path
    where: str
    tree: ast.Module
    imports: dict[str, str] = field(default_factory=dict)
    assigned: dict[str, ast.expr] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)

    def line(self, node: ast.AST) -> str:
        return f"{self.where}:{getattr(node, 'lineno', 0)}"


def scan(root: Path) -> Scan:
    """Read every Python module under ``root`` (tests and virtualenvs excepted)."""
    result = Scan(root=root, src_layout=(root / "src").is_dir())
    modules = {m.name: m for m in _read_modules(root, result)}
    project = _Project(modules)
    for module in modules.values():
        project.find_in(module, result)
    result.apps = [a for a in result.apps if a.target not in project.mounted]
    result.migrations = _alembic_inis(root) or result.migrations
    result.url = project.database_url()
    return result


# -- reading files --------------------------------------------------------------------


def _python_files(root: Path, result: Scan) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if "script.py.mako" in files:  # an Alembic script folder: its code is not the app's
            result.migrations.append(Found(_relative(here, root), _relative(here, root), "Alembic"))
            dirs[:] = []
            continue
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in SKIP_DIRS
            and not (here / d / "pyvenv.cfg").exists()
        )
        for name in sorted(files):
            if name.endswith(".py") and not _is_test_file(name):
                yield here / name


def _is_test_file(name: str) -> bool:
    return name.startswith("test_") or name.endswith("_test.py") or name in _NOT_APP_FILES


_NOT_APP_FILES = frozenset({"conftest.py", "setup.py", "noxfile.py"})


def _read_modules(root: Path, result: Scan) -> Iterator[_Module]:
    for path in _python_files(root, result):
        name = _module_name(path, root)
        if name is None:
            continue
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError):
            continue  # not ours to judge; the import check in `aksara doctor` will say
        result.files += 1
        if result.package is None and "." in name:
            result.package = name.split(".")[0]
        module = _Module(name, path, _relative(path, root), tree)
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


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() or "."


def _index(module: _Module) -> None:
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    for node in module.tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                module.imports[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            for alias in node.names:
                module.imports[alias.asname or alias.name] = f"{base}.{alias.name}"
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


def _alembic_inis(root: Path) -> list[Found]:
    found = sorted(root.glob("alembic.ini")) + sorted(root.glob("*/alembic.ini"))
    return [Found(_relative(p, root), _relative(p, root), "alembic.ini") for p in found]


# -- resolving names --------------------------------------------------------------------


class _Project:
    """All modules of the project, with name resolution across them."""

    def __init__(self, modules: dict[str, _Module]) -> None:
        self.modules = modules
        self.mounted: set[str] = set()
        self.engine_urls: list[tuple[_Module, ast.expr]] = []

    def qualname(self, node: ast.expr, module: _Module) -> str | None:
        """``fastapi.FastAPI`` for ``FastAPI`` imported from fastapi, ``pkg.mod.x`` for locals."""
        if isinstance(node, ast.Name):
            if node.id in module.imports:
                return module.imports[node.id]
            return f"{module.name}.{node.id}"
        if isinstance(node, ast.Attribute):
            base = self.qualname(node.value, module)
            return f"{base}.{node.attr}" if base else None
        return None

    def lookup(self, qualname: str) -> tuple[_Module, str] | None:
        """The project module and top-level name a qualified name points at."""
        module_name, _, name = qualname.rpartition(".")
        module = self.modules.get(module_name)
        if module is None:
            return None
        if name in module.imports and module.imports[name] != qualname:
            return self.lookup(module.imports[name])  # re-exported
        return module, name

    def target(self, module: _Module, name: str) -> str:
        return f"{module.name}:{name}"

    # -- what each module holds --------------------------------------------------------

    def find_in(self, module: _Module, result: Scan) -> None:
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
                self._call(module, node)

    def _assignment(self, module: _Module, name: str, value: ast.expr, result: Scan) -> None:
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
            result.sync_sessions.append(Found(target, module.line(value), "sessionmaker"))
        elif called and self._is_factory(called):
            what = f"{called.rpartition('.')[2]}()"
            result.apps.append(Found(target, module.line(value), what))

    def _is_factory(self, qualname: str) -> bool:
        found = self.lookup(qualname)
        if found is None:
            return False
        module, name = found
        function = module.functions.get(name)
        return function is not None and self._returns_app(module, function)

    def _function(
        self,
        module: _Module,
        name: str,
        function: ast.FunctionDef | ast.AsyncFunctionDef,
        result: Scan,
    ) -> None:
        target = self.target(module, name)
        where = module.line(function)
        if isinstance(function, ast.FunctionDef) and self._returns_app(module, function):
            args = function.args
            required = len(args.posonlyargs) + len(args.args) - len(args.defaults)
            required += sum(d is None for d in args.kw_defaults)
            result.factories.append(Found(target, where, "app factory", required))
        positional = [*function.args.posonlyargs, *function.args.args]
        if "token" in name.lower() and positional and positional[0].arg == "user":
            result.auths.append(Found(target, where, "user -> token"))

    def _returns_app(
        self, module: _Module, function: ast.FunctionDef | ast.AsyncFunctionDef
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

    def _is_app_call(self, node: ast.expr, module: _Module) -> bool:
        return isinstance(node, ast.Call) and self.qualname(node.func, module) in APP_CLASSES

    def _call(self, module: _Module, node: ast.Call) -> None:
        called = self.qualname(node.func, module) or ""
        if called in ENGINE_FUNCTIONS:
            url = node.args[0] if node.args else _keyword(node, "url")
            if url is not None:
                self.engine_urls.append((module, url))
            return
        # A sub-application mounted into another is not the app to test.
        if called.endswith((".mount", ".Mount", ".Host")) or called in ("Mount", "Host"):
            for arg in [*node.args[1:], *(k.value for k in node.keywords if k.arg == "app")]:
                mounted = self.qualname(arg, module) if isinstance(arg, ast.Name) else None
                if mounted:
                    found = self.lookup(mounted)
                    if found:
                        self.mounted.add(self.target(*found))

    # -- the database URL --------------------------------------------------------------

    def database_url(self) -> UrlSource | None:
        """Where the URL passed to ``create_async_engine`` comes from, best guess first."""
        for module, node in self.engine_urls:
            source = self.resolve_url(node, module, depth=0)
            if source is not None:
                return source
        return self._url_by_name()

    def resolve_url(self, node: ast.expr, module: _Module, depth: int) -> UrlSource | None:
        if depth > 6:
            return None
        where = module.line(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _looks_like_url(node.value):
                return UrlSource(node.value, None, where, "literal")
            return None
        env = _env_read(node, self, module)
        if env is not None:
            var, default = env
            url = self.resolve_url(default, module, depth + 1) if default is not None else None
            what = f"default of env {var}" if url and url.url else f"env {var}, no default"
            return UrlSource(url.url if url else None, var, where, what)
        if isinstance(node, ast.Call) and node.args and _is_unwrap(node.func):
            return self.resolve_url(node.args[0], module, depth + 1)  # str(x)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args:
            return self.resolve_url(node.func.value, module, depth + 1)  # x.get_secret_value()
        if isinstance(node, ast.Name):
            found = self.lookup(self.qualname(node, module) or "")
            if found is not None:
                owner, name = found
                if name in owner.assigned:
                    return self.resolve_url(owner.assigned[name], owner, depth + 1)
            return None
        if isinstance(node, ast.Attribute):
            qualname = self.qualname(node, module)
            found = self.lookup(qualname) if qualname else None
            if found is not None and found[1] in found[0].assigned:  # config.DATABASE_URL
                return self.resolve_url(found[0].assigned[found[1]], found[0], depth + 1)
            return self._settings_field(node.attr, depth)
        return None

    def _settings_field(self, attr: str, depth: int) -> UrlSource | None:
        """A settings class attribute named ``attr``: pydantic-settings or hand-written."""
        for module in self.modules.values():
            for cls in module.classes.values():
                for node in ast.walk(cls):
                    value, found = _field_value(node, attr)
                    if found:
                        return self._field_source(module, cls, node, value, attr, depth)
        return None

    def _field_source(
        self,
        module: _Module,
        cls: ast.ClassDef,
        node: ast.AST,
        value: ast.expr | None,
        attr: str,
        depth: int,
    ) -> UrlSource | None:
        default = _field_default(value)
        source = self.resolve_url(default, module, depth + 1) if default is not None else None
        if source is not None and source.env_var:  # the field reads the environment itself
            return source
        if not any(self.qualname(b, module) in SETTINGS_BASES for b in cls.bases):
            return source
        # pydantic-settings fills a field from the env var of the same name (case-insensitive).
        var = _env_prefix(cls) + attr.upper()
        url = source.url if source is not None else None
        field = f"{cls.name}.{attr}"
        what = f"default of {field}, env {var}" if url else f"{field} from env {var}, no default"
        return UrlSource(url, var, module.line(node), what)

    def _url_by_name(self) -> UrlSource | None:
        """No engine call we could follow: a variable, env var or field named like a URL."""
        for module in self.modules.values():
            for name, value in module.assigned.items():
                if any(h in name.lower() for h in URL_NAME_HINTS):
                    source = self.resolve_url(value, module, depth=1)
                    if source is not None:
                        return source
            for node in ast.walk(module.tree):
                if not isinstance(node, ast.expr):
                    continue
                env = _env_read(node, self, module)
                if env is not None and any(h in env[0].lower() for h in URL_NAME_HINTS):
                    return self.resolve_url(node, module, depth=1)
        for hint in URL_NAME_HINTS:
            source = self._settings_field(hint, depth=1) or self._settings_field(hint.upper(), 1)
            if source is not None:
                return source
        return None


def _keyword(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def _looks_like_url(value: str) -> bool:
    scheme = value.partition("://")[0].partition("+")[0]
    return "://" in value and scheme in URL_SCHEMES


def _is_unwrap(func: ast.expr) -> bool:
    return isinstance(func, ast.Name) and func.id in ("str", "make_url")


def _env_read(
    node: ast.AST, project: _Project, module: _Module
) -> tuple[str, ast.expr | None] | None:
    """``("X", default)`` for ``os.environ["X"]``, ``os.environ.get("X", d)``, ``os.getenv``."""
    if isinstance(node, ast.Subscript):
        if project.qualname(node.value, module) == "os.environ":
            key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                return key.value, None
        return None
    if not isinstance(node, ast.Call) or not node.args:
        return None
    called = project.qualname(node.func, module)
    if called not in ("os.environ.get", "os.getenv", "os.environ.setdefault"):
        return None
    key = node.args[0]
    if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
        return None
    default = node.args[1] if len(node.args) > 1 else _keyword(node, "default")
    return key.value, default


def _field_value(node: ast.AST, attr: str) -> tuple[ast.expr | None, bool]:
    """The value of ``attr`` assigned in a class body or as ``self.attr = ...``."""
    if isinstance(node, ast.AnnAssign) and _is_named(node.target, attr):
        return node.value, True
    if isinstance(node, ast.Assign) and any(_is_named(t, attr) for t in node.targets):
        return node.value, True
    return None, False


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


def _field_default(value: ast.expr | None) -> ast.expr | None:
    """``"x"`` for ``"x"``, ``Field("x")`` and ``Field(default="x")``."""
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "Field"
    ):
        return value.args[0] if value.args else _keyword(value, "default")
    return value


def _env_prefix(cls: ast.ClassDef) -> str:
    """pydantic-settings' ``env_prefix`` (``model_config`` or ``class Config``), upper-cased."""
    for node in ast.walk(cls):
        is_keyword = isinstance(node, ast.keyword) and node.arg == "env_prefix"
        is_assign = isinstance(node, ast.Assign) and any(
            _is_named(t, "env_prefix") for t in node.targets
        )
        value = node.value if is_keyword or is_assign else None  # type: ignore[attr-defined]
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value.upper()
    return ""
