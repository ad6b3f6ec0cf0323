"""Every database connection the test process opens, seen before it opens.

The connect functions of the drivers SQLAlchemy apps use — asyncpg,
psycopg 3, psycopg2, pg8000, aiosqlite, and the ``sqlite3.dbapi2`` module
SQLAlchemy's pysqlite dialect calls — are wrapped while a check is installed.
The wrapper turns the driver's own arguments (a DSN, keyword arguments, libpq's
``PG*`` environment variables and defaults) into one :class:`Endpoint` and
calls the check, which raises to refuse. A driver imported later is wrapped as
it is imported, so installing costs no driver import.

``sqlite3.connect`` itself is left alone: coverage.py and other tools keep
their own data in SQLite files, and SQLAlchemy never calls it under that name.
"""

from __future__ import annotations

import functools
import getpass
import importlib.abc
import importlib.util
import inspect
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .._text import relative_path

__all__ = [
    "Endpoint",
    "caller_outside",
    "dsn_params",
    "endpoint_of",
    "install",
    "postgres_endpoint",
    "sqlite_endpoint",
    "uninstall",
]


@dataclass(frozen=True)
class Endpoint:
    """Where a connection goes. SQLite: ``database`` is an absolute path or ``:memory:``."""

    backend: str  # "postgresql" or "sqlite"
    database: str
    host: str | None = None
    port: int | None = None
    application_name: str = ""
    driver: str = ""

    @property
    def is_memory(self) -> bool:
        return self.backend == "sqlite" and self.database == ":memory:"

    def where(self) -> str:
        if self.backend == "sqlite":
            return f"SQLite file {self.database}"
        return f"database {self.database!r} on {self.host or 'localhost'}:{self.port or 5432}"


Check = Callable[[Endpoint], None]

# -- turning a driver's arguments into an Endpoint ------------------------------------------


def postgres_endpoint(params: dict[str, Any], driver: str) -> Endpoint:
    """An endpoint from libpq-style ``params`` (host, port, dbname, user, application_name).

    Missing values fall back as libpq does: ``PGHOST``, ``PGPORT``, ``PGDATABASE``,
    ``PGUSER``, ``PGAPPNAME``, then localhost, 5432 and the user's name.
    """
    env = os.environ
    host = _first(params.get("host")) or env.get("PGHOST") or "localhost"
    port_text = _first(params.get("port")) or env.get("PGPORT") or "5432"
    user = params.get("user") or env.get("PGUSER") or _os_user()
    database = params.get("dbname") or params.get("database") or env.get("PGDATABASE") or user
    try:
        port: int | None = int(port_text)
    except ValueError:
        port = None
    name = params.get("application_name") or env.get("PGAPPNAME") or ""
    return Endpoint("postgresql", str(database), str(host), port, str(name), driver)


def sqlite_endpoint(database: Any, uri: bool, driver: str) -> Endpoint:
    """An endpoint for ``sqlite3.connect(database, uri=uri)``."""
    if isinstance(database, bytes):
        database = database.decode()
    target = str(database)
    if uri and target.startswith("file:"):
        parts = urlsplit(target)
        if parse_qs(parts.query).get("mode") == ["memory"]:
            return Endpoint("sqlite", ":memory:", driver=driver)
        target = unquote(parts.path)
    if target in ("", ":memory:"):
        return Endpoint("sqlite", ":memory:", driver=driver)
    return Endpoint("sqlite", os.path.abspath(target), driver=driver)


def _first(value: Any) -> str | None:
    """The first of a comma-separated or listed value (several hosts); None if empty."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None or value == "":
        return None
    return str(value).split(",")[0].strip() or None


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no name for this uid (containers)
        return ""


def dsn_params(dsn: str) -> dict[str, Any]:
    """libpq parameters of a ``postgresql://`` URI or a ``key=value`` string."""
    if "://" not in dsn:
        params: dict[str, Any] = {}
        for word in dsn.split():
            key, _, value = word.partition("=")
            params[key] = value.strip("'")
        return params
    parts = urlsplit(dsn)
    netloc = parts.netloc.rpartition("@")[2].split(",")[0]  # the first of several hosts
    host, port = netloc, ""
    if netloc.startswith("["):  # [::1]:5432
        host, _, rest = netloc[1:].partition("]")
        port = rest.removeprefix(":")
    elif ":" in netloc:
        host, _, port = netloc.rpartition(":")
    params = {
        "host": unquote(host) or None,
        "port": port or None,
        "dbname": unquote(parts.path.lstrip("/")) or None,
        "user": unquote(parts.netloc.rpartition("@")[0].partition(":")[0]) or None,
    }
    for key, values in parse_qs(parts.query).items():
        params["dbname" if key == "database" else key] = values[-1]
    return {k: v for k, v in params.items() if v is not None}


