"""What a test left open on the test database: found, named and closed after it.

A session or connection nobody closed keeps its transaction, and the locks
it took, after its test ended. After a transactional test that stopped the
run: PostgreSQL's ``TRUNCATE`` waited for those locks forever, and SQLite
answered every later write with "database is locked". So after each test,
aksara closes what the test opened on the test database and left open —
connections of any SQLAlchemy engine on it, and, in transactional tests,
the app's sessions and (PostgreSQL) any server session still inside a
transaction — and fails the test with one line naming each.

Sessions of ordinary tests run on the shared test connection: the layer's
rollback ends them, so they are not leftovers.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.orm import Session

from .._settings import mask_url
from .endpoints import endpoint_of_url, same_database
from .guard import ADMIN_APPLICATION
from .sqlstate import sqlstate

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from .._settings import Settings

__all__ = ["LeftoverWatch", "close_leftovers", "end_sessions_in_transaction", "left_open_message"]


class LeftoverWatch:
    """Remembers the connections to the test database that the running test opens.

    Installed with the shared test connection (see :class:`~.isolation.Isolation`).
    Only connections opened while a test (or one of its function-scoped
    fixtures) runs count: wider-scoped fixtures may keep theirs open.
    """

    def __init__(self, url: URL) -> None:
        self.url = url
        self._connections: list[weakref.ref[Connection]] = []
        self.sessions: weakref.WeakSet[Session] = weakref.WeakSet()  # of transactional tests
        self._on_test_database_by_engine: weakref.WeakKeyDictionary[Engine, bool] = (
            weakref.WeakKeyDictionary()
        )

    def install(self) -> None:
        event.listen(Engine, "engine_connect", self._opened)

    def uninstall(self) -> None:
        if event.contains(Engine, "engine_connect", self._opened):
            event.remove(Engine, "engine_connect", self._opened)

    def _opened(self, connection: Connection) -> None:
        from .._context import current_run

        runtime = current_run()
        if runtime is None or runtime.own_sql or runtime.item is None:
            return  # our own connections, or nobody's test
        if runtime.current_node() is not runtime.item or not self._on_test_database(connection):
            return
        self._connections.append(weakref.ref(connection))

    def _on_test_database(self, connection: Connection) -> bool:
        engine = connection.engine
        found = self._on_test_database_by_engine.get(engine)
        if found is None:
            found = self._on_test_database_by_engine[engine] = _same_database(engine.url, self.url)
        return found

    def open_connections(self) -> list[Connection]:
        """The connections the test opened and has not closed."""
        alive = (ref() for ref in self._connections)
        return [c for c in alive if c is not None and not c.closed and not c.invalidated]

    def forget(self) -> None:
        """The test is over and dealt with: start afresh for the next one."""
        self._connections.clear()
        self.sessions.clear()


async def close_leftovers(
    watch: LeftoverWatch,
    settings: Settings,
    engine: AsyncEngine,
    *,
    ours: set[Session],
    sweep: bool,
) -> list[str]:
    """Close what the test that just ended left open; one description per thing closed.

    ``ours``: sessions aksara owns (``db_session``), closed by the caller.
    ``sweep`` (transactional tests, PostgreSQL): also end the server sessions
    on the test database still inside a transaction, whoever opened them — a
    raw driver connection, another process.
    """
    from sqlalchemy.util import greenlet_spawn

    found = []
    for session in list(watch.sessions):
        if session not in ours and session.in_transaction():
            found.append(f"{describe_session(session, settings)} (in a transaction)")
            await greenlet_spawn(session.invalidate)  # as close_connection(), no rollback
    for connection in watch.open_connections():
        found.append(describe_connection(connection))
        await greenlet_spawn(close_connection, connection)
    watch.forget()
    if sweep and engine.dialect.name == "postgresql":
        found += await end_sessions_in_transaction(engine)
    return found


_IN_TRANSACTION = text(
    "SELECT pid, state, application_name, query FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND backend_type = 'client backend' AND xact_start IS NOT NULL "
    "AND application_name NOT LIKE :ours ORDER BY pid"
)


async def end_sessions_in_transaction(engine: AsyncEngine, wait: float = 1.0) -> list[str]:
    """End the other sessions on ``engine``'s PostgreSQL database that are inside a transaction.

    After a transactional test nothing may hold a transaction there: its locks
    would make emptying the tables wait forever. Sessions get ``wait`` seconds
    to finish by themselves (a connection closed a moment ago leaves within
    milliseconds), then ``pg_terminate_backend`` ends them. Returns one line
    per session ended (or that could not be: another role's, without the
    privilege); idle sessions, such as connections kept in a pool, are left alone.
    """
    deadline = time.monotonic() + wait
    found = []
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")  # a fresh view each time
        params = {"ours": f"{ADMIN_APPLICATION}%"}
        while (rows := (await connection.execute(_IN_TRANSACTION, params)).all()) and (
            time.monotonic() < deadline
        ):
            await asyncio.sleep(0.05)
        for pid, state, application, query in rows:
            try:
                await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                outcome = "ended with pg_terminate_backend"
            except Exception as exc:
                outcome = f"not ended: {type(exc).__name__} {sqlstate(exc) or ''}".rstrip()
            shown = " ".join(str(query or "").split())
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            name = f", application {application!r}" if application else ""
            found.append(
                f"PostgreSQL session {pid} ({state}{name}, last query {shown!r}), {outcome}"
            )
    return found


def left_open_message(found: list[str]) -> str:
    """The one line a test fails with when it left sessions or connections open."""
    from ..errors import AksaraError

    return str(
        AksaraError(
            "this test left the test database in use, so aksara closed what it left open "
            f"(later tests would wait for its locks): {'; '.join(found)}; close every "
            "session and connection a test opens, e.g. with `async with SessionLocal() as "
            "session:`"
        )
    )


def close_connection(connection: Connection) -> None:
    """Close ``connection`` without a round trip: its transaction ends with it.

    Invalidating drops the driver connection (SQLite's locks go with it; the
    PostgreSQL server rolls back). A rollback could wait behind a lock, or on
    a query still running in a task the test left behind. Call it inside
    SQLAlchemy's greenlet (``greenlet_spawn``).
    """
    connection.invalidate()
    connection.close()


def describe_connection(connection: Connection) -> str:
    state = "in a transaction" if connection.in_transaction() else "no transaction"
    shown = mask_url(connection.engine.url.render_as_string(hide_password=False))
    return f"a connection of engine {shown} ({state})"


def describe_session(session: Session, settings: Settings) -> str:
    """``a session of appdb:SessionLocal``: the ``session`` setting entry that made it."""
    names = _makers_of(session, settings)
    return f"a session of {' or '.join(names)}" if names else "a session"


def _makers_of(session: Session, settings: Settings) -> list[str]:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from .._imports import import_target

    found = []
    for spec in settings.session:
        try:
            maker = import_target(settings, "session", spec)
        except Exception:  # reported by the session set-up already
            continue
        if not isinstance(maker, async_sessionmaker):
            continue
        bind = maker.kw.get("bind")
        same_bind = getattr(bind, "sync_engine", bind) is session.bind
        if same_bind and isinstance(session, maker.kw.get("sync_session_class", Session)):
            found.append(spec)
    return found


def _same_database(engine_url: URL, test_url: URL) -> bool:
    """Whether an engine's URL may be the test database (:func:`.endpoints.same_database`).

    A relative SQLite path is the driver's: taken from the working directory.
    """
    found = [
        endpoint_of_url(url.render_as_string(hide_password=False), Path.cwd())
        for url in (engine_url, test_url)
    ]
    engine, test = found
    return engine is not None and test is not None and same_database(engine, test)
