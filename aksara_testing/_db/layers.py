"""The run's test layers: which connection a session gets, and the clean-up after each test.

:class:`TestLayers` holds the one connection of :mod:`.isolation` (async, or a
sync app's own driver), hands sessions their connection for the scope that
runs (:meth:`TestLayers.connection_for`), gives ``transactional`` tests real
connections and empties the tables after them, and after each test forgets
the sessions of the scopes that ended and closes what the test left open.
What it needs to know of the pytest run (the current scope, the session loop)
it asks the run through :class:`aksara_testing._context.Run`. Nothing here
imports SQLAlchemy before the database is built.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import AksaraError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.ext.asyncio import AsyncConnection

    from .._context import Run
    from .isolation import Isolation, Joined
    from .lifecycle import DatabaseHandle
    from .testdb import TestDatabase

__all__ = ["TestLayers"]


class TestLayers:
    """The rolled-back layers on one process's test database."""

    __test__ = False  # not a test class

    def __init__(self, run: Run, database: TestDatabase) -> None:
        self.run = run
        self.database = database
        self.isolation: Isolation | None = None
        self.sync_engine: Engine | None = None  # a sync app's layer engine (its own driver)
        self.layer_sessions: dict[object, Any] = {}  # AsyncSession, or a sync run's Session
        self.transactional_items: set[pytest.Item] = set()
        self._suspended_by: str | None = None  # the transactional test whose rows are kept
        self.left_open: list[str] = []  # what the test that just ended left open

    async def start(self, handle: DatabaseHandle, sync_driver: str | None) -> None:
        """Open the layer connection: an async one, or one with a sync app's driver."""
        from .isolation import Isolation

        if sync_driver is None:
            self.isolation = await Isolation.start(handle.engine)
            return
        from .engines import create_sync_test_engine
        from .urls import is_memory

        shared = None
        if is_memory(handle.url):  # the one connection holding the database
            async with handle.engine.connect() as connection:
                raw = await connection.get_raw_connection()
                shared = raw.driver_connection.sqlite3_connection  # type: ignore[union-attr]
        self.sync_engine = create_sync_test_engine(handle.url, sync_driver, shared)
        self.isolation = Isolation.start_sync(self.sync_engine)

    async def close(self) -> None:
        """End of the run: roll the layers back and close their connection."""
        self.layer_sessions.clear()
        if self.isolation is not None:
            if self.isolation.suspended:
                await self._empty_tables()
            await self.isolation.close()
            self.isolation = None
        if self.sync_engine is not None:
            self.sync_engine.dispose()
            self.sync_engine = None

    # -- connections ---------------------------------------------------------------

    def _started(self) -> Isolation:
        if self.isolation is None:
            self.run.wait(self.run.activate())
        assert self.isolation is not None
        return self.isolation

    def _handle(self) -> DatabaseHandle:
        assert self.database.handle is not None
        return self.database.handle

    def _real_engine(self) -> Engine:
        """Where a ``transactional`` test's sessions go: real transactions, real commits."""
        return self.sync_engine or self._handle().engine.sync_engine

    def is_layer_dbapi(self, dbapi_connection: Any) -> bool:
        """True when ``dbapi_connection`` is the layer's (see :mod:`.engines`)."""
        if self.isolation is None:
            return False
        return dbapi_connection is self.isolation.sync_connection.connection.dbapi_connection

    def routed_dbapi_connection(self) -> Any:
        """A DBAPI connection for a routed app engine: the layer's, or a new one (transactional)."""
        isolation = self._started()
        item = self._transactional_item()
        if item is None:
            return isolation.sync_connection.connection.dbapi_connection
        if not isolation.suspended:
            self._suspend_for(item, isolation)
        own = self._real_engine().raw_connection()
        raw = own.dbapi_connection
        own.detach()  # closed by the app engine's pool, as its own would be
        return raw

    async def layer_connection(self) -> AsyncConnection | None:
        """The shared connection, its layers aligned to the current scope (``db_connection``).

        None in a transactional test: it has no shared transaction, the caller
        opens a connection of its own.
        """
        await self.run.activate()
        isolation = self._started()
        bound = await isolation.run(lambda: self.connection_for(None))
        if bound is not isolation.sync_connection:
            return None
        return isolation.connection  # type: ignore[return-value]

    def connection_for(self, session: Any) -> Connection | Engine:
        """Called by sessions (async ones from inside SQLAlchemy's greenlet): the connection."""
        isolation = self._started()
        item = self._transactional_item()
        if isolation.suspended and item is None:
            culprit = self._suspended_by  # left over: the loop was busy after that test
            self._report_left_open(self.run.wait(self._empty_tables()), culprit)
        if item is not None:
            if not isolation.suspended:
                self._suspend_for(item, isolation)
            from sqlalchemy.orm import Session

            if isinstance(session, Session):
                isolation.watch.sessions.add(session)  # closed, and named, if left open
            return self._real_engine()
        joined: Session | Joined | None = session
        return isolation.bind(joined, self.run.scope_chain(self.run.current_node()))

    def _transactional_item(self) -> pytest.Item | None:
        """The running test, if it is ``transactional`` and its own code is what runs now."""
        item: pytest.Item | None = self.run.item
        if item is not None and item in self.transactional_items:
            return item if self.run.current_node() is item else None
        return None

    # -- transactional tests -------------------------------------------------------

    def _suspend_for(self, item: pytest.Item, isolation: Isolation) -> None:
        if isolation.holds_data(self.run.scope_chain(item)):
            raise AksaraError(
                f"{item.nodeid} is marked transactional, but data written by session-, "
                "package-, module- or class-scoped fixtures is still in the test transaction "
                "and would be lost; move the test to a module of its own or drop that fixture"
            )
        isolation.suspend()
        self._suspended_by = item.nodeid
        if self.database.reuse:
            from .lifecycle import mark_dirty

            # Killed before the tables are emptied? The next run must rebuild.
            self.run.wait(mark_dirty(self._handle().url))

    async def _empty_tables(self) -> list[str]:
        """After a transactional test: close what it left open, delete every row it committed.

        Returns what the test left open (see :mod:`.leftovers`).
        """
        from .leftovers import close_leftovers
        from .lifecycle import empty_tables, mark_clean
        from .urls import check_safe

        handle, isolation, settings = self._handle(), self._started(), self.database.settings
        found: list[str] = []
        self.run.own_sql = True  # our own connections are neither counted nor leftovers
        try:
            for session in list(self.layer_sessions.values()):
                if session.in_transaction():  # e.g. a read after the last commit: it holds locks
                    closing = session.close()
                    if closing is not None:  # an AsyncSession's
                        await closing
            ours = {getattr(s, "sync_session", s) for s in self.layer_sessions.values()}
            found = await close_leftovers(
                isolation.watch, settings, handle.engine, ours=ours, sweep=True
            )
            await empty_tables(check_safe(handle.url, settings), handle.engine)
            if self.database.reuse:
                await mark_clean(handle.url, handle.fingerprint)
            await isolation.run(self._resume)
        finally:
            self.run.own_sql = False
        return found

    def _resume(self) -> None:
        self._started().resume()
        self._suspended_by = None

    # -- after each test -----------------------------------------------------------

    def after_item(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        """After a test's teardown: forget the sessions of the scopes that ended.

        Their savepoints are rolled back on the next database use (or at the end
        of the run): every session asks :meth:`connection_for` first, so no
        statement can run before it, and a test that does not touch the database
        pays nothing. What the test left open on the test database is closed
        now, and fails the test (see :mod:`.leftovers`).
        """
        isolation = self.isolation
        if isolation is None:
            return
        ended = self.run.scope_chain(item)
        upcoming = self.run.scope_chain(nextitem) if nextitem is not None else ()
        transactional = item in self.transactional_items
        if isolation.suspended or (transactional and not isolation.holds_data(ended)):
            self._when_idle(self._after_transactional(isolation))
        else:
            if self.run.kind == "sync":
                isolation.close_ended(_shared_depth(ended, upcoming))
            if self.layer_sessions:
                alive = {*upcoming, self.run.session_node}
                for node in [n for n in self.layer_sessions if n not in alive]:
                    # Its savepoint is about to be rolled back: no need to close it first.
                    session = self.layer_sessions.pop(node)
                    isolation.forget(getattr(session, "sync_session", session))
            if isolation.watch.open_connections():
                self._when_idle(self._close_left_open(isolation))
            isolation.watch.forget()
        found, self.left_open = self.left_open, []
        self._report_left_open(found)

    async def _after_transactional(self, isolation: Isolation) -> None:
        if not isolation.suspended:  # no session ran, yet other connections may have committed
            await isolation.run(isolation.suspend)
        self.left_open = await self._empty_tables()

    async def _close_left_open(self, isolation: Isolation) -> None:
        """After an ordinary test that left connections to the test database open."""
        from .leftovers import close_leftovers

        engine = self._handle().engine
        self.left_open = await close_leftovers(
            isolation.watch, self.database.settings, engine, ours=set(), sweep=False
        )

    @staticmethod
    def _report_left_open(found: list[str], nodeid: str | None = None) -> None:
        """Fail the test that left sessions or connections open (one line naming them)."""
        if found:
            from .leftovers import left_open_message

            message = left_open_message(found)
            pytest.fail(f"{nodeid}: {message}" if nodeid else message, pytrace=False)

    def _when_idle(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on the session loop now if it is idle, else let the next use do it."""
        loop = self.run.loop
        if loop is not None and not loop.is_running() and not loop.is_closed():
            loop.run_until_complete(work)
        else:
            work.close()


def _shared_depth(ended: tuple[object, ...], upcoming: tuple[object, ...]) -> int:
    """How many outer scopes the test that ended shares with the next one."""
    for depth, (a, b) in enumerate(zip(ended, upcoming, strict=False)):
        if a is not b:
            return depth
    return min(len(ended), len(upcoming))
