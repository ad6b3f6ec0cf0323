"""``aksara doctor``'s database checks: the test database, env URLs, the driver, the server.

Nothing is created or changed: the PostgreSQL server is only connected to, as
``aksara test`` would (so its failures read the same), and for SQLite only
the folder is looked at.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ._doctor_check import CheckFailed, Outcome

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from aksara_testing._db import Server
    from aksara_testing._settings import Settings

__all__ = ["check_env", "check_extras", "check_server", "check_test_database", "server_verdict"]

# SQLite test files live in a temporary folder made per run; the check shows its place.
_TMP = Path("<tmp>")
_DRIVER_EXTRAS = {"asyncpg": "aksara-testing[postgres]"}


def check_test_database(settings: Settings) -> tuple[Outcome, URL | None]:
    """The test database URL the settings give, checked as safe; and that URL (None: skipped)."""
    from aksara_testing._db import check_safe, derive_test_url
    from aksara_testing._settings import mask_url
    from aksara_testing.errors import ConfigurationError

    if not settings.database_url and not settings.test_database_url:
        if settings.models or settings.session:
            raise CheckFailed(
                "models/session are set but database_url is not; set database_url in "
                "[tool.aksara] (or AKSARA_DATABASE_URL)"
            )
        return ("skip", "database_url not set: tests do not use a database"), None
    try:
        url = derive_test_url(settings, _TMP)
        check_safe(url, settings)
    except ConfigurationError as exc:
        raise CheckFailed(str(exc)) from None
    key = "test_database_url" if settings.test_database_url else "database_url"
    shown = mask_url(url.render_as_string(hide_password=False))
    if url.get_backend_name() == "sqlite":
        shown = unquote(shown)  # the <tmp> placeholder, not %3Ctmp%3E
    return ("ok", f"{shown} (from {key}, {settings.source(key)}): allowed, a test_ database"), url


def check_env(settings: Settings) -> Outcome:
    """``env`` values holding a database URL must name the database_url database."""
    from aksara_testing._db import endpoint_of_url, same_database
    from aksara_testing._settings import FOLLOW, mask_url

    urls = {
        name: endpoint
        for name, value in settings.env.items()
        if (endpoint := endpoint_of_url(value, settings.root)) is not None
    }
    if not urls:
        return "skip", "env sets no database URL"
    app = endpoint_of_url(settings.database_url or "", settings.root)
    for name, endpoint in urls.items():
        if app is None or not same_database(endpoint, app):
            raise CheckFailed(
                f"env {name} = {mask_url(settings.env[name])!r} (from "
                f"{settings.source('env')}) is not the database_url database, so the app "
                f"would use another database than the one tests guard; write {name} = "
                f'"{FOLLOW}" in [tool.aksara] env so that it follows database_url'
            )
    return "ok", f"{', '.join(urls)} follow database_url"


def check_extras(url: URL) -> Outcome:
    """The async driver of ``url`` is installed."""
    from aksara_testing._text import first_line

    # The dialect create_async_engine would pick: psycopg has a sync and an async one.
    dialect = url.get_dialect(_is_async=True)
    driver = url.get_driver_name()
    if not getattr(dialect, "is_async", False):
        raise CheckFailed(
            f"{url.drivername} is a synchronous driver; use an async one such as "
            "postgresql+asyncpg:// or sqlite+aiosqlite:// (or leave the driver out)"
        )
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        extra = _DRIVER_EXTRAS.get(driver)
        fix = f"pip install '{extra}'" if extra else f"pip install {driver}"
        raise CheckFailed(f"{driver} is not installed ({first_line(exc)}); {fix}") from None
    return "ok", f"{driver} installed for {url.get_backend_name()}"


def check_server(url: URL, settings: Settings) -> Outcome:
    """SQLite: the folder can be written. PostgreSQL: the role connects and may create databases."""
    if url.get_backend_name() == "sqlite":
        return _check_sqlite_folder(url)
    from aksara_testing._db import Server

    return asyncio.run(_check_postgres(url, Server.of_settings(settings)))


def _check_sqlite_folder(url: URL) -> Outcome:
    database = url.database or ""
    if database in ("", ":memory:"):
        return "ok", "in-memory SQLite: nothing to reach"
    path = Path(database)
    folder = Path(tempfile.gettempdir()) if path.parts[0] == str(_TMP) else path.parent
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise CheckFailed(
            f"SQLite test database folder {folder} cannot be written ({existing} is not a "
            "writable folder); point test_database_url or TMPDIR at a writable folder"
        )
    return "ok", f"SQLite: {path.parent} is {folder}, writable"


async def _check_postgres(url: URL, server: Server) -> Outcome:
    """Connect as aksara test would; failures read exactly as there (one shared module)."""
    from sqlalchemy import pool, text
    from sqlalchemy.ext.asyncio import create_async_engine

    from aksara_testing._db import ADMIN_DATABASE, CONNECT_TIMEOUT, connect_first
    from aksara_testing.errors import ConfigurationError

    driver = url.get_driver_name()
    timeout = {"asyncpg": {"timeout": CONNECT_TIMEOUT}, "psycopg": {"connect_timeout": 5}}
    engine = create_async_engine(
        url.set(database=ADMIN_DATABASE),
        poolclass=pool.NullPool,
        connect_args=timeout.get(driver, {}),
    )
    query = text(
        "SELECT current_user, rolcreatedb OR rolsuper, "
        "(SELECT count(*) FROM pg_database WHERE datname = :name) "
        "FROM pg_roles WHERE rolname = current_user"
    )

    async def ask() -> Any:
        async with engine.connect() as connection:
            return (await connection.execute(query, {"name": url.database})).one()

    try:
        user, can_create, exists = await connect_first(ask(), server)
    except ConfigurationError as exc:
        raise CheckFailed(str(exc)) from None
    finally:
        await engine.dispose()
    return server_verdict(server, url.database or "", user, can_create, exists)


def server_verdict(server: Server, name: str, user: str, can_create: bool, exists: int) -> Outcome:
    """The server line, from what PostgreSQL said about the connected role."""
    from aksara_testing._db import no_createdb

    if not can_create:
        raise CheckFailed(str(no_createdb(replace(server, user=user))))
    kept = f"; {name} exists (kept by --reuse-db)" if exists else ""
    return (
        "ok",
        f"PostgreSQL at {server.address}: connected as {user}, may create databases{kept}",
    )
