"""SQLite test engines: sqlite3 on the event-loop thread, with working savepoints.

aiosqlite runs every call on a worker thread, and each hop costs ~0.12 ms here
(about 25 hops per test). A test database is private to the test process, so
running SQLite calls directly on the loop thread is safe and removes them all.
Our engines go one step further: their DBAPI connection calls sqlite3 itself,
so a statement is not a coroutine handed through SQLAlchemy's greenlet
bridge either (see :class:`InlineAdaptedConnection`). The driver connection
is still an aiosqlite connection, for code that reaches for it.
Python's sqlite3 does not emit BEGIN before SAVEPOINT, so we open connections
with ``isolation_level=None`` and emit BEGIN ourselves (SQLAlchemy's recipe).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

import aiosqlite
from greenlet import getcurrent  # type: ignore[import-untyped]
from sqlalchemy import event, pool
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import concurrency
from sqlalchemy.util.concurrency import in_greenlet

# SQLAlchemy 2.1 renamed await_only to await_ (the old name is deprecated).
await_: Callable[[Any], Any] = getattr(concurrency, "await_", None) or concurrency.await_only

__all__ = [
    "InlineAdaptedConnection",
    "configure_connection",
    "create_sqlite_engine",
    "emit_begin",
    "inline_aiosqlite",
]


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

    def open(self) -> LoopThreadConnection:
        """Connect now, from synchronous code (what awaiting it would do)."""
        if self._connection is None:
            self._connection = self._connector()
        return self

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class InlineCursor:
    """A DBAPI cursor over sqlite3 for :class:`InlineAdaptedConnection`.

    It behaves as SQLAlchemy's aiosqlite cursor does (rows fetched at
    ``execute``, the sqlite3 cursor closed at once, the same ``rowcount`` and
    ``lastrowid``) without a coroutine per call: SQLAlchemy's ``await_`` costs
    two greenlet switches, about a fifth of a small test's database work.
    """

    __slots__ = ("_adapted", "_rows", "arraysize", "description", "lastrowid", "rowcount")
    server_side = False

    def __init__(self, adapted: InlineAdaptedConnection) -> None:
        self._adapted = adapted
        self._rows: deque[Any] = deque()
        self.arraysize = 1
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.description: Any = None

    def execute(self, operation: str, parameters: Any = None) -> None:
        if parameters is None:
            self._run("execute", operation)
        else:
            self._run("execute", operation, parameters)

    def executemany(self, operation: str, seq_of_parameters: Any) -> None:
        self._run("executemany", operation, seq_of_parameters)

    def _run(self, method: str, *args: Any) -> None:
        self._adapted.yield_once()
        try:
            cursor = self._adapted.sqlite3_connection().cursor()
            try:
                getattr(cursor, method)(*args)
                self._took(cursor)
            finally:
                cursor.close()
        except Exception as error:
            self._adapted._handle_exception(error)

    def _took(self, cursor: sqlite3.Cursor) -> None:
        if cursor.description:
            self.description = cursor.description
            self.lastrowid = self.rowcount = -1
            self._rows = deque(cursor.fetchall())
        else:
            self.description = None
            self.lastrowid = cursor.lastrowid
            self.rowcount = cursor.rowcount

    def setinputsizes(self, *inputsizes: Any) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        count = self.arraysize if size is None else size
        rows = self._rows
        return [rows.popleft() for _ in range(min(count, len(rows)))]

    def fetchall(self) -> Sequence[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def close(self) -> None:
        self._rows.clear()

    async def _async_soft_close(self) -> None:  # SQLAlchemy's asyncio results call it
        return


class InlineAdaptedConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite DBAPI connection, with its hot calls made on sqlite3 directly.

    Statements, ``commit()`` and ``rollback()`` call sqlite3 at once; the rest
    (server-side cursors, ``close()``, ``create_function()``, the isolation
    level) is SQLAlchemy's, through the :class:`LoopThreadConnection` beneath.
    """

    __slots__ = ("_yielded_in",)

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._yielded_in: object = None

    def yield_once(self) -> None:
        """Hand control to the event loop once per SQLAlchemy greenlet, not once per call.

        ``AsyncConnection.execute()`` insists that its greenlet switched at
        least once (``AwaitRequired`` otherwise); the first statement of each
        greenlet pays that one switch, the rest run straight through.
        """
        current = getcurrent()
        if current is not self._yielded_in and in_greenlet():
            self._yielded_in = current
            await_(_no_op())

    def sqlite3_connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection = self._connection.sqlite3_connection
        return connection

    def cursor(self, server_side: bool = False) -> Any:
        if server_side:
            return super().cursor(server_side=True)
        return InlineCursor(self)

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        cursor = InlineCursor(self)
        cursor.execute(*args, **kwargs)
        return cursor

    def commit(self) -> None:
        connection = self._connection._connection
        if connection is not None:
            try:
                connection.commit()
            except Exception as error:
                self._handle_exception(error)

    def rollback(self) -> None:
        connection = self._connection._connection
        if connection is not None:
            try:
                connection.rollback()
            except Exception as error:
                self._handle_exception(error)


async def _no_op() -> None:
    return None


def create_sqlite_engine(url: URL, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` whose connections call sqlite3 on the loop thread."""
    database = url.database or ":memory:"
    connector = partial(sqlite3.connect, database, isolation_level=None, check_same_thread=False)
    engines: list[AsyncEngine] = []

    def creator() -> InlineAdaptedConnection:
        dbapi = engines[0].sync_engine.dialect.loaded_dbapi
        driver: Any = LoopThreadConnection(connector).open()
        return InlineAdaptedConnection(dbapi, driver)

    if database == ":memory:":
        # One connection, shared: every new connection would be a new empty database.
        kwargs.setdefault("poolclass", pool.StaticPool)
    engine = create_async_engine(url, creator=creator, **kwargs)
    engines.append(engine)
    event.listen(engine.sync_engine, "begin", emit_begin)
    event.listen(engine.sync_engine, "connect", configure_connection)
    return engine


def emit_begin(connection: Connection) -> None:
    # An AUTOCOMMIT connection runs each statement in its own transaction: no BEGIN.
    if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
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
