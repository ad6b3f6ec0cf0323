"""The test database: create it, build its schema, reuse it, drop it.

Only :func:`aksara_testing._db.urls.check_safe` hands out the :class:`SafeTarget`
that every destructive function here requires.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.schema import CreateIndex, CreateTable

from .._text import error_line
from .urls import SafeTarget, backend_of, is_memory

__all__ = [
    "DatabaseHandle",
    "SchemaSource",
    "build_database",
    "build_schema",
    "create_engine_for",
    "drop_database",
    "empty_tables",
    "fingerprint",
    "fingerprint_comment",
    "mark_clean",
    "mark_dirty",
    "recreate_database",
    "store_fingerprint",
    "stored_fingerprint",
]

_FINGERPRINT_PREFIX = "aksara-schema:"


@dataclass(frozen=True)
class SchemaSource:
    """What the schema is built from, and a fingerprint of it for ``--reuse-db``."""

    metadata: MetaData | None
    build: Callable[[AsyncEngine], Awaitable[None]] | None = None  # None: create_all
    digest: str | None = None  # the fingerprint when ``build`` is given

    def fingerprint(self, engine: AsyncEngine) -> str:
        if self.digest is not None:
            return f"{self.digest}-{engine.dialect.name}"
        return fingerprint(self.metadata, engine) if self.metadata is not None else "empty"


@dataclass
class DatabaseHandle:
    """The test database of this run: its URL and the engine tests use.

    Returned by :func:`aksara_testing.setup_test_database`.
    """

    url: URL
    engine: AsyncEngine
    reused: bool = False
    note: str = ""
    fingerprint: str = ""


def fingerprint(metadata: MetaData, engine: AsyncEngine) -> str:
    """A hash of the DDL ``metadata`` produces on ``engine``'s dialect."""
    dialect = engine.dialect
    digest = hashlib.sha256()
    for table in metadata.sorted_tables:
        digest.update(str(CreateTable(table).compile(dialect=dialect)).encode())
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            digest.update(str(CreateIndex(index).compile(dialect=dialect)).encode())
    return digest.hexdigest()[:16]


def create_engine_for(url: URL) -> AsyncEngine:
    """The engine tests run on: SQLite on the loop thread, PostgreSQL via asyncpg."""
    if backend_of(url) == "sqlite":
        from .sqlite import create_sqlite_engine

        return create_sqlite_engine(url)
    return create_async_engine(url)


async def build_database(
    target: SafeTarget, source: SchemaSource, *, reuse: bool
) -> DatabaseHandle:
    """Create the database at ``target`` with its schema, or reuse it if unchanged."""
    url = target.url
    engine = create_engine_for(url)
    wanted = source.fingerprint(engine)
    if reuse and not is_memory(url):
        found = await stored_fingerprint(url, engine)
        if found == wanted:
            return DatabaseHandle(
                url, engine, reused=True, note="reused (schema unchanged)", fingerprint=wanted
            )
        note = "rebuilt (schema changed)" if found else "created"
    else:
        note = "created"
    await engine.dispose()
    await recreate_database(target)
    engine = create_engine_for(url)
    try:
        await build_schema(engine, source)
    except BaseException:
        await engine.dispose()
        await drop_database(target)  # a half-built database is never left behind
        raise
    if not is_memory(url):
        await store_fingerprint(url, wanted)
    return DatabaseHandle(url, engine, note=note, fingerprint=wanted)


async def build_schema(engine: AsyncEngine, source: SchemaSource) -> None:
    """Build ``source``'s schema in the (empty) database of ``engine``."""
    if source.build is not None:
        await source.build(engine)
    elif source.metadata is not None:
        async with engine.begin() as connection:
            await connection.run_sync(source.metadata.create_all)


async def mark_dirty(url: URL) -> None:
    """Make a reused database look changed until :func:`mark_clean` (transactional tests)."""
    if not is_memory(url):
        await store_fingerprint(url, "dirty")


