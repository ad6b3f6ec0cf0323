"""Where an app's database URL comes from, read from its source with :mod:`ast`.

Followed from the argument of ``create_async_engine``: a literal, a module
constant, ``os.environ``/``os.getenv`` (with or without a default), a field
of a settings class (pydantic-settings or hand-written), or a URL assembled
from parts (:mod:`._scan_parts`). A value in the ``.env`` file the app reads
(pydantic-settings' ``env_file``, python-dotenv's ``load_dotenv``) wins over
a default in the code, as it does when the app runs. Without an engine call
we could follow, a variable, env var or field named like a URL will do.

A password read from an env file is left out of the URL: it is a secret the
project keeps out of version control, and ``pyproject.toml`` is committed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ._scan_parts import Assembled, assemble, strip_password
from ._scan_settings import EnvValue, SettingsClass, env_lookup, keyword_arg, settings_classes

if TYPE_CHECKING:
    from ._scan import Project
    from ._scan_source import SourceModule

__all__ = ["UrlFinder", "UrlSource", "keyword_arg"]

URL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "mssql", "oracle")
URL_NAME_HINTS = ("database_url", "db_url", "database_uri", "db_uri", "dsn", "sqlalchemy_url")
_DOTENV_LOADERS = frozenset({"dotenv.load_dotenv", "dotenv.main.load_dotenv"})


@dataclass(frozen=True)
class UrlSource:
    """Where the app's database URL comes from: a literal, an env var, an env file, parts."""

    url: str | None
    env_var: str | None  # the variable the app reads the whole URL from
    where: str
    what: str
    env_file: str | None = None  # the env file the URL, or its parts, came from
    password_left_out: bool = False  # the env file's URL had a password, not copied
    missing: tuple[str, ...] = ()  # parts of an assembled URL nothing gives a value
    postgres_only: bool = False  # the code takes only a PostgreSQL URL (PostgresDsn, its scheme)
    scheme: str | None = None  # the scheme of a URL built from parts, when the code names it


