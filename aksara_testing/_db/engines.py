"""The app's own engines on the test layer (the ``engine`` setting), and sync test engines.

Apps that build sessions straight from a module-level engine
(``with Session(engine) as session:``) have no sessionmaker to reroute. For
the run, such an engine's pool hands out the test layer's DBAPI connection,
and its dialect turns the app's transactions into savepoints on it:

====================  ====================================================
the app does          on the test layer
====================  ====================================================
begins a transaction  the layers are aligned, then ``SAVEPOINT aksara_e<n>``
``commit()``          ``RELEASE SAVEPOINT aksara_e<n>``
``rollback()``        ``ROLLBACK TO`` and ``RELEASE`` it
closes the connection nothing: the connection is the layer's
====================  ====================================================

So everything the app writes through the engine stays inside the test's
layer and is rolled back with it. In a ``transactional`` test the pool hands
out real connections to the test database instead, with real commits.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, pool
from sqlalchemy.engine import URL, Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from .._context import Run
    from .kinds import Named

__all__ = ["EngineRouting", "create_sync_test_engine", "sync_driver"]

_KEY = "aksara_checkout"  # in a pooled connection's .info: its open savepoint
_NAMES = itertools.count(1)
_DEFAULT_DRIVERS = {"sqlite": ("pysqlite",), "postgresql": ("psycopg", "psycopg2")}


class _Checkout:
    """One transaction of the app's engine on the layer: a savepoint (see isolation.Joined)."""

    def __init__(self, routing: EngineRouting) -> None:
        self.name = f"aksara_e{next(_NAMES)}"
        self.open = True
        self._routing = routing

    def in_transaction(self) -> bool:
        return self.open

    def commit(self) -> None:
        if self.open:
            self.open = False
            self._routing.send(f"RELEASE SAVEPOINT {self.name}")

    def rollback(self) -> None:
        if self.open:
            self.open = False
            self._routing.send(f"ROLLBACK TO SAVEPOINT {self.name}")
            self._routing.send(f"RELEASE SAVEPOINT {self.name}")

    def close(self) -> None:
        self.open = False  # the layer's own rollback ends the savepoint


class EngineRouting:
    """The ``engine`` setting's engines, routed to ``runtime``'s test layer for one run."""

    def __init__(self, runtime: Run) -> None:
        self._runtime = runtime
        self._saved: list[tuple[Engine, pool.Pool]] = []

    def apply(self, named: list[Named]) -> None:
        for entry in named:
            if entry.key == "engine":
                target = entry.target
                self._route(target.sync_engine if isinstance(target, AsyncEngine) else target)

    def _route(self, engine: Engine) -> None:
        if any(saved is engine for saved, _ in self._saved):
            return
        original = engine.pool
        self._saved.append((engine, original))
        # NullPool: every checkout is a fresh record, so each gets its own savepoint state.
        engine.pool = pool.NullPool(
            self._runtime.routed_dbapi_connection,
            logging_name=original._orig_logging_name,
            reset_on_return=True,
            _dispatch=original.dispatch,  # the dialect's connect hooks, as Pool.recreate() does
            dialect=original._dialect,
        )
        dialect: Any = engine.dialect
        dialect.do_begin = self._wrap(dialect.do_begin, self._begin)
        dialect.do_commit = self._wrap(dialect.do_commit, self._commit)
        dialect.do_rollback = self._wrap(dialect.do_rollback, self._rollback)
        dialect.do_close = self._wrap(dialect.do_close, lambda _raw: None)
        event.listen(engine, "before_cursor_execute", self._before_execute)

    def restore(self) -> None:
        for engine, original in reversed(self._saved):
            engine.pool = original
            for name in ("do_begin", "do_commit", "do_rollback", "do_close"):
                engine.dialect.__dict__.pop(name, None)
            if event.contains(engine, "before_cursor_execute", self._before_execute):
                event.remove(engine, "before_cursor_execute", self._before_execute)
        self._saved.clear()

    # -- the dialect's transaction calls ----------------------------------------

    def _wrap(
        self, original: Callable[[Any], None], layered: Callable[[Any], None]
    ) -> Callable[[Any], None]:
        def call(connection: Any) -> None:
            raw = getattr(connection, "dbapi_connection", connection)
            if self._runtime.is_layer_dbapi(raw):
                layered(connection)
            else:
                original(connection)

        return call

    def _begin(self, connection: Any) -> None:
        checkout = _Checkout(self)
        connection.info[_KEY] = checkout
        self._runtime.connection_for(checkout)  # aligns the layers first
        self.send(f"SAVEPOINT {checkout.name}")

    def _commit(self, connection: Any) -> None:
        checkout = _pop_checkout(connection)
        if checkout is not None:
            checkout.commit()

    def _rollback(self, connection: Any) -> None:
        checkout = _pop_checkout(connection)
        if checkout is not None:
            checkout.rollback()

    def send(self, sql: str) -> None:
        isolation = self._runtime.isolation
        assert isolation is not None
        isolation.channel.send(isolation.sync_connection, sql)

    def _before_execute(self, connection: Any, *_args: Any) -> None:
        isolation = self._runtime.isolation
        if isolation is not None and self._runtime.is_layer_dbapi(
            connection.connection.dbapi_connection
        ):
            isolation.channel.flush(connection)


