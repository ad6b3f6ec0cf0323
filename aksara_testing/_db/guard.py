"""The connection guard: while tests run, only test databases can be reached.

From ``pytest_configure`` to the end of the run, every connection the test
process opens through a database driver (see :mod:`.drivers`) is checked
before it opens. It may go to:

- a PostgreSQL database whose name starts with ``test_`` and is not the app's
  own (by :func:`~.endpoints.same_database`: the app's name on any server),
  or the maintenance connections aksara-testing itself makes;
- SQLite in memory, a file in this run's own folder, or a ``test_`` file;
- a database listed in ``allow_databases``.

Anything else — the app's ``database_url`` database, a copy of its URL in an
environment variable, an Alembic ``env.py`` engine on the development
database — is refused with one line saying which database, where its URL came
from and how to fix it. While aksara-testing runs the project's migrations,
connections to the app's own database (``database_url`` or a URL in the
``env`` table) are redirected to the database being migrated instead.

URLs are parsed without SQLAlchemy (see :mod:`.endpoints`): the guard is
installed before any test module is imported, and must not make start-up slower.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._settings import Settings
from ..errors import UnsafeDatabaseError
from . import drivers
from .endpoints import Endpoint, endpoint_of, endpoint_of_url, same_address, same_database

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = [
    "ADMIN_APPLICATION",
    "ConnectionGuard",
    "RefusedConnection",
    "endpoint_of_url",  # defined in .endpoints; here for _db's table until it points there
    "redirect_app_database",
    "same_database",  # the same
]

ADMIN_APPLICATION = "aksara admin"  # application_name of our own server connections
_PREFIX = "test_"
_migrating = 0  # open redirect_app_database() blocks: our runs of the project's env.py


class RefusedConnection(UnsafeDatabaseError):
    """The guard refused a connection to a database that is not a test database."""


@dataclass(frozen=True)
class _KnownUrl:
    """A database URL the run knows, and where it came from."""

    endpoint: Endpoint
    origin: str  # "database_url (from pyproject.toml)", "env SHOP_DATABASE_URL in ..."
    fix: str
    app_owned: bool  # redirected while migrations run


class ConnectionGuard:
    """The check every connection passes, for one run's settings.

    >>> guard = ConnectionGuard(settings, run_folder)
    >>> guard.install()   # until guard.uninstall()
    """

    def __init__(self, settings: Settings, run_folder: Path) -> None:
        self.run_folder = run_folder.resolve()
        self.update(settings)

    def update(self, settings: Settings) -> None:
        """Follow the settings (the ``test_settings`` fixture may change them)."""
        self.settings = settings
        self.known = list(_known_urls(settings, os.environ))
        self.app_databases = [k.endpoint for k in self.known if k.origin.startswith("database_url")]
        self.allowed = [_allowed_entry(entry, settings.root) for entry in settings.allow_databases]

    def install(self) -> None:
        drivers.install(self.check)

    def uninstall(self) -> None:
        drivers.uninstall()

    def allows(self, endpoint: Endpoint) -> bool:
        if any(same_address(endpoint, allowed) for allowed in self.allowed):
            return True
        if endpoint.backend == "postgresql":
            if endpoint.application_name.startswith(ADMIN_APPLICATION):
                return True
            return endpoint.database.startswith(_PREFIX) and not self._is_app(endpoint)
        if endpoint.backend == "sqlite":
            if endpoint.is_memory or _inside(Path(endpoint.database), self.run_folder):
                return True
            return Path(endpoint.database).name.startswith(_PREFIX) and not self._is_app(endpoint)
        return True  # a backend we do not know how to name (it cannot be a test database)

    def check(self, endpoint: Endpoint) -> None:
        """Raise :class:`RefusedConnection` unless ``endpoint`` may be reached."""
        if self.allows(endpoint):
            return
        known = next((k for k in self.known if same_address(endpoint, k.endpoint)), None)
        origin = known.origin if known else "a URL that no setting or environment variable holds"
        fix = known.fix if known else _UNKNOWN_FIX
        if _migrating:  # the project's env.py, run by us: it should use the URL we hand it
            fix = _ENV_PY_FIX
        caller = drivers.caller_outside()
        opened = f", opened at {caller}" if caller else ""
        raise RefusedConnection(
            f"refused a connection to {endpoint.where()} ({endpoint.driver or 'driver'}; "
            f"its URL is {origin}{opened}): while tests run, only test_ databases are "
            f"reachable; {fix}"
        )

    def _is_app(self, endpoint: Endpoint) -> bool:
        return any(same_database(endpoint, app) for app in self.app_databases)


_ENV_PY_FIX = (
    "make env.py connect to config.get_main_option('sqlalchemy.url'), the test database "
    "aksara hands it (see docs/migrations.md)"
)
_UNKNOWN_FIX = (
    "if this connection is deliberate, list the database in allow_databases in [tool.aksara]"
)


def _known_urls(settings: Settings, environ: Mapping[str, str]) -> Iterator[_KnownUrl]:
    for url, origin, fix, app_owned in _urls_with_origins(settings, environ):
        endpoint = endpoint_of_url(url, settings.root)
        if endpoint is not None:
            yield _KnownUrl(endpoint, origin, fix, app_owned)


def _urls_with_origins(
    settings: Settings, environ: Mapping[str, str]
) -> Iterator[tuple[str, str, str, bool]]:
    """Each URL the run knows of: (URL, where it came from, the fix, whether the app owns it)."""
    if settings.database_url:
        yield (
            settings.database_url,
            f"database_url (from {settings.source('database_url')})",
            "name the app's sessionmaker in the session setting, or its engine in the "
            "engine setting, so its work uses the test transaction, or list the database "
            "in allow_databases if this connection is deliberate",
            True,
        )
    where = f"[tool.aksara] env ({settings.source('env')})"
    for name, value in settings.env.items():
        fix = (
            f'write {name} = "{{database_url}}" in [tool.aksara] env so that it follows '
            "database_url"
        )
        yield value, f"{name} in {where}", fix, True
    for name, value in environ.items():
        if name in settings.env or name.startswith("AKSARA_"):
            continue
        fix = (
            f'set {name} = "{{database_url}}" in [tool.aksara] env so the app gets the '
            "test set-up, or list the database in allow_databases if this connection is "
            "deliberate"
        )
        yield value, f"environment variable {name}", fix, False


def _allowed_entry(entry: str, root: Path) -> Endpoint:
    endpoint = endpoint_of_url(entry, root) if "://" in entry else None
    return endpoint or Endpoint("postgresql", entry, host=None)  # a bare name: on any server


def _inside(path: Path, folder: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(folder)


# -- migrations: the app's own database means the one being migrated -----------------------


@contextmanager
def redirect_app_database(settings: Settings, test_url: URL) -> Iterator[None]:
    """While inside, a connection to the app's own database opens ``test_url`` instead.

    For Alembic env.py files that build their engine from the app's settings
    (``database_url``, or a URL of the ``env`` table) rather than from the URL
    Alembic hands them. Other drivers of the same backend are redirected too
    (a sync psycopg2 env.py).
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    backend = test_url.get_backend_name()
    owned = [k.endpoint for k in _known_urls(settings, {}) if k.app_owned]
    owned = [e for e in owned if e.backend == backend and not e.is_memory]

    def redirect(dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        endpoint = endpoint_of(dialect.driver, cargs, cparams)
        if endpoint is None or not any(same_database(endpoint, o) for o in owned):
            return
        url = test_url.set(drivername=f"{dialect.name}+{dialect.driver}")
        new_args, new_params = dialect.create_connect_args(url)
        cargs[:] = list(new_args)
        kept = {k: v for k, v in cparams.items() if k in _KEPT_PARAMS}
        cparams.clear()
        cparams.update(new_params, **kept)

    global _migrating
    event.listen(Engine, "do_connect", redirect)
    _migrating += 1
    try:
        yield
    finally:
        _migrating -= 1
        event.remove(Engine, "do_connect", redirect)


# Connection arguments that are not the address (kept when a connection is redirected).
_KEPT_PARAMS = frozenset({"async_creator_fn"})
