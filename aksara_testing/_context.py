"""The run in progress, as the code below it sees it: a leaf module.

Sessions, factories, the clients and ``count_queries`` need a few things from
the pytest run they serve (the test layer's connection, the session loop, the
current scope). They find the run through :func:`current_run` and see it only
through the :class:`Run` protocol, so none of them imports the module that
builds it (``_runtime``), and this module imports nothing of ours::

    run = current_run()
    if run is not None and run.sessions_routed:
        connection = run.connection_for(session)
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.ext.asyncio import AsyncEngine
    from sqlalchemy.orm import Session

__all__ = ["Kind", "Run", "current_run", "install", "uninstall"]

T = TypeVar("T")
Kind = Literal["async", "sync"]


class Run(Protocol):
    """What code running under a test needs from the run (``_runtime.Runtime`` has it all)."""

    kind: Kind  # "sync": the app's sessions are sync, and so is the test layer
    sessions_routed: bool  # the app's sessions and engines go to the test layer now
    own_sql: bool  # aksara runs its own statements: count_queries() and leftovers skip them
    settings: Any  # _settings.Settings
    item: Any  # the pytest.Item running now, or None
    session_node: object  # the pytest session once aksara's session set-up ran, else None
    loop: asyncio.AbstractEventLoop | None  # the session loop the test database belongs to
    session_class: type[Session] | None  # a sync app's session class, for db_session
    responses: list[Any]  # the current test's client responses, shown when it fails
    worker: str | None  # the pytest-xdist worker id

    @property
    def isolation(self) -> Any: ...  # the layers' _db.isolation.Isolation; None before the build

    @property
    def layer_sessions(self) -> dict[object, Any]: ...  # db_session of each scope that used it

    async def activate(self, overrides: Mapping[str, Any] | None = None) -> Any: ...

    def test_engine(self) -> AsyncEngine: ...

    def connection_for(self, session: Any) -> Connection | Engine: ...

    def current_node(self) -> object: ...

    def scope_chain(self, node: object) -> tuple[object, ...]: ...

    def layer_session(self) -> Any: ...

    def factory_state(self) -> Any: ...

    def wait(self, work: Coroutine[Any, Any, T]) -> T: ...

    def is_layer_dbapi(self, dbapi_connection: Any) -> bool: ...

    def routed_dbapi_connection(self) -> Any: ...

    def auth_function(self) -> object: ...

    def load_app(self) -> Any: ...


_CURRENT: contextvars.ContextVar[Run | None] = contextvars.ContextVar("aksara_run", default=None)
# Threads the app starts (a TestClient's portal and thread pool) may not inherit the
# ContextVar: they see the run installed last in this process.
_INSTALLED: list[Run] = []


def current_run() -> Run | None:
    """The run in progress in this context (or, from a thread the app started, this process)."""
    run = _CURRENT.get()
    if run is None and _INSTALLED:
        return _INSTALLED[-1]
    return run


def install(run: Run) -> contextvars.Token[Run | None]:
    """Make ``run`` the current one; give the token back to :func:`uninstall`."""
    _INSTALLED.append(run)
    return _CURRENT.set(run)


def uninstall(run: Run, token: contextvars.Token[Run | None] | None) -> None:
    """Undo :func:`install` (from another context too: then the variable is just cleared)."""
    if run in _INSTALLED:
        _INSTALLED.remove(run)
    if token is not None:
        try:
            _CURRENT.reset(token)
        except ValueError:
            _CURRENT.set(None)
