"""Sessions that run on the test transaction: the app's own and ``db_session``.

The app's ``async_sessionmaker`` objects named by the ``session`` setting are
reconfigured for the run so that their sessions ask the runtime for a
connection (:meth:`RoutingSession.get_bind`) instead of using the app's engine.
Nothing is bound up front, so a sessionmaker used before any test touched the
database still lands in the test database: the first use creates it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from ._imports import import_target
from ._settings import Settings
from .errors import ConfigurationError

if TYPE_CHECKING:
    from ._runtime import Runtime

__all__ = ["LayerSession", "RoutingSession", "SessionRebinding"]


class RoutingSession(Session):
    """A Session whose connection is the current test layer's."""

    def get_bind(self, mapper: Any = None, **kw: Any) -> Any:
        from ._runtime import current_runtime

        runtime = current_runtime()
        if runtime is None or not runtime.routing:
            return super().get_bind(mapper, **kw)
        return runtime.bind(self)


def _routing_class(original: type[Session]) -> type[Session]:
    if issubclass(original, RoutingSession):
        return original
    if original is Session:
        return RoutingSession
    return type(f"Aksara{original.__name__}", (RoutingSession, original), {})


class SessionRebinding:
    """The app's sessionmakers, rerouted to the test layers for one run."""

    def __init__(self) -> None:
        self._saved: list[tuple[async_sessionmaker[Any], dict[str, Any]]] = []

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
            self._saved.append((maker, dict(maker.kw)))
            maker.configure(
                sync_session_class=_routing_class(original),
                join_transaction_mode="create_savepoint",
            )

    def restore(self) -> None:
        for maker, kw in reversed(self._saved):
            maker.kw.clear()
            maker.kw.update(kw)
        self._saved.clear()


def _new_layer_session() -> AsyncSession:
    return AsyncSession(
        sync_session_class=RoutingSession,
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
