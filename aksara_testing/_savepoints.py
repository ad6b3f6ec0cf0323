"""Savepoint statements, sent the cheapest way each driver allows.

A test that commits once costs about six savepoint statements (its layer's
``ROLLBACK TO``, the session's ``SAVEPOINT`` and ``RELEASE``...). Through
SQLAlchemy's execute path each one pays for a cursor, events and result
handling, and on asyncpg a statement preparation, because SQLAlchemy's
savepoint names never repeat. None of them takes parameters or returns rows,
so the test engine sends them straight to the driver:

- SQLite: executed at once on the sqlite3 connection (it runs on the loop thread);
- PostgreSQL: queued, and sent as one simple-query message just before the
  next statement that needs the server, so ``ROLLBACK TO a; SAVEPOINT b`` is
  one round trip instead of two (the order of statements is unchanged).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

__all__ = ["SavepointChannel"]


class SavepointChannel:
    """Installed on the test engine: routes every savepoint statement through :meth:`send`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.discarding = False  # a layer rollback follows: sessions' own ROLLBACK TO is moot
        self._pending: list[str] = []
        self._batching = engine.dialect.name == "postgresql"
        dialect: Any = engine.sync_engine.dialect
        dialect.do_savepoint = lambda conn, name: self.send(conn, f"SAVEPOINT {name}")
        dialect.do_release_savepoint = lambda conn, name: self.send(
            conn, f"RELEASE SAVEPOINT {name}"
        )
        dialect.do_rollback_to_savepoint = self._rollback_to
        if self._batching:
            event.listen(engine.sync_engine, "before_cursor_execute", self._before_execute)

    def _rollback_to(self, connection: Connection, name: str) -> None:
        if not self.discarding:
            self.send(connection, f"ROLLBACK TO SAVEPOINT {name}")

    def send(self, connection: Connection, sql: str) -> None:
        """Run (or, on PostgreSQL, queue) one savepoint statement on ``connection``."""
        if self._batching:
            self._pending.append(sql)
            return
        driver: Any = connection.connection.driver_connection
        driver.sqlite3_connection.execute(sql)

    def flush(self, connection: Connection) -> None:
        """Send queued statements now (call from inside SQLAlchemy's greenlet)."""
        if self._pending:
            batch = "; ".join(self._pending)
            self._pending.clear()
            driver: Any = connection.connection.driver_connection
            await_only(driver.execute(batch))

    def discard(self) -> None:
        """Forget queued statements: the whole transaction is being rolled back."""
        self._pending.clear()

    def _before_execute(self, connection: Connection, *_args: Any) -> None:
        if self._pending:
            self.flush(connection)