def _pop_checkout(connection: Any) -> _Checkout | None:
    try:
        info = connection.info
    except NotImplementedError:  # the dialect's first connect: it began nothing
        return None
    checkout: _Checkout | None = info.pop(_KEY, None)
    return checkout


def sync_driver(named: list[Named], database_url: URL) -> str:
    """The sync driver the test layer uses: the app's own (its engines must share it)."""
    from sqlalchemy.orm import scoped_session, sessionmaker

    found: dict[str, str] = {}
    for entry in named:
        target = entry.target
        if isinstance(target, scoped_session):
            target = target.session_factory
        if isinstance(target, sessionmaker):
            target = target.kw.get("bind")
        if isinstance(target, Engine):
            if target.dialect.name != database_url.get_backend_name():
                raise ConfigurationError(
                    f"setting {entry.key} = {entry.spec!r} uses a {target.dialect.name} engine "
                    f"but the test database is {database_url.get_backend_name()} (from "
                    "database_url); point database_url at the kind of database the app uses"
                )
            found.setdefault(target.dialect.driver, entry.spec)
    if len(found) > 1:
        (one, spec_one), (two, spec_two) = list(found.items())[:2]
        raise ConfigurationError(
            f"setting engine/session names engines with two drivers ({spec_one} uses {one}, "
            f"{spec_two} uses {two}); the test layer is one connection, so give the app "
            "one driver"
        )
    if found:
        return next(iter(found))
    backend = database_url.get_backend_name()
    if "+" in database_url.drivername:
        return database_url.get_driver_name()
    for driver in _DEFAULT_DRIVERS.get(backend, ()):
        module = "sqlite3" if driver == "pysqlite" else driver
        try:
            __import__(module)
        except ImportError:
            continue
        return driver
    raise ConfigurationError(
        f"a sync app on {backend} needs a sync driver: pip install 'psycopg[binary]' "
        "(or psycopg2-binary)"
    )


def create_sync_test_engine(url: URL, driver: str, sqlite_connection: Any = None) -> Engine:
    """A sync engine on the test database ``url`` with ``driver`` (the app's).

    SQLite: like the async test engine, ``isolation_level=None`` and our own
    ``BEGIN`` (so savepoints work), usable from any thread; an in-memory
    database shares ``sqlite_connection``, the one the database was built on.
    """
    sync_url = url.set(drivername=f"{url.get_backend_name()}+{driver}")
    if url.get_backend_name() != "sqlite":
        return create_engine(sync_url)
    from .sqlite import configure_connection, emit_begin

    if sqlite_connection is not None:
        engine = create_engine(
            sync_url, creator=lambda: sqlite_connection, poolclass=pool.StaticPool
        )
    else:
        connect = partial(
            sqlite3.connect, url.database, isolation_level=None, check_same_thread=False
        )
        engine = create_engine(sync_url, creator=connect)
        event.listen(engine, "connect", configure_connection)
    event.listen(engine, "begin", emit_begin)
    return engine
