"""Thin pytest fixtures over the library code."""

from __future__ import annotations

import contextlib
import inspect
import types
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from ._loops import SessionLoop, check_anyio_backend
from ._runtime import RUNTIME_KEY, Runtime
from .errors import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

    from ._client import AksaraClient
    from ._mock_ai import MockAI
    from ._settings import Settings
    from ._sync_client import AksaraSyncClient
    from ._tasks import CapturedTasks

__all__ = [
    "app",
    "capture_tasks_fixture",
    "client",
    "db_connection",
    "db_session",
    "db_sessionmaker",
    "request_session_fixture",
    "test_settings",
]

SESSION_FIXTURE = "_aksara_session"  # requested first by the plugin (see plugin.py)
ANYIO_CHECK_FIXTURE = "_aksara_anyio_backend"  # requested by anyio tests using the database
ASYNC_CLIENT_FIXTURE = "_aksara_async_client"  # what client gives an async test


def runtime_of(config: pytest.Config) -> Runtime:
    return config.stash[RUNTIME_KEY]


@pytest.fixture(scope="session")
def test_settings(request: pytest.FixtureRequest) -> Mapping[str, Any]:
    """The merged [tool.aksara] settings; override this fixture in a conftest.

    Keys are case-insensitive; keys that are not settings (``DEBUG``...) are
    exported to the environment as strings.
    """
    return types.MappingProxyType(runtime_of(request.config).settings.as_dict())


# The request that is setting ``_aksara_session`` up, handed over by the plugin's
# pytest_fixture_setup (a stack: pytester runs nest).
SETUP_REQUESTS: list[pytest.FixtureRequest] = []


@pytest.fixture(scope="session")
def _aksara_session() -> Iterator[Runtime]:
    # Synchronous, so that anyio never takes it over: its work runs on the session loop.
    # No arguments: pytest resolves a fixture's arguments at every test that uses it, even
    # once its value is cached, and this one is in every test of a configured project
    # (``request`` and ``test_settings`` cost ~0.2 ms a test). It runs once; the request
    # comes from the plugin, ``test_settings`` (which a conftest may override) from it.
    request = SETUP_REQUESTS[-1]
    runtime = runtime_of(request.config)
    test_settings: Mapping[str, Any] = request.getfixturevalue("test_settings")
    try:
        loop = SessionLoop.open(request)
    except ConfigurationError as exc:
        pytest.exit(str(exc), returncode=4)
    try:
        try:
            loop.run(_start(runtime, test_settings, request.session))
        except ConfigurationError as exc:
            pytest.exit(str(exc), returncode=4)
        try:
            yield runtime
        finally:
            loop.run(runtime.aclose())
    finally:
        loop.close()


async def _start(runtime: Runtime, overrides: Mapping[str, Any], session: pytest.Session) -> None:
    runtime.start(overrides, session)  # on the session loop: it keeps that loop


@pytest.fixture
def _aksara_anyio_backend(request: pytest.FixtureRequest, anyio_backend: Any) -> None:
    check_anyio_backend(request.node, anyio_backend)


@pytest.fixture(scope="session")
def db_session(request: pytest.FixtureRequest) -> AsyncSession:
    """An AsyncSession on the current test layer, for fixtures of any scope and tests.

    Everything written through it (or by the app) is rolled back when the
    scope that wrote it ends, even after ``commit()``. In a sync app's run
    (``session``/``engine`` name sync ones) it is a sync Session of the app's class.
    """
    from ._db import LayerSession, SyncLayerSession, layer_session_factory

    runtime = runtime_of(request.config)
    if runtime.kind == "sync":
        return SyncLayerSession(layer_session_factory(runtime))  # type: ignore[return-value]
    return LayerSession(layer_session_factory(runtime))


@pytest.fixture(scope="session")
def db_sessionmaker(request: pytest.FixtureRequest) -> async_sessionmaker[AsyncSession]:
    """An ``async_sessionmaker`` whose sessions work on the current test layer.

    For apps without a sessionmaker to name in ``session`` (sessions built by a
    DI container or a dependency override): hand it to the app. ``commit()``
    stays inside the test; usable from fixtures of any scope.
    """
    from ._db import layer_sessionmaker, sync_layer_sessionmaker

    runtime = runtime_of(request.config)
    if runtime.kind == "sync":  # a sessionmaker of the app's Session class
        from sqlalchemy.orm import Session

        return sync_layer_sessionmaker(runtime.session_class or Session)  # type: ignore[return-value]
    return layer_sessionmaker()


@pytest_asyncio.fixture(loop_scope="session")
async def db_connection(request: pytest.FixtureRequest) -> AsyncIterator[AsyncConnection]:
    """The test's ``AsyncConnection``, inside its rolled-back layer.

    Bind the app's own sessions to it with
    ``AsyncSession(bind=db_connection, join_transaction_mode="create_savepoint")``.
    In a ``transactional`` test it is a connection of its own, with real commits.
    """
    runtime = runtime_of(request.config)
    connection = await runtime.layer_connection()
    if connection is not None:
        yield connection
        return
    assert runtime.handle is not None
    if runtime.sync_engine is not None:  # a sync app's run: a sync Connection
        with runtime.sync_engine.connect() as sync_own:
            yield sync_own  # type: ignore[misc]
        return
    async with runtime.handle.engine.connect() as own:
        yield own


