"""SQLite test engines: aiosqlite on the event-loop thread, with working savepoints.

aiosqlite runs every call on a worker thread, and each hop costs ~0.12 ms here
(about 25 hops per test). A test database is private to the test process, so
running SQLite calls directly on the loop thread is safe and removes them all.
Python's sqlite3 does not emit BEGIN before SAVEPOINT, so we open connections
with ``isolation_level=None`` and emit BEGIN ourselves (SQLAlchemy's recipe).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy import event, pool
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["configure_connection", "create_sqlite_engine", "emit_begin", "inline_aiosqlite"]


class _InlineQueue:
    """Stands in for aiosqlite's queue to its worker thread: runs each call at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        if not isinstance(item, tuple):  # aiosqlite 0.20's stop sentinel: no thread to stop
            return
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as aiosqlite does
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class LoopThreadConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the event-loop thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _InlineQueue()  # type: ignore[assignment]

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    @property
    def sqlite3_connection(self) -> sqlite3.Connection:
        """The underlying sqlite3 connection, safe to use directly on the loop thread."""
        return self._conn

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        return self._connect().__await__()  # no worker thread to start

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def create_sqlite_engine(url: URL, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` whose connections run on the loop thread."""
    database = url.database or ":memory:"
    connector = partial(sqlite3.connect, database, isolation_level=None, check_same_thread=False)

    async def creator() -> aiosqlite.Connection:
        return await LoopThreadConnection(connector)

    if database == ":memory:":
        # One connection, shared: every new connection would be a new empty database.
        kwargs.setdefault("poolclass", pool.StaticPool)
    engine = create_async_engine(url, async_creator=creator, **kwargs)
    event.listen(engine.sync_engine, "begin", emit_begin)
    event.listen(engine.sync_engine, "connect", configure_connection)
    return engine


def emit_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def configure_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # Readers never block writers: transactional tests write from other connections.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


@contextmanager
def inline_aiosqlite(database: str, durable: bool = True) -> Iterator[None]:
    """While inside, aiosqlite connections to the file ``database`` run on the loop thread.

    For engines we do not create (the project's env.py builds its own from
    the URL we hand it): each statement then skips aiosqlite's two thread
    hops. The sqlite3 connection gets the same arguments it would have got
    (isolation level included), so the SQL and its transactions are
    unchanged. ``durable=False`` also turns off fsync (``PRAGMA
    synchronous=OFF``), for scratch files that are deleted afterwards.
    """
    target = os.path.realpath(database)

    def inline(dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        if dialect.driver != "aiosqlite" or "async_creator_fn" in cparams:
            return
        name = cargs[0] if cargs else cparams.get("database")
        if not isinstance(name, str) or os.path.realpath(name) != target:
            return
        cparams["async_creator_fn"] = partial(_inline_connection, durable)

    event.listen(Engine, "do_connect", inline)
    try:
        yield
    finally:
        event.remove(Engine, "do_connect", inline)


def _inline_connection(durable: bool, *args: Any, **kwargs: Any) -> LoopThreadConnection:
    kwargs.pop("iter_chunk_size", None)
    kwargs["check_same_thread"] = False  # the pool may close it from another thread

    def connect() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(*args, **kwargs)
        if not durable:
            connection.execute("PRAGMA synchronous=OFF")
        return connection

    return LoopThreadConnection(connect)
