"""Sessions that run on the test transaction: the app's own, ``db_session`` and ours.

The app's ``async_sessionmaker`` objects named by the ``session`` setting are
reconfigured for the run so that their sessions ask the runtime for a
connection (:meth:`RoutingSession.get_bind`) instead of using the app's engine.
Nothing is bound up front, so a sessionmaker used before any test touched the
database still lands in the test database: the first use creates it.

Code that reads ``session.bind`` (repository libraries look at
``session.bind.dialect``) sees the test database's ``AsyncEngine``, and
``session.get_bind()`` called from outside SQLAlchemy's greenlet its sync
engine, as SQLAlchemy's own sessions would show their engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from ._imports import import_target
from ._settings import Settings
from .errors import ConfigurationError

if TYPE_CHECKING:
    from ._runtime import Runtime

__all__ = [
    "LayerSession",
    "RoutingAsyncSession",
    "RoutingSession",
    "SessionRebinding",
    "layer_sessionmaker",
]


def _routing_runtime() -> Runtime | None:
    from ._runtime import current_runtime

    runtime = current_runtime()
    return runtime if runtime is not None and runtime.routing else None


class RoutingSession(Session):
    """A Session whose connection is the current test layer's."""

    def get_bind(self, mapper: Any = None, **kw: Any) -> Any:
        runtime = _routing_runtime()
        if runtime is None:
            return super().get_bind(mapper, **kw)
        if not _in_greenlet():  # asked by the app's code, not to run a statement
            return runtime.test_engine().sync_engine
        return runtime.bind(self)


def _in_greenlet() -> bool:
    """True inside SQLAlchemy's greenlet bridge (where statements run)."""
    from sqlalchemy.util import concurrency

    check = getattr(concurrency, "in_greenlet", None)
    if check is None:  # SQLAlchemy 2.0 keeps it in a private module
        from sqlalchemy.util import _concurrency_py3k  # type: ignore[attr-defined, unused-ignore]

        check = _concurrency_py3k.in_greenlet
    return bool(check())


class RoutingAsyncSession(AsyncSession):
    """An AsyncSession whose ``bind`` is the test database while tests run."""

    sync_session_class = RoutingSession

    @property  # type: ignore[override, unused-ignore]  # an attribute in SQLAlchemy 2.0
    def bind(self) -> Any:
        runtime = _routing_runtime()
        if runtime is not None:
            return runtime.test_engine()
        if isinstance(_SA_BIND, property):  # SQLAlchemy 2.1: derived from the sync session
            return _SA_BIND.__get__(self)
        return self.__dict__.get("_aksara_bind")

    @bind.setter
    def bind(self, value: Any) -> None:
        if isinstance(_SA_BIND, property) and "sync_session" in self.__dict__:
            _SA_BIND.__set__(self, value)
        self.__dict__["_aksara_bind"] = value


# SQLAlchemy 2.1 made AsyncSession.bind a property; 2.0 sets a plain attribute.
_SA_BIND = AsyncSession.__dict__.get("bind")


_Class = TypeVar("_Class", bound=type)


def _routing(original: _Class, routing: _Class) -> _Class:
    """``original`` with ``routing`` (its subclass that routes) mixed in, once."""
    if issubclass(original, routing):
        return original
    if original is routing.__mro__[1]:  # Session or AsyncSession itself
        return routing
    return cast(_Class, type(f"Aksara{original.__name__}", (routing, original), {}))


class SessionRebinding:
    """The app's sessionmakers, rerouted to the test layers for one run."""

    def __init__(self) -> None:
        self._saved: list[tuple[async_sessionmaker[Any], dict[str, Any], type[Any]]] = []

    def apply(self, settings: Settings) -> None:
        for spec in settings.session:
            maker = import_target(settings, "session", spec)
            if not isinstance(maker, async_sessionmaker):
                raise ConfigurationError(
                    f"setting session = {spec!r} (from {settings.source('session')}) is a "
                    f"{type(maker).__name__}, not an async_sessionmaker; point it at the "
                    "async_sessionmaker your app uses"
                )
            original = maker.kw.get("sync_session_class") or maker.class_.sync_session_class
            self._saved.append((maker, dict(maker.kw), maker.class_))
            maker.class_ = _routing(maker.class_, RoutingAsyncSession)
            maker.configure(
                sync_session_class=_routing(original, RoutingSession),
                join_transaction_mode="create_savepoint",
            )

    def restore(self) -> None:
        for maker, kw, class_ in reversed(self._saved):
            maker.kw.clear()
            maker.kw.update(kw)
            maker.class_ = class_
        self._saved.clear()


def _new_layer_session() -> AsyncSession:
    return RoutingAsyncSession(expire_on_commit=False, join_transaction_mode="create_savepoint")


def layer_sessionmaker() -> async_sessionmaker[AsyncSession]:
    """An ``async_sessionmaker`` whose sessions use the current test layer (``db_sessionmaker``).

    Its sessions behave as the app's own rerouted ones: ``commit()`` and
    ``rollback()`` stay inside the test, ``bind`` is the test database's engine.
    """
    return async_sessionmaker(
        class_=RoutingAsyncSession,
        expire_on_commit=False,
        join_transaction_mode="create_savepoint",
    )


class LayerSession(AsyncSession):
    """``db_session``: an AsyncSession that always works on the current test layer.

    Used from a module-scoped fixture it is that module's session; used in a
    test it is the test's own, with a fresh identity map. Objects loaded in a
    scope stay attached to that scope's session until the scope ends.
    """

    def __init__(self, current: Callable[[], AsyncSession]) -> None:
        # No super().__init__: the proxied Session is looked up on every access.
        self._current = current
        self._async_bind = None
        self._async_binds = {}

    @property
    def sync_session(self) -> Session:
        return self._current().sync_session

    @sync_session.setter
    def sync_session(self, value: Session) -> None:  # pragma: no cover - never set
        raise AttributeError("db_session is bound to the test layers")

    @property
    def _proxied(self) -> Session:
        return self._current().sync_session

    @_proxied.setter
    def _proxied(self, value: Session) -> None:  # pragma: no cover - never set
        raise AttributeError("db_session is bound to the test layers")

    @property  # type: ignore[override, unused-ignore]  # an attribute in SQLAlchemy 2.0
    def bind(self) -> AsyncEngine:
        from ._runtime import current_runtime

        runtime = current_runtime()
        assert runtime is not None, "db_session outlived its pytest run"
        return runtime.test_engine()

    @bind.setter
    def bind(self, value: Any) -> None:  # pragma: no cover - never set
        raise AttributeError("db_session is bound to the test layers")

    def __repr__(self) -> str:
        return f"<db_session on {self._current().sync_session!r}>"


def layer_session_factory(runtime: Runtime) -> Callable[[], AsyncSession]:
    """``runtime``'s per-layer session getter, creating sessions on first use."""

    def current() -> AsyncSession:
        node = runtime.current_node()
        session = runtime.layer_sessions.get(node)
        if session is None:
            session = runtime.layer_sessions[node] = _new_layer_session()
        return session

    return current