@pytest.fixture(scope="session")
def app(request: pytest.FixtureRequest) -> Any:
    """The ASGI app under test, from the ``app`` setting (an app, or a no-argument factory).

    Override it in a conftest for a factory that needs arguments.
    """
    try:
        return runtime_of(request.config).load_app()
    except ConfigurationError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def client(request: pytest.FixtureRequest, app: Any) -> Iterator[AksaraClient | AksaraSyncClient]:
    """An httpx client over the app (``http://testserver``), lifespan included.

    In ``async def`` tests an ``httpx.AsyncClient`` (``await client.get(...)``),
    in plain ``def`` tests an ``httpx.Client`` (``client.get(...)``).
    ``client.authenticate(user)`` adds the ``auth`` setting's credentials to
    every later request; ``client.logout()`` removes them.
    """
    yield from client_for(request, app)


def client_for(request: pytest.FixtureRequest, app: Any) -> Iterator[Any]:
    """The ``client`` fixture's body: the async client in async tests, else the sync one."""
    if _is_async_test(request.node):
        yield request.getfixturevalue(ASYNC_CLIENT_FIXTURE)
        return
    runtime = runtime_of(request.config)
    if runtime.loop is None:  # a project without [tool.aksara]: start the session loop
        request.getfixturevalue(SESSION_FIXTURE)
    from ._sync_client import new_sync_client

    try:
        test_client = new_sync_client(runtime, app)
    except ConfigurationError as exc:
        pytest.fail(str(exc), pytrace=False)
    with test_client:
        yield test_client


def _is_async_test(item: pytest.Item) -> bool:
    """An ``async def`` test (seen through Hypothesis's sync wrapper); doctests are sync."""
    function = getattr(item, "obj", None)
    function = getattr(getattr(function, "hypothesis", None), "inner_test", function)
    return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)


@pytest_asyncio.fixture(loop_scope="session", name=ASYNC_CLIENT_FIXTURE)
async def _async_client(request: pytest.FixtureRequest, app: Any) -> AsyncIterator[AksaraClient]:
    async with open_client(request, app) as test_client:
        yield test_client


@contextlib.asynccontextmanager
async def open_client(request: pytest.FixtureRequest, app: Any) -> AsyncIterator[AksaraClient]:
    """The ``client`` fixture's async client, closed when the block ends."""
    from ._apps import AppFactory

    if isinstance(app, AppFactory):  # an async create_app(): built on this loop, once
        app = await app.build()
    try:
        test_client = runtime_of(request.config).new_client(app)
    except ConfigurationError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield test_client
    finally:
        await test_client.aclose()


@pytest.fixture(name="capture_tasks")
def capture_tasks_fixture() -> Iterator[CapturedTasks]:
    """The background tasks the test schedules, held: ``await capture_tasks.run_all()`` runs them.

    The same as wrapping the whole test in ``with capture_tasks() as tasks:``.
    """
    from ._tasks import capture_tasks

    with capture_tasks() as tasks:
        yield tasks


@pytest.fixture(name="mock_ai")
def mock_ai_fixture() -> Iterator[MockAI]:
    """AI calls answered by ``mock_ai`` for the whole test; set ``.response`` (or
    ``.responses``, ``.handler``, ``.error``) to choose the answers, read ``.calls``.
    """
    from ._mock_ai import MockAI

    with MockAI() as mock:
        yield mock


# Fixtures whose use means the run needs the aksara session set-up.
_NEEDS_SESSION = frozenset({"db_session", "test_settings"})
# Fixtures whose use means the test talks to the test database (on the session loop).
_USES_DATABASE = frozenset({"db_session", "db_sessionmaker", "db_connection", "client"})


def request_session_fixture(settings: Settings, items: list[pytest.Item]) -> None:
    """Put ``_aksara_session`` first in every test of a configured project.

    It is not autouse: a project without ``[tool.aksara]`` whose tests use no
    aksara fixture should not pay for it on every test. An anyio test that uses
    the database checks its backend first (trio cannot reach the session loop).
    """
    for item in items:
        names = getattr(item, "fixturenames", None)
        if names is None:
            continue
        if SESSION_FIXTURE not in names and (
            settings.configured or not _NEEDS_SESSION.isdisjoint(names)
        ):
            names.insert(0, SESSION_FIXTURE)
        if (
            "anyio_backend" in names
            and ANYIO_CHECK_FIXTURE not in names
            and not _USES_DATABASE.isdisjoint(names)
        ):
            names.insert(0, ANYIO_CHECK_FIXTURE)
