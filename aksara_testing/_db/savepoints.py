"""Savepoint statements, sent the cheapest way each driver allows.

A test that commits once costs about six savepoint statements (its layer's
``ROLLBACK TO``, the session's ``SAVEPOINT`` and ``RELEASE``...). Through
SQLAlchemy's execute path each one pays for a cursor, events and result
handling, and on asyncpg a statement preparation, because SQLAlchemy's
savepoint names never repeat. None of them takes parameters or returns rows,
so the test engine sends them straight to the driver:

- SQLite: executed at once on the sqlite3 connection (it runs on the loop thread,
  or, for sync apps, on the thread using it);
- PostgreSQL (asyncpg, psycopg 3, psycopg2): queued, and sent as one simple-query
  message just before the next statement that needs the server, so
  ``ROLLBACK TO a; SAVEPOINT b`` is one round trip instead of two (the order of
  statements is unchanged). Other drivers get each statement at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

__all__ = ["SavepointChannel"]

_BATCHING = frozenset({"asyncpg", "psycopg", "psycopg2"})


class SavepointChannel:
    """Installed on the test engine: routes every savepoint statement through :meth:`send`."""

    def __init__(self, engine: AsyncEngine | Engine) -> None:
        sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
        self.discarding = False  # a layer rollback follows: sessions' own ROLLBACK TO is moot
        self._pending: list[str] = []
        dialect: Any = sync_engine.dialect
        self._asyncpg = dialect.driver == "asyncpg"
        self._batching = dialect.name == "postgresql" and dialect.driver in _BATCHING
        dialect.do_savepoint = lambda conn, name: self.send(conn, f"SAVEPOINT {name}")
        dialect.do_release_savepoint = lambda conn, name: self.send(
            conn, f"RELEASE SAVEPOINT {name}"
        )
        dialect.do_rollback_to_savepoint = self._rollback_to
        if self._batching:
            self.watch(sync_engine)

    def watch(self, engine: Engine) -> None:
        """Send queued statements before each statement ``engine`` runs on the test connection."""
        event.listen(engine, "before_cursor_execute", self._before_execute)

    def _rollback_to(self, connection: Connection, name: str) -> None:
        if not self.discarding:
            self.send(connection, f"ROLLBACK TO SAVEPOINT {name}")

    def send(self, connection: Connection, sql: str) -> None:
        """Run (or, on PostgreSQL, queue) one savepoint statement on ``connection``."""
        if self._batching:
            self._pending.append(sql)
        else:
            self._execute(connection.connection.driver_connection, sql)

    def flush(self, connection: Connection) -> None:
        """Send queued statements now (async drivers: from inside SQLAlchemy's greenlet)."""
        if self._pending:
            batch = "; ".join(self._pending)
            self._pending.clear()
            self._execute(connection.connection.driver_connection, batch)

    def _execute(self, driver: Any, sql: str) -> None:
        if self._asyncpg:
            await_only(driver.execute(sql))
            return
        sqlite3_connection = getattr(driver, "sqlite3_connection", None)  # ours, inline aiosqlite
        if sqlite3_connection is not None:
            sqlite3_connection.execute(sql)
            return
        cursor = driver.cursor()  # pysqlite, psycopg 3, psycopg2, pg8000
        try:
            cursor.execute(sql)
        finally:
            cursor.close()

    def discard(self) -> None:
        """Forget queued statements: the whole transaction is being rolled back."""
        self._pending.clear()

    def _before_execute(self, connection: Connection, *_args: Any) -> None:
        if self._pending:
            self.flush(connection)
