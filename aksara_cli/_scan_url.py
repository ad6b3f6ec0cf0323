"""Where an app's database URL comes from, read from its source with :mod:`ast`.

Followed from the argument of ``create_async_engine``: a literal, a module
constant, ``os.environ``/``os.getenv`` (with or without a default), or a field
of a settings class (pydantic-settings or hand-written). Without an engine
call we could follow, a variable, env var or field named like a URL will do.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._scan import Project, SourceModule

__all__ = ["UrlFinder", "UrlSource", "keyword_arg"]

SETTINGS_BASES = frozenset({"pydantic_settings.BaseSettings", "pydantic.BaseSettings"})
URL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "mssql", "oracle")
URL_NAME_HINTS = ("database_url", "db_url", "database_uri", "db_uri", "dsn", "sqlalchemy_url")


@dataclass(frozen=True)
class UrlSource:
    """Where the app's database URL comes from: a literal, an env var, or both."""

    url: str | None
    env_var: str | None
    where: str
    what: str


class UrlFinder:
    """Resolves URL expressions across the project's modules."""

    def __init__(self, project: Project) -> None:
        self.project = project

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
            var, default = env
            url = self.resolve(default, module, depth + 1) if default is not None else None
            what = f"default of env {var}" if url and url.url else f"env {var}, no default"
            return UrlSource(url.url if url else None, var, where, what)
        if isinstance(node, ast.Call) and node.args and _is_unwrap(node.func):
            return self.resolve(node.args[0], module, depth + 1)  # str(x)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args:
            return self.resolve(node.func.value, module, depth + 1)  # x.get_secret_value()
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
        return None

    def _settings_field(self, attr: str, depth: int) -> UrlSource | None:
        """A settings class attribute named ``attr``: pydantic-settings or hand-written."""
        for module in self.project.modules.values():
            for cls in module.classes.values():
                for node in ast.walk(cls):
                    value, found = _field_value(node, attr)
                    if found:
                        return self._field_source(module, cls, node, value, attr, depth)
        return None

    def _field_source(
        self,
        module: SourceModule,
        cls: ast.ClassDef,
        node: ast.AST,
        value: ast.expr | None,
        attr: str,
        depth: int,
    ) -> UrlSource | None:
        default = _field_default(value)
        source = self.resolve(default, module, depth + 1) if default is not None else None
        if source is not None and source.env_var:  # the field reads the environment itself
            return source
        if not any(self.project.qualname(b, module) in SETTINGS_BASES for b in cls.bases):
            return source
        # pydantic-settings fills a field from the env var of the same name (case-insensitive).
        var = _env_prefix(cls) + attr.upper()
        url = source.url if source is not None else None
        field = f"{cls.name}.{attr}"
        what = f"default of {field}, env {var}" if url else f"{field} from env {var}, no default"
        return UrlSource(url, var, module.line(node), what)

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
        for hint in URL_NAME_HINTS:
            source = self._settings_field(hint, depth=1) or self._settings_field(hint.upper(), 1)
            if source is not None:
                return source
        return None


def keyword_arg(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def _looks_like_url(value: str) -> bool:
    scheme = value.partition("://")[0].partition("+")[0]
    return "://" in value and scheme in URL_SCHEMES


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
        return value.args[0] if value.args else keyword_arg(value, "default")
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
