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
from ._db import TestDatabase, TestLayers
from ._environment import export_env, restore_env
from ._settings import Settings, mask_url

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
    from sqlalchemy.orm import Session

    from ._client import AksaraClient
    from ._db import (
        AppRouting,
        ConnectionGuard,
        DatabaseHandle,
        Isolation,
        Joined,
    )
    from ._factories.state import FactoryState

__all__ = ["RUNTIME_KEY", "STOPPED", "Runtime", "setup_test_database"]

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
        self.layers = TestLayers(self, self.database)
        self._build_error: str | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sessions_routed = False
        self.kind: Kind = "async"  # "sync": the app's sessions are sync (see _db/kinds.py)
        self.session_class: type[Session] | None = None  # a sync app's, for db_session
        self._routing: AppRouting | None = None  # the app's sessions and engines, rerouted
        self.own_sql = False
        self.session_node: object = None
        self.item: pytest.Item | None = None
        # The fixture being set up now (its node is looked up only when database work needs
        # it: pytest computes it afresh at every access, and most fixtures do none).
        self.fixture_request: pytest.FixtureRequest | None = None
        self.responses: list[Any] = []  # the current test's client responses, for failures
        self.seed = 0
        self._factory_state: FactoryState | None = None
        self._layer_session_getter: Callable[[], Any] | None = None
        self.notes: list[str] = []
        self._chains: dict[object, tuple[object, ...]] = {}
        self._lock = asyncio.Lock()
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

    @property
    def isolation(self) -> Isolation | None:
        """The layers' connection and savepoints (None until the database is built)."""
        return self.layers.isolation

    @property
    def sync_engine(self) -> Engine | None:
        """A sync app's layer engine, on the app's own driver."""
        return self.layers.sync_engine

    @property
    def layer_sessions(self) -> dict[object, Any]:
        """``db_session`` of each scope that used it."""
        return self.layers.layer_sessions

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
        from ._db import AppRouting

        self._routing = AppRouting()
        self._routing.apply(self.settings, self)
        self.kind, self.session_class = self._routing.kind, self._routing.session_class

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
        if self._routing is not None:
            self._routing.restore()
            self._routing = None
        restore_env(self._env_backup)
        self._env_backup = {}

    async def aclose(self) -> None:
        """End of the run: roll back, close, drop the test database unless reused."""
        self._undo_start()
        await self.layers.close()
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
        from .errors import AksaraError, ConfigurationError, MigrationError

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
        self.loop = asyncio.get_running_loop()
        handle = await self.database.build()
        await self.layers.start(handle, self._routing.sync_driver if self._routing else None)
        shown = mask_url(handle.url.render_as_string(hide_password=False))
        driver = self._routing.sync_driver if self._routing is not None else None
        layer = f", sync sessions on {driver}" if driver else ""
        self.notes.append(f"test database {shown} {handle.note}{layer}")

    def is_layer_dbapi(self, dbapi_connection: Any) -> bool:
        """True when ``dbapi_connection`` is the test layer's (see _db/engines.py)."""
        return self.layers.is_layer_dbapi(dbapi_connection)

    def routed_dbapi_connection(self) -> Any:
        """A DBAPI connection for a routed app engine: the layer's, or a new one (transactional)."""
        return self.layers.routed_dbapi_connection()

    def connection_for(self, session: Session | Joined | None) -> Connection | Engine:
        """Called by sessions (async ones from inside SQLAlchemy's greenlet): the connection."""
        return self.layers.connection_for(session)

    async def layer_connection(self) -> AsyncConnection | None:
        """The shared connection, its layers aligned to the current scope (``db_connection``)."""
        return await self.layers.layer_connection()

    def wait(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` to its end from synchronous code: a sync test, a fixture, another thread."""
        from ._loops import wait_on

        return wait_on(self.loop, work)

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
        if self.fixture_request is not None:
            return self.fixture_request.node
        return self.item or self.session_node

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

    def after_item(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        """After a test's teardown: the layers forget the scopes that ended (see TestLayers)."""
        self.item = None
        try:
            self.layers.after_item(item, nextitem)
        finally:
            self._chains.pop(item, None)


# Where pytest keeps each run's Runtime (config.stash).
RUNTIME_KEY = pytest.StashKey[Runtime]()


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
