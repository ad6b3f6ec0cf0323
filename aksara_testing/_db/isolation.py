"""Rolled-back layers: one connection, one savepoint per pytest scope that wrote data.

The run holds a single connection inside one outer transaction (the session
layer). Each pytest scope node that touches the database (package, module,
class, test) gets a savepoint named by its depth, ``aksara_<depth>``. When a
scope ends its savepoint is rolled back to (``ROLLBACK TO`` keeps the
savepoint), so the next scope at that depth reuses it: a test that wrote data
costs one ``ROLLBACK TO`` statement, a test that did not costs nothing.

Sessions join the current savepoint with ``join_transaction_mode=
"create_savepoint"``, so ``commit()``, ``rollback()`` and ``begin_nested()``
behave as in production, yet nothing outlives its scope. Invariant: every
session with an open transaction began it at the deepest established layer;
before going deeper, open sessions are committed ("sealed") into their layer,
and before rolling a layer back they are closed.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import Session

from .._text import error_line
from .leftovers import LeftoverWatch

if TYPE_CHECKING:
    from .savepoints import SavepointChannel

__all__ = ["Isolation", "Joined"]

T = TypeVar("T")


class Joined(Protocol):
    """Work that joined the layer outside a Session (an app engine's connection, see engines)."""

    def in_transaction(self) -> bool: ...

    def commit(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class _Savepoint:
    name: str
    owner: object | None  # the pytest node whose data it holds; None: empty, reusable
    used: bool = False  # a session worked at this depth since the owner took it


class Isolation:
    """The connection every test shares, and its stack of savepoints."""

    def __init__(self, connection: AsyncConnection | Connection, channel: SavepointChannel) -> None:
        self.connection = connection
        self.channel = channel
        self.is_async = isinstance(connection, AsyncConnection)
        self.sync_connection: Connection = (
            connection.sync_connection  # type: ignore[assignment]
            if isinstance(connection, AsyncConnection)
            else connection
        )
        # Sync apps: the app may run in another thread (a TestClient's thread pool).
        self.lock = threading.RLock()
        self._stack: list[_Savepoint] = []
        self._sessions: weakref.WeakSet[Session | Joined] = weakref.WeakSet()
        # The depth each session last worked at (sync runs close those of ended scopes).
        self._depths: weakref.WeakKeyDictionary[Session | Joined, int] = weakref.WeakKeyDictionary()
        self._aligning = False
        self.outer_dirty = False  # a session-scoped fixture wrote through the connection
        self.suspended = False  # a transactional test runs: the connection holds nothing
        self.watch = LeftoverWatch(connection.engine.url)  # what each test leaves open

    @classmethod
    async def start(cls, engine: AsyncEngine) -> Isolation:
        connection = await engine.connect()
        await connection.run_sync(_begin)
        return cls._started(connection, engine)

    @classmethod
    def start_sync(cls, engine: Engine) -> Isolation:
        """The same, on a sync engine (the test layer of a sync app)."""
        connection = engine.connect()
        _begin(connection)
        return cls._started(connection, engine)

    @classmethod
    def _started(
        cls, connection: AsyncConnection | Connection, engine: AsyncEngine | Engine
    ) -> Isolation:
        from .savepoints import SavepointChannel

        isolation = cls(connection, SavepointChannel(engine))
        isolation.watch.install()
        return isolation

    async def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` (which uses the connection synchronously) the way its driver needs."""
        if isinstance(self.connection, AsyncConnection):
            return await self.connection.run_sync(lambda _: work())
        return work()

    def is_aligned(self, chain: Sequence[object]) -> bool:
        stack = self._stack
        if len(stack) != len(chain):
            return False
        return all(sp.owner is node for sp, node in zip(stack, chain, strict=True))

    def bind(self, session: Session | Joined | None, chain: Sequence[object]) -> Connection:
        """The connection ``session`` should use, with the layers matching ``chain``.

        ``session`` None: the connection itself is handed out (``db_connection``).
        """
        with self.lock:
            if not self._aligning and not self.is_aligned(chain):
                self.align(chain, current=session)
            if not chain:
                self.outer_dirty = True
            elif len(self._stack) == len(chain):
                self._stack[-1].used = True
            if session is not None:
                self._sessions.add(session)
                self._depths[session] = len(chain)
        return self.sync_connection

    def close_ended(self, live_depth: int) -> None:
        """Close the sessions still in a transaction begun by a scope that ended.

        A thread-local ``scoped_session`` the app never removes keeps its
        transaction into the next test, whose layer change would pull it from
        under the session. No statement is sent: the ended scope's savepoint
        is rolled back on the next database use anyway.
        """
        stale = [
            s
            for s, depth in list(self._depths.items())
            if depth > live_depth and s.in_transaction()
        ]
        if not stale:
            return
        with self.lock:
            self.channel.discarding = True
            try:
                for session in stale:
                    session.close()
            finally:
                self.channel.discarding = False

    def forget(self, session: Session | Joined) -> None:
        """Stop tracking ``session``: it belongs to a scope that ended and is never used again."""
        self._sessions.discard(session)

    def holds_data(self, chain: Sequence[object]) -> bool:
        """True when live scopes (those in ``chain``) may hold data in the shared transaction."""
        live = set(map(id, chain))
        return self.outer_dirty or any(sp.used and id(sp.owner) in live for sp in self._stack)

    def suspend(self) -> None:
        """Before a transactional test: roll everything back so other connections can write."""
        self.channel.discarding = True
        try:
            self._end_sessions(commit=False, current=None)
        finally:
            self.channel.discarding = False
        self._stack.clear()
        self.channel.discard()
        if self.sync_connection.in_transaction():
            self.sync_connection.rollback()
        self.suspended = True

    def resume(self) -> None:
        """After a transactional test: open the shared transaction again."""
        self.suspended = False
        self.outer_dirty = False
        self._stack.clear()
        if not self.sync_connection.in_transaction():
            _begin(self.sync_connection)

    def align(self, chain: Sequence[object], current: Session | Joined | None = None) -> None:
        """Make the savepoint stack match ``chain`` (one owner per depth).

        Runs synchronously on the connection: for an async connection, call it
        from inside SQLAlchemy's greenlet (``get_bind``) or through :meth:`run`.
        """
        self._aligning = True
        try:
            if not self.sync_connection.in_transaction():
                self._restart()
            self._roll_back_foreign(chain, current)
            if len(chain) > len(self._stack):
                deeper = chain[len(self._stack)]
                self._end_sessions(commit=True, current=current, deeper=deeper)
                for depth in range(len(self._stack), len(chain)):
                    name = f"aksara_{depth + 1}"
                    self.channel.send(self.sync_connection, f"SAVEPOINT {name}")
                    self._stack.append(_Savepoint(name, chain[depth]))
        finally:
            self._aligning = False

    def _roll_back_foreign(self, chain: Sequence[object], current: Session | Joined | None) -> None:
        for index, sp in enumerate(self._stack):
            beyond = index >= len(chain)  # a wider scope works now (a module fixture's first use)
            wanted = None if beyond else chain[index]
            if sp.owner is wanted and not beyond:
                continue
            if sp.owner is None and not beyond:  # empty: adopt it
                sp.owner, sp.used = wanted, False
                continue
            if sp.owner is not None:
                self.channel.discarding = True
                try:
                    self._end_sessions(commit=False, current=current)
                    # Savepoints of sessions nobody closed (all newer than ours, by the invariant).
                    while (nested := self.sync_connection.get_nested_transaction()) is not None:
                        nested.rollback()
                finally:
                    self.channel.discarding = False
                self.channel.send(self.sync_connection, f"ROLLBACK TO SAVEPOINT {sp.name}")
            if beyond:
                # Released, not kept: the wider scope's rows must not land in a savepoint
                # that the next test takes over and rolls back.
                self.channel.send(self.sync_connection, f"RELEASE SAVEPOINT {sp.name}")
                del self._stack[index:]
            else:
                del self._stack[index + 1 :]
                sp.owner, sp.used = wanted, False
            return

    def _end_sessions(
        self, *, commit: bool, current: Session | Joined | None, deeper: object = None
    ) -> None:
        """Close the open sessions (but ``current``); with ``commit``, commit them first.

        A commit that fails (its pending writes break a constraint) is never
        swallowed: the session is closed, its writes are gone, and the scope
        going ``deeper`` fails with an error saying so.
        """
        failures = []
        for session in list(self._sessions):
            if session is current or not session.in_transaction():
                continue
            if commit:
                try:
                    session.commit()
                    continue
                except Exception as exc:
                    failures.append(exc)
            session.close()
        if failures:
            self._commit_failed(failures[0], deeper)

    def _commit_failed(self, exc: Exception, deeper: object) -> None:
        from ..errors import AksaraError

        scope = _scope(self._stack[-1].owner if self._stack else None)
        raise AksaraError(
            f"the writes a session of {scope} left pending failed to commit when "
            f"{_scope(deeper)} began, so they were rolled back: {error_line(exc)}; flush "
            "or commit them where they are made, and fix that error"
        ) from None

    def _restart(self) -> None:
        """Test code ended the outer transaction itself: begin a new one."""
        self._stack.clear()
        self.channel.discard()
        _begin(self.sync_connection)

    async def close(self) -> None:
        """Roll everything back and give the connection up."""
        self.watch.uninstall()
        await self.run(self.suspend)
        connection = self.connection
        if isinstance(connection, AsyncConnection):
            if connection.in_transaction():
                await connection.rollback()
            await connection.close()
        else:
            if connection.in_transaction():
                connection.rollback()
            connection.close()


def _begin(connection: Connection) -> None:
    """Begin the outer transaction, and open it on the server now.

    ``SELECT 1`` makes drivers that begin lazily (asyncpg) send ``BEGIN`` at
    once: the first savepoint then has a transaction to live in.
    """
    connection.begin()
    connection.exec_driver_sql("SELECT 1")


def _scope(node: object) -> str:
    """How errors name a pytest scope: its node id, or the session scope."""
    nodeid = getattr(node, "nodeid", "")
    return str(nodeid) if nodeid else "the session scope"