class UrlFinder:
    """Resolves URL expressions across the project's modules."""

    def __init__(self, project: Project, root: Path) -> None:
        self.project = project
        self.root = root
        self.settings = list(settings_classes(project))
        self.dotenv_files, self.loads_dotenv = _dotenv_files(project, root)

    def find(self, engine_urls: list[tuple[SourceModule, ast.expr]]) -> UrlSource | None:
        """Where the URL passed to ``create_async_engine`` comes from, best guess first."""
        for module, node in engine_urls:
            source = self.resolve(node, module, depth=0)
            if source is not None:
                return source
        return self._by_name()

    def resolve(self, node: ast.expr, module: SourceModule, depth: int) -> UrlSource | None:
        if depth > 6:
            return None
        where = module.line(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _looks_like_url(node.value):
                return UrlSource(node.value, None, where, "literal")
            return None
        env = _env_read(node, self.project, module)
        if env is not None:
            return self._env_var(*env, module, where, depth)
        if isinstance(node, ast.Call) and node.args and _is_unwrap(node.func):
            return self.resolve(node.args[0], module, depth + 1)  # str(x)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args:
            return self.resolve(node.func.value, module, depth + 1)  # x.get_secret_value()
        replaced = _replaced(node)  # url.replace("postgresql://", "postgresql+asyncpg://")
        if replaced is not None:
            source = self.resolve(replaced[0], module, depth + 1)
            if source is not None and source.url:
                return replace(source, url=source.url.replace(replaced[1], replaced[2], 1))
            return source
        if isinstance(node, ast.Name):
            found = self.project.lookup(self.project.qualname(node, module) or "")
            if found is not None:
                owner, name = found
                if name in owner.assigned:
                    return self.resolve(owner.assigned[name], owner, depth + 1)
            return None
        if isinstance(node, ast.Attribute):
            qualname = self.project.qualname(node, module)
            found = self.project.lookup(qualname) if qualname else None
            if found is not None and found[1] in found[0].assigned:  # config.DATABASE_URL
                return self.resolve(found[0].assigned[found[1]], found[0], depth + 1)
            return self._settings_field(node.attr, depth)
        return self._assembled_here(node, module)

    def _env_var(
        self, var: str, default: ast.expr | None, module: SourceModule, where: str, depth: int
    ) -> UrlSource:
        """``os.environ[var]``, ``os.getenv(var, default)``: a loaded .env beats the default."""
        code = self.resolve(default, module, depth + 1) if default is not None else None
        in_file = env_lookup(var, self.dotenv_files, self.root)
        if in_file is not None and (self.loads_dotenv or code is None or code.url is None):
            found = self._from_env_file(in_file, where, "os.environ")
            if found is not None:
                return found
        what = f"default of env {var}" if code and code.url else f"env {var}, no default"
        return UrlSource(code.url if code else None, var, where, what)

    # -- settings classes ------------------------------------------------------------

    def _settings_field(self, attr: str, depth: int) -> UrlSource | None:
        """A settings class attribute named ``attr``: a field, or a property building it."""
        for settings in self.settings:
            if settings.field(attr) is not None:
                return self._field_source(settings, attr, depth)
        for settings in self.settings:
            method = settings.method(attr)
            if method is not None:
                return self._assembled(settings, attr, [method])
        return None

    def _field_source(self, settings: SettingsClass, attr: str, depth: int) -> UrlSource | None:
        module, node, _value = settings.field(attr) or (settings.module, settings.node, None)
        default = settings.default(attr)
        source = self.resolve(default, module, depth + 1) if default is not None else None
        if source is not None and source.env_var:  # the field reads the environment itself
            return source
        if not settings.pydantic:
            return source
        # pydantic-settings: the env var, then the env file, then the default.
        var = settings.env_var(attr)
        field = f"{settings.name}.{attr}"
        in_file = settings.env_value(attr, self.root)
        if in_file is not None:
            found = self._from_env_file(in_file, module.line(node), field)
            if found is not None:
                return found
        if source is not None and source.url:
            return UrlSource(source.url, var, module.line(node), f"default of {field}, env {var}")
        built = self._assembled(settings, attr, list(settings.validators(attr)))
        if built is not None:
            return built
        # No env_file declared: a .env beside the project still says which database is meant.
        in_file = env_lookup(var, self.dotenv_files, self.root)
        where = module.line(node)
        found = self._from_env_file(in_file, where, field) if in_file else None
        what = f"{field} from env {var}, no default"
        postgres = isinstance(node, ast.AnnAssign) and "PostgresDsn" in ast.unparse(node.annotation)
        return found or UrlSource(None, var, where, what, postgres_only=postgres)

    def _from_env_file(self, found: EnvValue, where: str, reader: str) -> UrlSource | None:
        if not _looks_like_url(found.value):
            return None
        url, had_password = strip_password(found.value)
        what = f"{found.var} in {found.file}, read by {reader}"
        return UrlSource(url, found.var, where, what, found.file, had_password)

    # -- URLs assembled from parts ----------------------------------------------------

    def _assembled(
        self,
        settings: SettingsClass,
        attr: str,
        functions: list[tuple[SourceModule, ast.FunctionDef | ast.AsyncFunctionDef]],
    ) -> UrlSource | None:
        """The URL ``attr`` is built into by a property or validator of ``settings``."""
        files: list[str] = []

        def part(name: str) -> str | None:
            in_file = settings.env_value(name, self.root)
            if in_file is not None and in_file.value:
                files.append(in_file.file)
                return in_file.value
            return _constant(settings.default(name))

        for module, function in functions:
            returned, local = _returned(function, attr)
            built = assemble(returned, local, part)
            if built is not None:
                what = f"built by {settings.name}.{attr}"
                return self._built(built, module.line(function), what, files)
        return None

    def _assembled_here(self, node: ast.expr, module: SourceModule) -> UrlSource | None:
        """An f-string or ``URL.create(...)`` in the engine call itself, from settings fields."""
        if not isinstance(node, ast.JoinedStr | ast.BinOp | ast.Call):
            return None
        files: list[str] = []

        def part(name: str) -> str | None:
            settings = next((s for s in self.settings if s.field(name) is not None), None)
            var = settings.env_var(name) if settings else name
            in_file = settings.env_value(name, self.root) if settings else None
            in_file = in_file or env_lookup(var, self.dotenv_files, self.root)
            if in_file is not None and in_file.value:
                files.append(in_file.file)
                return in_file.value
            return _constant(settings.default(name)) if settings else None

        built = assemble([node], {}, part)
        return self._built(built, module.line(node), "built", files) if built else None

    def _built(self, built: Assembled, where: str, what: str, files: list[str]) -> UrlSource:
        what = f"{what} from {', '.join(built.parts)}"
        env_file = files[0] if files else None
        if env_file is not None:
            what += f" in {env_file}"
        url = built.url if built.url and _looks_like_url(built.url) else None
        left_out = built.password_left_out
        postgres = built.text.startswith(("postgresql", "postgres:"))
        missing = tuple(built.missing)
        scheme, sep, _ = built.text.partition("://")
        scheme_given = scheme if sep and scheme.isprintable() else None
        return UrlSource(
            url, None, where, what, env_file, left_out, missing, postgres, scheme_given
        )

    # -- without an engine call ----------------------------------------------------------

    def _by_name(self) -> UrlSource | None:
        """No engine call we could follow: a variable, env var or field named like a URL."""
        for module in self.project.modules.values():
            for name, value in module.assigned.items():
                if any(h in name.lower() for h in URL_NAME_HINTS):
                    source = self.resolve(value, module, depth=1)
                    if source is not None:
                        return source
            for node in ast.walk(module.tree):
                if not isinstance(node, ast.expr):
                    continue
                env = _env_read(node, self.project, module)
                if env is not None and any(h in env[0].lower() for h in URL_NAME_HINTS):
                    return self.resolve(node, module, depth=1)
        for name in self._settings_names():
            if any(h in name.lower() for h in URL_NAME_HINTS):  # SQLALCHEMY_DATABASE_URI too
                source = self._settings_field(name, depth=1)
                if source is not None:
                    return source
        return None

    def _settings_names(self) -> list[str]:
        """The fields and methods of the project's settings classes, in source order."""
        names: list[str] = []
        for settings in self.settings:
            for node in ast.walk(settings.node):
                if isinstance(node, ast.AnnAssign | ast.Assign):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    names += [t.id for t in targets if isinstance(t, ast.Name)]
                    names += [t.attr for t in targets if isinstance(t, ast.Attribute)]
                elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.append(node.name)
        return names


def _dotenv_files(project: Project, root: Path) -> tuple[list[Path], bool]:
    """The files ``load_dotenv(...)`` calls name (``.env`` by default), and whether any is made."""
    names: list[str] = []
    loads = False
    for module in project.modules.values():
        for node in ast.walk(module.tree):
            called = project.qualname(node.func, module) if isinstance(node, ast.Call) else None
            if isinstance(node, ast.Call) and called in _DOTENV_LOADERS:
                loads = True
                path = node.args[0] if node.args else keyword_arg(node, "dotenv_path")
                if isinstance(path, ast.Constant) and isinstance(path.value, str):
                    names.append(path.value)
    files = [root / name for name in names or [".env"]]
    return [f for f in files if f.is_file() and f.resolve().is_relative_to(root.resolve())], loads


def _returned(
    function: ast.FunctionDef | ast.AsyncFunctionDef, attr: str
) -> tuple[list[ast.expr], dict[str, ast.expr]]:
    """What ``function`` returns or stores into ``attr``, and its local variables."""
    returned: list[ast.expr] = []
    local: dict[str, ast.expr] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Return) and node.value is not None:
            returned.append(node.value)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                local[target.id] = node.value
            elif _stores(target, attr):  # self.attr = ... / values["attr"] = ...
                returned.append(node.value)
    return returned, local


def _stores(target: ast.expr, attr: str) -> bool:
    if isinstance(target, ast.Attribute):
        return target.attr == attr
    if isinstance(target, ast.Subscript):
        return isinstance(target.slice, ast.Constant) and target.slice.value == attr
    return False


def _constant(node: ast.expr | None) -> str | None:
    """A part's default written in the code; an empty string is no value."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int):
        return str(node.value) or None
    return None


def _looks_like_url(value: str) -> bool:
    scheme = value.partition("://")[0].partition("+")[0]
    return "://" in value and scheme in URL_SCHEMES


def _replaced(node: ast.expr) -> tuple[ast.expr, str, str] | None:
    """``(x, "a", "b")`` for ``x.replace("a", "b")``."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    texts = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if node.func.attr != "replace" or len(texts) != 2 or len(node.args) != 2:
        return None
    return node.func.value, texts[0], texts[1]


def _is_unwrap(func: ast.expr) -> bool:
    return isinstance(func, ast.Name) and func.id in ("str", "make_url")


def _env_read(
    node: ast.AST, project: Project, module: SourceModule
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
    default = node.args[1] if len(node.args) > 1 else keyword_arg(node, "default")
    return key.value, default