async def mark_clean(url: URL, fingerprint: str) -> None:
    if not is_memory(url):
        await store_fingerprint(url, fingerprint)


_KEEP_TABLES = frozenset({"alembic_version"})


# How long emptying waits for a lock before it gives up with an error, not a hang.
LOCK_WAIT_SECONDS = 10


async def empty_tables(target: SafeTarget, engine: AsyncEngine) -> None:
    """Delete every row of every table at ``target`` (Alembic's version table excepted).

    A lock another connection keeps (one aksara could not close) makes this
    fail after :data:`LOCK_WAIT_SECONDS` with a one-line error instead of
    waiting forever.
    """

    def empty(connection: Connection) -> None:
        metadata = MetaData()
        metadata.reflect(connection)
        tables = [t for t in metadata.sorted_tables if t.name not in _KEEP_TABLES]
        if not tables:
            return
        if connection.dialect.name == "postgresql":
            names = ", ".join(
                connection.dialect.identifier_preparer.format_table(t) for t in tables
            )
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'")
            connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            return
        for table in reversed(tables):
            connection.execute(table.delete())

    try:
        async with engine.begin() as connection:
            await connection.run_sync(empty)
    except Exception as exc:
        if not _lock_held(exc):
            raise
        from ..errors import AksaraError

        raise AksaraError(
            f"could not empty the test database after a transactional test: {error_line(exc)}; "
            "a connection aksara did not open, and may not close, holds a lock on its tables "
            "(a psql session, a raw driver connection, a wider-scoped fixture's connection): "
            "close it"
        ) from None


def _lock_held(exc: BaseException) -> bool:
    """PostgreSQL's lock_timeout, or SQLite's busy write lock: told by code, not by text."""
    from .sqlstate import LOCK_NOT_AVAILABLE, sqlstate

    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlite_errorname", None) == "SQLITE_BUSY":
        return True
    return sqlstate(exc) == LOCK_NOT_AVAILABLE


async def drop_database(target: SafeTarget) -> None:
    """Drop the database at ``target`` (and its reuse marker)."""
    url = target.url
    if is_memory(url):
        return
    if backend_of(url) == "sqlite":
        path = Path(url.database or "")
        for leftover in (path, _marker_path(path), *_sqlite_journals(path)):
            leftover.unlink(missing_ok=True)
        return
    from .postgres import drop

    await drop(url)


async def recreate_database(target: SafeTarget) -> None:
    """Drop the database at ``target`` if it exists and create it empty."""
    url = target.url
    if is_memory(url):
        return
    if backend_of(url) == "sqlite":
        await drop_database(target)
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
        return
    from .postgres import recreate

    await recreate(url)


async def stored_fingerprint(url: URL, engine: AsyncEngine) -> str | None:
    """The fingerprint kept with the database at ``url``; None if it has none."""
    if backend_of(url) == "sqlite":
        path = Path(url.database or "")
        marker = _marker_path(path)
        if path.is_file() and marker.is_file():
            return marker.read_text().strip()
        return None
    from .postgres import read_own_comment

    comment = await read_own_comment(engine)
    return (
        comment[len(_FINGERPRINT_PREFIX) :]
        if comment and comment.startswith(_FINGERPRINT_PREFIX)
        else None
    )


async def store_fingerprint(url: URL, value: str) -> None:
    """Keep ``value`` with the database (a sidecar file, or the PostgreSQL comment)."""
    if backend_of(url) == "sqlite":
        _marker_path(Path(url.database or "")).write_text(value)
        return
    from .postgres import write_comment

    await write_comment(url, fingerprint_comment(value))


def fingerprint_comment(value: str) -> str:
    """The PostgreSQL database comment that carries a schema fingerprint."""
    return _FINGERPRINT_PREFIX + value


def _marker_path(path: Path) -> Path:
    return path.with_name(path.name + ".aksara")


def _sqlite_journals(path: Path) -> list[Path]:
    return [path.with_name(path.name + s) for s in ("-journal", "-wal", "-shm")]
