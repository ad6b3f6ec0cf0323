"""Where a database connection goes, and the one rule for "is this the same database".

An :class:`Endpoint` is read from a URL (:func:`endpoint_of_url`), or from the
arguments a driver's connect function gets (:func:`endpoint_of`, the parsers
in :data:`BY_DRIVER`), libpq's ``PG*`` environment variables and defaults
included. Nothing here imports SQLAlchemy or a driver at module level: the
connection guard reads URLs before any test module is imported.

:func:`same_database` is the safety rule every refusal uses — the test
database must never be the app's own (``check_safe``), the guard refuses the
app's database, migrations redirect it, a test's leftovers on the test
database are closed. Host names cannot tell two PostgreSQL databases apart
(``localhost``, ``127.0.0.1``, a socket, a DNS alias or a container name may
all be one server), so the same database name on any server counts as the
same database. Only an ``allow_databases`` entry, which lets a connection
*through*, is matched by host and port as well (:func:`same_address`).
"""

from __future__ import annotations

import functools
import getpass
import inspect
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "BY_DRIVER",
    "Endpoint",
    "dsn_params",
    "endpoint_of",
    "endpoint_of_url",
    "postgres_endpoint",
    "same_address",
    "same_database",
    "sqlite_endpoint",
]

_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", ""})


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


Parser = Callable[[tuple[Any, ...], dict[str, Any]], Endpoint]


# -- the rule ---------------------------------------------------------------------------


def same_database(endpoint: Endpoint, other: Endpoint) -> bool:
    """True when ``endpoint`` and ``other`` may be one database (see the module's docstring).

    SQLite: the same file (symlinks and hard links too), or both in memory.
    PostgreSQL: the same database name, whatever the host and port.
    """
    if endpoint.backend != other.backend:
        return False
    if endpoint.backend == "sqlite":
        if endpoint.is_memory or other.is_memory:
            return endpoint.is_memory and other.is_memory
        return _same_file(endpoint.database, other.database)
    return endpoint.database == other.database


def same_address(endpoint: Endpoint, other: Endpoint) -> bool:
    """:func:`same_database`, and for PostgreSQL on ``other``'s host and port too.

    This machine's spellings (``localhost``, ``127.0.0.1``, ``::1``, a socket
    folder) are one host; ``other`` without a host (a bare name) matches any.
    """
    if not same_database(endpoint, other):
        return False
    if endpoint.backend != "postgresql" or other.host is None:
        return True
    same_port = (endpoint.port or 5432) == (other.port or 5432)
    return _host(endpoint.host) == _host(other.host) and same_port


def _host(host: str | None) -> str:
    host = (host or "").strip("[]").lower()
    return "local" if host in _LOCAL_HOSTS or host.startswith("/") else host


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)  # symlinks and hard links too
    except OSError:  # one of them does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


# -- from a URL ------------------------------------------------------------------------


def endpoint_of_url(url: str, root: Path) -> Endpoint | None:
    """Where a ``postgresql://`` or ``sqlite://`` URL points; None for anything else.

    A relative SQLite path is taken from ``root``, as the settings are.
    """
    scheme, _, rest = url.partition("://")
    backend = scheme.partition("+")[0].lower()
    if backend in ("postgresql", "postgres") and rest:
        return postgres_endpoint(dsn_params("postgresql://" + rest), "")
    if backend == "sqlite":
        path = unquote(urlsplit("sqlite://" + rest).path)
        path = path[1:] if path.startswith("/") else path  # sqlite:///rel.db, sqlite:////abs.db
        if path in ("", ":memory:"):
            return Endpoint("sqlite", ":memory:")
        return Endpoint("sqlite", str((root / path).resolve()))
    return None


# -- from a driver's arguments ---------------------------------------------------------------


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


BY_DRIVER: dict[str, Parser] = {
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
    parse = BY_DRIVER.get(driver)
    return parse(tuple(args), kwargs) if parse is not None else None
