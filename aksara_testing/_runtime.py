"""The state of one pytest run: settings, the test database, its layers.

One :class:`Runtime` per ``pytest.Config`` (in ``config.stash``), also reachable
through a ContextVar so sessions and ``setup_test_database`` can find it.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import pytest

from . import _context
from ._context import Kind, Run
from ._db import TestDatabase
from ._environment import export_env, restore_env
from ._settings import Settings, mask_url

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
    from sqlalchemy.orm import Session

    from ._client import AksaraClient
    from ._db import (
        ConnectionGuard,
        DatabaseHandle,
        EngineRouting,
        Isolation,
        Joined,
        Named,
        SessionRebinding,
    )
    from ._factories.state import FactoryState

__all__ = ["STOPPED", "Runtime", "setup_test_database"]

T = TypeVar("T")
_LAYER_TYPES = (pytest.Package, pytest.Module, pytest.Class, pytest.Item)
# A worker's shouldstop reason when it stopped the run; the controller prints the line itself.
STOPPED = "aksara stopped the run (see the line above)"


class Runtime:
    """Everything aksara-testing keeps for one run."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        # Under pytest-xdist: this worker's id, and the controller's folder for SQLite files.
        workerinput: dict[str, Any] = getattr(config, "workerinput", {})
        self.worker: str | None = workerinput.get("workerid")
        shared = workerinput.get("aksara_run_dir")
        workers = workerinput.get("workercount")
        self.database = TestDatabase(
            settings,
            worker=self.worker,
            workers=int(workers) if workers else None,
            shared_dir=Path(shared) if shared else None,
            reuse=bool(config.getoption("aksara_reuse_db", False)),
            recreate=bool(config.getoption("aksara_create_db", False)),
            migrations=not config.getoption("aksara_no_migrations", False),
        )
        self._build_error: str | None = None
        self.isolation: Isolation | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sessions_routed = False
        self.kind: Kind = "async"  # "sync": the app's sessions are sync (see _db/kinds.py)
        self.session_class: type[Session] | None = None  # a sync app's, for db_session
        self._named: list[Named] = []
        self._sync_driver: str | None = None
        self.sync_engine: Engine | None = None  # a sync app's test layer engine
        self._engine_routing: EngineRouting | None = None
        self.own_sql = False
        self.session_node: object = None
        self.item: pytest.Item | None = None
        self.fixture_node: object = None
        self.layer_sessions: dict[object, Any] = {}  # AsyncSession, or a sync run's Session
        self.transactional_items: set[pytest.Item] = set()
        self._suspended_by: str | None = None  # the transactional test whose rows are kept
        self.left_open: list[str] = []  # what the test that just ended left open
        self.responses: list[Any] = []  # the current test's client responses, for failures
        self.seed = 0
        self._factory_state: FactoryState | None = None
        self._layer_session_getter: Callable[[], Any] | None = None
        self.notes: list[str] = []
        self._chains: dict[object, tuple[object, ...]] = {}
        self._lock = asyncio.Lock()
        self._rebinding: SessionRebinding | None = None
        self.guard: ConnectionGuard | None = None
        self._env_backup: dict[str, str | None] = {}
        self.parallel = False  # the xdist controller of a run with workers
        self.worker_notes: list[str] = []
        self.config_error: str | None = None  # an xdist worker's exit-4 error, for the controller
        self.stopped: str | None = None  # the line stop() ended the run with
        self._token: contextvars.Token[Run | None] | None = None

    @property
    def settings(self) -> Settings:
        """The run's settings (``test_settings`` and ``setup_test_database()`` merge into them)."""
        return self.database.settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self.database.settings = settings

    @property
    def handle(self) -> DatabaseHandle | None:
        """The built test database (None until the first test that needs it)."""
        return self.database.handle

    # -- lifecycle ---------------------------------------------------------------

    def install(self) -> None:
        self._token = _context.install(self)
        if self.settings.configured:  # a project that did not ask for us is left alone
            from ._db import ConnectionGuard

            self.guard = ConnectionGuard(self.settings, self.database.project_dir())
            self.guard.install()

    def uninstall(self) -> None:
        _context.uninstall(self, self._token)
        self._token = None
        if self.guard is not None:
            self.guard.uninstall()
            self.guard = None

    def start(self, overrides: Mapping[str, Any], session_node: object) -> None:
        """On the session loop: merge ``test_settings``, export its extras, reroute sessions.

        A configuration error (a bad ``test_settings`` value, a ``session`` that
        cannot be imported) undoes what was done and stops the run (exit code 4).
        """
        from .errors import ConfigurationError

        self.session_node = session_node
        self.loop = asyncio.get_running_loop()
        try:
            self._start(overrides)
        except ConfigurationError as exc:
            self._undo_start()  # the session fixture's teardown will not run
            self.stop(str(exc))
        self.sessions_routed = True

    def _start(self, overrides: Mapping[str, Any]) -> None:
        self.settings = self.settings.merged(overrides, "test_settings fixture")
        extras = {
            k: _env_string(v)
            for k, v in overrides.items()
            if k.lower() not in self.settings.as_dict()
        }
        self._env_backup = export_env(extras)
        if self.guard is not None:
            self.guard.update(self.settings)
        if self.settings.session or self.settings.engine:
            self._route_app()

    def _route_app(self) -> None:
        """Reroute what ``session`` and ``engine`` name to the test layers."""
        from ._db import (
            EngineRouting,
            SessionRebinding,
            kind_of_run,
            library_session_without_engine,
            named_targets,
            session_class,
            sync_driver,
        )
        from .errors import ConfigurationError

        self._named = named_targets(self.settings)
        self.kind = kind_of_run(self._named)
        if self.kind == "sync":
            bare = library_session_without_engine(self._named)
            if bare is not None:
                raise ConfigurationError(
                    f"setting session = {bare.spec!r} (from {self.settings.source('session')}) "
                    f"is {bare.target.__module__.split('.')[0]}'s own Session class, whose "
                    "sessions use the engine they are given; also set engine = 'module:attr' "
                    "naming the app's engine"
                )
            self.session_class = session_class(self._named)
            from sqlalchemy.engine import make_url

            url = self.settings.test_database_url or self.settings.database_url or "sqlite://"
            self._sync_driver = sync_driver(self._named, make_url(url))
        self._rebinding = SessionRebinding()
        self._rebinding.apply(self._named)
        self._engine_routing = EngineRouting(self)
        self._engine_routing.apply(self._named)

    def stop(self, message: str) -> NoReturn:
        """End the run now: ``message`` is its one line, the exit code 4.

        An xdist worker cannot end the whole run: it stops itself (its session's
        ``shouldstop`` stops the controller too, instead of xdist's crash report
        for unfinished tests) and hands the line to the controller, which prints
        it once and exits 4 (see ``pytest_testnodedown`` in plugin.py).
        """
        self.stopped = message
        if self.worker is not None:
            self.config_error = self.config_error or message
            session = self.item.session if self.item is not None else self.session_node
            if isinstance(session, pytest.Session):
                session.shouldstop = STOPPED
        pytest.exit(message, returncode=4)

    def _undo_start(self) -> None:
        self.sessions_routed = False
        if self._rebinding is not None:
            self._rebinding.restore()
            self._rebinding = None
        if self._engine_routing is not None:
            self._engine_routing.restore()
            self._engine_routing = None
        restore_env(self._env_backup)
        self._env_backup = {}

    async def aclose(self) -> None:
        """End of the run: roll back, close, drop the test database unless reused."""
        self._undo_start()
        self.layer_sessions.clear()
        if self.isolation is not None:
            if self.isolation.suspended:
                await self._empty_tables()
            await self.isolation.close()
            self.isolation = None
        if self.sync_engine is not None:
            self.sync_engine.dispose()
            self.sync_engine = None
        await self.database.close()

    # -- the database --------------------------------------------------------------

    async def activate(self, overrides: Mapping[str, Any] | None = None) -> DatabaseHandle:
        """Create the test database and open the shared connection, once."""
        if overrides:
            merged = self.settings.merged(overrides, "setup_test_database()")
            if self.handle is not None and merged != self.settings:
                self.database.check_same_database(merged)
            self.settings = merged
        if self.handle is not None:
            return self.handle
        from ._migrations.runner import MigrationError
        from .errors import AksaraError, ConfigurationError

        if self.session_node is None:
            raise AksaraError(
                "the test database was requested before aksara's session set-up ran; "
                "add a [tool.aksara] table to pyproject.toml, or request the db_session "
                "or test_settings fixture in the fixture that needs the database"
            )

        if self._build_error is not None:
            pytest.fail(self._build_error, pytrace=False)
        async with self._lock:
            if self.handle is None:
                try:
                    self.own_sql = True  # count_queries() ignores our own statements
                    await self._build()
                except ConfigurationError as exc:
                    self.stop(str(exc))
                except MigrationError as exc:  # every test that needs the database fails so
                    self._build_error = f"building the test database: {exc}"
                except Exception as exc:
                    problem = self.database.server_problem(exc)
                    if problem is not None:
                        self.stop(problem)
                    raise  # not the server's: the schema's own error, with its traceback
                finally:
                    self.own_sql = False
            if self._build_error is not None:
                pytest.fail(self._build_error, pytrace=False)
        assert self.handle is not None
        return self.handle

    def test_engine(self) -> AsyncEngine:
        """The test database's engine, for ``session.bind`` (no connection is opened).

        Before the database is built this is an engine on its URL, unused by
        the run itself: reading ``bind.dialect`` must not wait for the build.
        """
        engine: AsyncEngine = self.database.engine()
        return engine

    async def _build(self) -> None:
        from ._db import Isolation

        self.loop = asyncio.get_running_loop()
        handle = await self.database.build()
        if self.kind == "sync":
            self.isolation = await self._start_sync_layer(handle)
        else:
            self.isolation = await Isolation.start(handle.engine)
        shown = mask_url(handle.url.render_as_string(hide_password=False))
        layer = f", sync sessions on {self._sync_driver}" if self.kind == "sync" else ""
        self.notes.append(f"test database {shown} {handle.note}{layer}")

    async def _start_sync_layer(self, handle: DatabaseHandle) -> Isolation:
        """A sync app's test layer: a connection with the app's own driver."""
        from ._db import Isolation, create_sync_test_engine, is_memory

        assert self._sync_driver is not None
        shared = None
        if is_memory(handle.url):  # the one connection holding the database
            async with handle.engine.connect() as connection:
                raw = await connection.get_raw_connection()
                shared = raw.driver_connection.sqlite3_connection  # type: ignore[union-attr]
        self.sync_engine = create_sync_test_engine(handle.url, self._sync_driver, shared)
        return Isolation.start_sync(self.sync_engine)

    def is_layer_dbapi(self, dbapi_connection: Any) -> bool:
        """True when ``dbapi_connection`` is the test layer's (see _db/engines.py)."""
        isolation = self.isolation
        if isolation is None:
            return False
        return dbapi_connection is isolation.sync_connection.connection.dbapi_connection

    def routed_dbapi_connection(self) -> Any:
        """A DBAPI connection for a routed app engine: the layer's, or a new one (transactional)."""
        if self.isolation is None:
            self.wait(self.activate())
        isolation = self.isolation
        assert isolation is not None
        item = self.item
        if item is not None and item in self.transactional_items and self.current_node() is item:
            if not isolation.suspended:
                self._suspend_for(item, isolation)
            engine = self.sync_engine or self.database.engine().sync_engine
            own = engine.raw_connection()
            raw = own.dbapi_connection
            own.detach()  # closed by the app engine's pool, as its own would be
            return raw
        return isolation.sync_connection.connection.dbapi_connection

    def wait(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` to its end from synchronous code: a sync test, a fixture, another thread.

        Inside SQLAlchemy's greenlet it is awaited there; else it runs on the
        session loop (handed to it when that loop is busy in another thread).
        """
        from ._db import in_greenlet

        if in_greenlet():
            from sqlalchemy.util import await_only

            return await_only(work)
        loop = self.loop
        if loop is None or loop.is_closed():
            work.close()
            from .errors import AksaraError

            raise AksaraError("the test database was used after aksara's session loop closed")
        running = _running_loop()
        if loop.is_running():
            if running is loop:
                work.close()
                from .errors import AksaraError

                raise AksaraError(
                    "the sync test database was used from async code on the session loop "
                    "without an await; in async tests await the async APIs"
                )
            return asyncio.run_coroutine_threadsafe(work, loop).result()
        if running is not None:  # another loop runs in this thread (a TestClient's portal)
            import concurrent.futures

            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                return pool.submit(loop.run_until_complete, work).result()
        return loop.run_until_complete(work)

    # -- factories ---------------------------------------------------------------

    def factory_state(self) -> FactoryState:
        """Faker and sequence counters for factories, seeded from the run's seed."""
        if self._factory_state is None:
            from ._factories.state import FactoryState

            self._factory_state = FactoryState(
                self.seed,
                self.current_node,
                lambda node: (self.session_node, *self.scope_chain(node)),
            )
        return self._factory_state

    def layer_session(self) -> Any:
        """The session of the current layer (what ``db_session`` is right now)."""
        from ._db import layer_session_factory

        if self._layer_session_getter is None:
            self._layer_session_getter = layer_session_factory(self)
        return self._layer_session_getter()

    # -- the client --------------------------------------------------------------

    def new_client(self, app: Any) -> AksaraClient:
        """A client for ``app`` that authenticates with the ``auth`` setting."""
        from ._client import AksaraClient

        return AksaraClient(
            app,
            auth_function=self.auth_function(),  # type: ignore[arg-type]
            on_response=self.responses.append,
        )

    def auth_function(self) -> object:
        """The function the ``auth`` setting names (None when unset); stops the run if it cannot."""
        auth = self.settings.auth
        return self._import("auth", auth) if auth else None

    def load_app(self) -> Any:
        """The app the ``app`` setting names (a factory's result; an async one still to await)."""
        from .errors import ConfigurationError

        if not self.settings.app:
            raise ConfigurationError(
                "the test client needs the app setting: set app = 'module:attr' in "
                "[tool.aksara] (or aksara test --app), or override the app fixture"
            )
        target = self._import("app", self.settings.app)
        from ._apps import resolve_app

        try:
            return resolve_app(target, self.settings.describe("app"))
        except ConfigurationError as exc:
            self.stop(str(exc))

    def _import(self, key: str, spec: str) -> object:
        """The object a ``module:attr`` setting names; if it cannot be imported, stop the run."""
        from ._imports import import_target
        from .errors import ConfigurationError

        try:
            return import_target(self.settings, key, spec)
        except ConfigurationError as exc:
            self.stop(str(exc))

    # -- layers ------------------------------------------------------------------

    def current_node(self) -> object:
        """The pytest node whose scope owns database work happening now."""
        return self.fixture_node or self.item or self.session_node

    def scope_chain(self, node: object) -> tuple[object, ...]:
        """The layer owners from the outermost scope below the session down to ``node``."""
        chain = self._chains.get(node)
        if chain is None:
            if isinstance(node, pytest.Item | pytest.Collector):
                chain = tuple(n for n in node.listchain() if isinstance(n, _LAYER_TYPES))
            else:
                chain = ()
            self._chains[node] = chain
        return chain

    async def layer_connection(self) -> AsyncConnection | None:
        """The shared connection, its layers aligned to the current scope (``db_connection``).

        None in a transactional test: it has no shared transaction, the caller
        opens a connection of its own.
        """
        await self.activate()
        assert self.isolation is not None and self.handle is not None
        isolation = self.isolation
        bound = await isolation.run(lambda: self.connection_for(None))
        if bound is not isolation.sync_connection:
            return None
        return isolation.connection  # type: ignore[return-value]

    def connection_for(self, session: Session | Joined | None) -> Connection | Engine:
        """Called by sessions (async ones from inside SQLAlchemy's greenlet): the connection."""
        if self.isolation is None:
            self.wait(self.activate())
        isolation = self.isolation
        assert isolation is not None and self.handle is not None
        node = self.current_node()
        transactional = node is self.item and node in self.transactional_items
        if isolation.suspended and not transactional:
            culprit = self._suspended_by  # left over: the loop was busy after that test
            self._report_left_open(self.wait(self._empty_tables()), culprit)
        if transactional and self.item is not None:
            if not isolation.suspended:
                self._suspend_for(self.item, isolation)
            from sqlalchemy.orm import Session

            if isinstance(session, Session):
                isolation.watch.sessions.add(session)  # closed, and named, if left open
            # Real transactions, real commits.
            return self.sync_engine or self.handle.engine.sync_engine
        return isolation.bind(session, self.scope_chain(node))

    def _suspend_for(self, item: pytest.Item, isolation: Isolation) -> None:
        from .errors import AksaraError

        if isolation.holds_data(self.scope_chain(item)):
            raise AksaraError(
                f"{item.nodeid} is marked transactional, but data written by session-, "
                "package-, module- or class-scoped fixtures is still in the test transaction "
                "and would be lost; move the test to a module of its own or drop that fixture"
            )
        isolation.suspend()
        self._suspended_by = item.nodeid
        if self.database.reuse:
            from ._db import mark_dirty

            # Killed before the tables are emptied? The next run must rebuild.
            assert self.handle is not None
            self.wait(mark_dirty(self.handle.url))

    async def _empty_tables(self) -> list[str]:
        """After a transactional test: close what it left open, delete every row it committed.

        Returns what the test left open (see :mod:`._db.leftovers`).
        """
        from ._db import check_safe, close_leftovers, empty_tables, mark_clean

        assert self.handle is not None and self.isolation is not None
        found: list[str] = []
        self.own_sql = True  # our own connections are neither counted nor leftovers
        try:
            for session in list(self.layer_sessions.values()):
                if session.in_transaction():  # e.g. a read after the last commit: it holds locks
                    closing = session.close()
                    if closing is not None:  # an AsyncSession's
                        await closing
            ours = {getattr(s, "sync_session", s) for s in self.layer_sessions.values()}
            found = await close_leftovers(
                self.isolation.watch, self.settings, self.handle.engine, ours=ours, sweep=True
            )
            await empty_tables(check_safe(self.handle.url, self.settings), self.handle.engine)
            if self.database.reuse:
                await mark_clean(self.handle.url, self.handle.fingerprint)
            await self.isolation.run(self._resume)
        finally:
            self.own_sql = False
        return found

    def _resume(self) -> None:
        assert self.isolation is not None
        self.isolation.resume()
        self._suspended_by = None

    async def _close_left_open(self) -> None:
        """After an ordinary test that left connections to the test database open."""
        from ._db import close_leftovers

        assert self.handle is not None and self.isolation is not None
        self.left_open = await close_leftovers(
            self.isolation.watch, self.settings, self.handle.engine, ours=set(), sweep=False
        )

    async def _after_transactional(self) -> None:
        isolation = self.isolation
        assert isolation is not None
        if not isolation.suspended:  # no session ran, yet other connections may have committed
            await isolation.run(isolation.suspend)
        self.left_open = await self._empty_tables()

    def _report_left_open(self, found: list[str], nodeid: str | None = None) -> None:
        """Fail the test that left sessions or connections open (one line naming them)."""
        if found:
            from ._db import left_open_message

            message = left_open_message(found)
            pytest.fail(f"{nodeid}: {message}" if nodeid else message, pytrace=False)

    def after_item(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        """After a test's teardown: forget the sessions of the scopes that ended.

        Their savepoints are rolled back on the next database use (or at the end
        of the run): every session asks :meth:`connection_for` first, so no statement can
        run before it, and a test that does not touch the database pays nothing.
        What the test left open on the test database is closed now, and fails
        the test (see :mod:`._db.leftovers`).
        """
        self.item = None
        isolation = self.isolation
        if isolation is None:
            return
        transactional = item in self.transactional_items
        if isolation.suspended or (
            transactional and not isolation.holds_data(self.scope_chain(item))
        ):
            self._run(self._after_transactional())
        else:
            if self.kind == "sync":
                ended = self.scope_chain(item)
                upcoming = self.scope_chain(nextitem) if nextitem is not None else ()
                live = next(
                    (
                        i
                        for i, (a, b) in enumerate(zip(ended, upcoming, strict=False))
                        if a is not b
                    ),
                    min(len(ended), len(upcoming)),
                )
                isolation.close_ended(live)
            self._chains.pop(item, None)
            if self.layer_sessions:
                upcoming = self.scope_chain(nextitem) if nextitem is not None else ()
                alive = {*upcoming, self.session_node}
                for node in [n for n in self.layer_sessions if n not in alive]:
                    # Its savepoint is about to be rolled back: no need to close it first.
                    session = self.layer_sessions.pop(node)
                    isolation.forget(getattr(session, "sync_session", session))
            if isolation.watch.open_connections():
                self._run(self._close_left_open())
            isolation.watch.forget()
        found, self.left_open = self.left_open, []
        self._report_left_open(found)

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on the session loop now if it is idle, else let the next use do it."""
        if self.loop is not None and not self.loop.is_running() and not self.loop.is_closed():
            self.loop.run_until_complete(work)
        else:
            work.close()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _env_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def setup_test_database(settings: Mapping[str, Any] | None = None) -> DatabaseHandle:
    """Set up the test database now and return its handle (``.url``, ``.engine``).

    The plugin does this on first use; calling it from a conftest, as below, is
    harmless and idempotent::

        @pytest.fixture(scope="session", autouse=True)
        async def setup_database(test_settings):
            await setup_test_database(test_settings)
    """
    runtime = _context.current_run()
    if runtime is None:
        from .errors import AksaraError

        raise AksaraError(
            "setup_test_database() needs a pytest run with the aksara plugin; "
            "call it from a fixture, not at import time"
        )
    overrides = None if isinstance(settings, Settings) else settings
    handle: DatabaseHandle = await runtime.activate(overrides)
    return handle
