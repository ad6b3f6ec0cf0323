"""Test database URLs: derive them from the app's URL, and refuse unsafe targets.

Every path that creates, migrates, empties or drops a database goes through
:func:`check_safe` first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from .._settings import Settings, mask_url
from ..errors import ConfigurationError, UnsafeDatabaseError
from .endpoints import endpoint_of_url, same_database

__all__ = [
    "SafeTarget",
    "backend_of",
    "check_safe",
    "database_name",
    "derive_test_url",
    "is_memory",
    "upgrade_driver",
]

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
# Sync drivers in database_url: aksara builds and manages the test database with the async one
# (a sync app's test layer then uses the app's own driver, see engines.py).
_BUILT_WITH = {
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+psycopg2cffi": "postgresql+asyncpg",
    "postgresql+pg8000": "postgresql+asyncpg",
    **_ASYNC_DRIVERS,
}
_SYSTEM_DATABASES = frozenset({"postgres", "template0", "template1"})
PREFIX = "test_"
_PG_NAME_LIMIT = 63


def parse(url: str, key: str, settings: Settings) -> URL:
    """``url`` parsed; a one-line error naming the setting when it is not a URL."""
    try:
        return make_url(url)
    except Exception:
        raise ConfigurationError(
            f"setting {key} = {mask_url(url)!r} (from {settings.source(key)}) is not a "
            "database URL; write it like 'sqlite:///app.db' or 'postgresql://user@host/app'"
        ) from None


def upgrade_driver(url: URL) -> URL:
    """Driverless and sync ``sqlite`` and ``postgresql`` URLs become aiosqlite and asyncpg."""
    return url.set(drivername=_BUILT_WITH.get(url.drivername, url.drivername))


def backend_of(url: URL) -> str:
    return url.get_backend_name()


def is_memory(url: URL) -> bool:
    return backend_of(url) == "sqlite" and url.database in (None, "", ":memory:")


def database_name(url: URL) -> str:
    """The name the safety rule checks: the file stem for SQLite, else the database."""
    if backend_of(url) == "sqlite":
        return Path(url.database or "").stem
    return url.database or ""


def derive_test_url(
    settings: Settings, sqlite_dir: Path | Callable[[], Path], suffix: str = ""
) -> URL:
    """The test database URL for ``settings``.

    ``database_url = "postgresql://u@h/app"`` gives ``postgresql+asyncpg://u@h/test_app``;
    a SQLite file becomes ``test_<stem>`` in ``sqlite_dir`` (a folder, or a function
    giving one, called only for SQLite); in-memory stays in memory.
    ``suffix`` (``_gw0`` under xdist) is appended to the name.
    """
    if settings.test_database_url:
        url = upgrade_driver(parse(settings.test_database_url, "test_database_url", settings))
        if is_memory(url):
            return url
        _require_name(url, "test_database_url", settings)
        if backend_of(url) == "sqlite" and not Path(url.database or "").is_absolute():
            url = url.set(database=str(settings.root / (url.database or "")))
        if not suffix:
            return url
        folder = Path(url.database or "").parent if backend_of(url) == "sqlite" else sqlite_dir
        return _renamed(url, database_name(url) + suffix, folder)
    if not settings.database_url:
        raise ConfigurationError(
            "no database is configured: set database_url in [tool.aksara] "
            "(or AKSARA_DATABASE_URL, or aksara test --database-url URL)"
        )
    url = upgrade_driver(parse(settings.database_url, "database_url", settings))
    if is_memory(url):
        return url
    _require_name(url, "database_url", settings)
    return _renamed(url, PREFIX + database_name(url) + suffix, sqlite_dir)


def _require_name(url: URL, key: str, settings: Settings) -> None:
    """A server URL must name its database: ``postgresql://u@host`` would give ``test_``."""
    if backend_of(url) == "sqlite" or url.database:
        return
    example = "test_app" if key == "test_database_url" else "app"
    raise ConfigurationError(
        f"setting {settings.describe(key)} names no database; add the database name "
        f"at the end of the URL, like 'postgresql://user@host/{example}'"
    )


def _renamed(url: URL, name: str, sqlite_dir: Path | Callable[[], Path]) -> URL:
    if backend_of(url) == "sqlite":
        if callable(sqlite_dir):
            sqlite_dir = sqlite_dir()
        extension = Path(url.database or "").suffix or ".db"
        return url.set(database=str(sqlite_dir / f"{name}{extension}"))
    return url.set(database=name)


class SafeTarget:
    """A test database URL that passed :func:`check_safe`, the only function that makes one.

    Every function that creates, migrates, empties or drops a database takes
    one, so nothing can write to a URL that skipped the check.
    """

    def __init__(self, url: URL) -> None:
        self.url = url


def check_safe(url: URL, settings: Settings) -> SafeTarget:
    """Refuse to touch anything but a ``test_`` database that is not the app's own.

    Returns the :class:`SafeTarget` that destructive functions require.
    """
    if is_memory(url):
        return SafeTarget(url)
    name = database_name(url)
    shown = mask_url(url.render_as_string(hide_password=False))
    problem = None
    if backend_of(url) not in _ASYNC_DRIVERS:
        raise ConfigurationError(
            f"test database {shown} uses {backend_of(url)!r}; aksara-testing supports "
            "SQLite and PostgreSQL test databases (use a sqlite:// or postgresql:// URL)"
        )
    if backend_of(url) == "postgresql" and len(name.encode()) > _PG_NAME_LIMIT:
        problem = (
            f"its name is longer than PostgreSQL's {_PG_NAME_LIMIT} bytes and would be "
            "cut short into another database's name"
        )
    elif name in _SYSTEM_DATABASES:
        problem = f"{name!r} is a PostgreSQL system database"
    elif not name.startswith(PREFIX):
        problem = f"its name {name!r} does not start with {PREFIX!r}"
    elif _same_database(url, settings):
        problem = "it is the app's own database (database_url)"
    if problem is not None:
        raise UnsafeDatabaseError(
            f"refusing to create, migrate, empty or drop {shown}: {problem}; "
            f"the test database must be a separate database whose name starts with {PREFIX!r} "
            "(fix database_url or test_database_url)"
        )
    return SafeTarget(url)


def _same_database(url: URL, settings: Settings) -> bool:
    """Whether ``url`` may be the app's own database (:func:`.endpoints.same_database`)."""
    if not settings.database_url:
        return False
    app = endpoint_of_url(settings.database_url, settings.root)
    test = endpoint_of_url(url.render_as_string(hide_password=False), settings.root)
    return app is not None and test is not None and same_database(test, app)