def _asyncpg(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Endpoint:
    dsn = args[0] if args else kwargs.get("dsn")
    params = dsn_params(dsn) if isinstance(dsn, str) else {}
    for key in ("host", "port", "user"):
        if kwargs.get(key) is not None:
            params[key] = kwargs[key]
    if kwargs.get("database") is not None:
        params["dbname"] = kwargs["database"]
    settings = kwargs.get("server_settings") or {}
    if settings.get("application_name"):
        params["application_name"] = settings["application_name"]
    return postgres_endpoint(params, "asyncpg")


def _psycopg2(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Endpoint:
    from psycopg2.extensions import make_dsn, parse_dsn  # type: ignore[import-untyped]

    dsn = args[0] if args else kwargs.get("dsn")
    extra = {k: v for k, v in kwargs.items() if k not in _PSYCOPG2_OWN}
    return postgres_endpoint(parse_dsn(make_dsn(dsn, **extra)), "psycopg2")


_PSYCOPG2_OWN = frozenset({"dsn", "connection_factory", "cursor_factory", "async", "async_"})


def _psycopg(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Endpoint:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    conninfo = args[0] if args else kwargs.get("conninfo", "")
    extra = {k: v for k, v in kwargs.items() if k not in _PSYCOPG_OWN}
    return postgres_endpoint(conninfo_to_dict(make_conninfo(conninfo or "", **extra)), "psycopg")


_PSYCOPG_OWN = frozenset(
    {"conninfo", "autocommit", "prepare_threshold", "context", "row_factory", "cursor_factory"}
)


def _pg8000(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Endpoint:
    from pg8000.core import CoreConnection  # type: ignore[import-untyped]

    bound = _signature_of(CoreConnection).bind(None, *args, **kwargs)  # None: self
    bound.apply_defaults()
    values = dict(bound.arguments)
    params = {
        "host": values.get("unix_sock") or values.get("host"),
        "port": values.get("port"),
        "user": values.get("user"),
        "dbname": values.get("database"),
        "application_name": values.get("application_name"),
    }
    return postgres_endpoint({k: v for k, v in params.items() if v is not None}, "pg8000")


@functools.cache
def _signature_of(cls: type) -> inspect.Signature:
    return inspect.signature(cls.__dict__["__init__"])


def _aiosqlite(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Endpoint:
    database = args[0] if args else kwargs.get("database", "")
    return sqlite_endpoint(database, bool(kwargs.get("uri")), "aiosqlite")


def _pysqlite(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Endpoint:
    database = args[0] if args else kwargs.get("database", "")
    uri = kwargs.get("uri", args[7] if len(args) > 7 else False)
    return sqlite_endpoint(database, bool(uri), "pysqlite")


_BY_DRIVER = {
    "asyncpg": _asyncpg,
    "psycopg2": _psycopg2,
    "psycopg": _psycopg,
    "psycopg_async": _psycopg,
    "pg8000": _pg8000,
    "aiosqlite": _aiosqlite,
    "pysqlite": _pysqlite,
}


def endpoint_of(driver: str, args: Sequence[Any], kwargs: dict[str, Any]) -> Endpoint | None:
    """Where a SQLAlchemy dialect's ``connect(*args, **kwargs)`` goes; None for other drivers.

    ``driver`` is the dialect's ``driver`` name (``asyncpg``, ``psycopg2``, ``pysqlite``...).
    """
    parse = _BY_DRIVER.get(driver)
    return parse(tuple(args), kwargs) if parse is not None else None


# -- wrapping the drivers ----------------------------------------------------------------


@dataclass(frozen=True)
class _Hook:
    """One connect function: ``module.attr`` (or ``module.Class.attr``) and its parser."""

    module: str
    attr: str
    parse: Callable[[tuple[Any, ...], dict[str, Any]], Endpoint]
    cls: str | None = None  # a classmethod (psycopg) or __init__ (pg8000) of this class


_HOOKS: dict[str, tuple[_Hook, ...]] = {
    "asyncpg": (
        _Hook("asyncpg", "connect", _asyncpg),
        _Hook("asyncpg.connection", "connect", _asyncpg),  # what asyncpg's pools call
    ),
    "psycopg2": (_Hook("psycopg2", "connect", _psycopg2),),
    "psycopg": (
        _Hook("psycopg", "connect", _psycopg, cls="Connection"),
        _Hook("psycopg", "connect", _psycopg, cls="AsyncConnection"),
    ),
    "pg8000": (_Hook("pg8000.core", "__init__", _pg8000, cls="CoreConnection"),),
    "aiosqlite": (
        _Hook("aiosqlite", "connect", _aiosqlite),
        _Hook("aiosqlite.core", "connect", _aiosqlite),
    ),
    "sqlite3": (_Hook("sqlite3.dbapi2", "connect", _pysqlite),),
}

_lock = threading.Lock()
_check: Check | None = None
_saved: list[tuple[Any, str, Any]] = []  # (owner, attribute, original) to put back
_finder: _WrapOnImport | None = None


def install(check: Check) -> None:
    """Call ``check`` before every connection a supported driver opens, until :func:`uninstall`.

    Installing again replaces the check (a nested pytest run): the drivers stay wrapped once.
    """
    global _check, _finder
    with _lock:
        _check = check
        if _finder is not None:
            return
        _finder = _WrapOnImport()
        sys.meta_path.insert(0, _finder)
        for package in _HOOKS:
            if package in sys.modules:
                _wrap_package(package)


def uninstall() -> None:
    """Put every driver back as it was."""
    global _check, _finder
    with _lock:
        _check = None
        if _finder is not None:
            if _finder in sys.meta_path:
                sys.meta_path.remove(_finder)
            _finder = None
        while _saved:
            owner, attr, original = _saved.pop()
            setattr(owner, attr, original)


def _wrap_package(package: str) -> None:
    for hook in _HOOKS[package]:
        module = sys.modules.get(hook.module)
        if module is None:
            try:
                module = importlib.import_module(hook.module)  # a submodule of a loaded package
            except ImportError:
                continue
        _wrap(module, hook)
    if package == "psycopg":  # the module's connect is Connection.connect, bound at import
        module = sys.modules["psycopg"]
        _saved.append((module, "connect", module.connect))
        module.connect = module.Connection.connect  # type: ignore[attr-defined]


def _wrap(module: ModuleType, hook: _Hook) -> None:
    owner: Any = getattr(module, hook.cls) if hook.cls else module
    raw = owner.__dict__.get(hook.attr) if hook.cls else getattr(owner, hook.attr, None)
    if raw is None or getattr(raw, "__aksara_wrapped__", False):
        return
    if isinstance(raw, classmethod):
        function = raw.__func__
        wrapped: Any = classmethod(_checked(function, hook, skip_first=True))
    elif hook.attr == "__init__":
        wrapped = _checked(raw, hook, skip_first=True)
    else:
        wrapped = _checked(raw, hook, skip_first=False)
    _saved.append((owner, hook.attr, raw))
    setattr(owner, hook.attr, wrapped)


def _checked(function: Any, hook: _Hook, *, skip_first: bool) -> Any:
    def look(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        check = _check
        if check is not None:
            check(hook.parse(args[1:] if skip_first else args, kwargs))

    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            look(args, kwargs)
            return await function(*args, **kwargs)

        async_wrapper.__aksara_wrapped__ = True  # type: ignore[attr-defined]
        return async_wrapper

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        look(args, kwargs)
        return function(*args, **kwargs)

    wrapper.__aksara_wrapped__ = True  # type: ignore[attr-defined]
    return wrapper


class _WrapOnImport(importlib.abc.MetaPathFinder):
    """Wraps a driver package right after its first import."""

    def __init__(self) -> None:
        self._finding: set[str] = set()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> Any:
        if fullname not in _HOOKS or fullname in self._finding:
            return None
        self._finding.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._finding.discard(fullname)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _WrappingLoader(spec.loader, fullname)
        return spec


class _WrappingLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, package: str) -> None:
        self._loader = loader
        self._package = package

    def create_module(self, spec: Any) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        # Loaders compare spec.loader with themselves (SourceFileLoader.get_resource_reader):
        # hand the module the real loader back before it runs.
        module.__spec__.loader = self._loader  # type: ignore[union-attr]
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        with _lock:
            if _finder is not None:
                _wrap_package(self._package)


def caller_outside() -> str | None:
    """``file:line`` of the innermost frame in the project's own code, or None.

    Frames of aksara-testing, the standard library and installed packages are skipped.
    """
    ignored = (str(Path(__file__).parent), *{sys.prefix, sys.base_prefix, sys.exec_prefix})
    frame: Any = sys._getframe(1)
    # SQLAlchemy's async engines connect inside a greenlet: its frames end where the
    # greenlet started, and the caller's frames hang off the parent greenlet.
    glet = sys.modules["greenlet"].getcurrent() if "greenlet" in sys.modules else None
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith("<") and not filename.startswith(ignored):
            return f"{relative_path(filename, Path.cwd())}:{frame.f_lineno}"
        frame = frame.f_back
        if frame is None and glet is not None and glet.parent is not None:
            glet = glet.parent
            frame = glet.gr_frame
    return None
