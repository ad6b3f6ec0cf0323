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

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_scoped_session,
    async_sessionmaker,
)
from sqlalchemy.orm import Session, scoped_session, sessionmaker

if TYPE_CHECKING:
    from .._context import Run
    from .kinds import Named

__all__ = [
    "LayerSession",
    "RoutingAsyncSession",
    "RoutingSession",
    "RoutingSyncSession",
    "SessionRebinding",
    "SyncLayerSession",
    "layer_sessionmaker",
    "session_class",
]


def _routing_runtime() -> Run | None:
    from .._context import current_run

    runtime = current_run()
    return runtime if runtime is not None and runtime.sessions_routed else None


class RoutingSession(Session):
    """A Session whose connection is the current test layer's."""

    def get_bind(self, mapper: Any = None, **kw: Any) -> Any:
        runtime = _routing_runtime()
        if runtime is None:
            return super().get_bind(mapper, **kw)
        if not in_greenlet():  # asked by the app's code, not to run a statement
            return runtime.test_engine().sync_engine
        return runtime.connection_for(self)


def in_greenlet() -> bool:
    """True inside SQLAlchemy's greenlet bridge (where statements run)."""
    from sqlalchemy.util import concurrency

    check = getattr(concurrency, "in_greenlet", None)
    if check is None:  # SQLAlchemy 2.0 keeps it in a private module
        from sqlalchemy.util import _concurrency_py3k  # type: ignore[attr-defined, unused-ignore]

        check = _concurrency_py3k.in_greenlet
    return bool(check())


def _routed_get_bind(original: Callable[..., Any]) -> Callable[..., Any]:
    """``Session.get_bind`` that hands out the test layer while a sync run routes sessions."""

    def get_bind(self: Session, mapper: Any = None, **kw: Any) -> Any:
        runtime = _routing_runtime()
        if runtime is None or runtime.kind != "sync":
            return original(self, mapper, **kw)
        # Commits and rollbacks stay inside the layer, whoever made the session.
        self.join_transaction_mode = "create_savepoint"
        return runtime.connection_for(self)

    get_bind.__aksara_routed__ = True  # type: ignore[attr-defined]
    return get_bind


class RoutingSyncSession(Session):
    """A sync app's Session whose connection is the current test layer's."""

    get_bind = _routed_get_bind(Session.get_bind)


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
    """The app's sessionmakers (and Session subclasses), rerouted to the test layers for one run."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, dict[str, Any], type[Any]]] = []
        self._patched: list[tuple[type[Session], Any]] = []  # (class, its own get_bind or None)

    def apply(self, named: list[Named]) -> None:
        for entry in named:
            if entry.key != "session":
                continue
            target = entry.target
            if isinstance(target, async_scoped_session | scoped_session):
                if entry.kind == "sync" and target.registry.has():
                    target.remove()  # made before the run: it would keep the app's engine
                target = target.session_factory
            if isinstance(target, type):
                self._patch_class(target, entry)
            elif entry.kind == "async":
                self._reroute_async(target)
            else:
                self._reroute_sync(target)

    def _reroute_async(self, maker: Any) -> None:
        original = maker.kw.get("sync_session_class") or maker.class_.sync_session_class
        self._saved.append((maker, dict(maker.kw), maker.class_))
        maker.class_ = _routing(maker.class_, RoutingAsyncSession)
        maker.configure(
            sync_session_class=_routing(original, RoutingSession),
            join_transaction_mode="create_savepoint",
        )

    def _reroute_sync(self, maker: sessionmaker[Any]) -> None:
        self._saved.append((maker, dict(maker.kw), maker.class_))
        maker.class_ = _routing(maker.class_, RoutingSyncSession)
        maker.configure(join_transaction_mode="create_savepoint")

    def _patch_class(self, cls: type[Any], entry: Named) -> None:
        """A Session subclass of the app's own: its ``get_bind`` routes, whoever makes one.

        SQLAlchemy's and SQLModel's own classes are left alone: sessions made
        with ``Session(engine)`` reach the layer through the ``engine`` setting.
        """
        if entry.kind == "async" or _is_library_class(cls):
            return
        if getattr(cls.get_bind, "__aksara_routed__", False):
            return
        self._patched.append((cls, cls.__dict__.get("get_bind")))
        cls.get_bind = _routed_get_bind(cls.get_bind)

    def restore(self) -> None:
        for maker, kw, class_ in reversed(self._saved):
            maker.kw.clear()
            maker.kw.update(kw)
            maker.class_ = class_
        self._saved.clear()
        for cls, own in reversed(self._patched):
            if own is None:
                del cls.get_bind
            else:
                cls.get_bind = own
        self._patched.clear()


def _is_library_class(cls: type) -> bool:
    return cls.__module__.split(".")[0] in ("sqlalchemy", "sqlmodel")


def session_class(named: list[Named]) -> type[Session]:
    """The class of a sync app's sessions, for ``db_session`` (SQLModel's when the app uses it)."""
    import sys

    for entry in named:
        target = entry.target
        if entry.key != "session" or entry.kind != "sync":
            continue
        if isinstance(target, scoped_session):
            target = target.session_factory
        if isinstance(target, sessionmaker):
            target = target.class_
        if isinstance(target, type) and issubclass(target, Session):
            return target
    sqlmodel = sys.modules.get("sqlmodel")
    found: type[Session] = getattr(sqlmodel, "Session", Session)
    return found


def library_session_without_engine(named: list[Named]) -> Named | None:
    """A ``session`` entry naming SQLAlchemy's or SQLModel's Session class when no engine is set."""
    if any(entry.key == "engine" for entry in named):
        return None
    for entry in named:
        target = entry.target
        if entry.key == "session" and isinstance(target, type) and _is_library_class(target):
            return entry
    return None


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
        from .._context import current_run

        runtime = current_run()
        assert runtime is not None, "db_session outlived its pytest run"
        return runtime.test_engine()

    @bind.setter
    def bind(self, value: Any) -> None:  # pragma: no cover - never set
        raise AttributeError("db_session is bound to the test layers")

    def __repr__(self) -> str:
        return f"<db_session on {self._current().sync_session!r}>"


def layer_session_factory(runtime: Run) -> Callable[[], Any]:
    """``runtime``'s per-layer session getter, creating sessions on first use.

    The sessions are AsyncSessions, or, in a sync run, sync sessions of the app's class.
    """
    new: Callable[[], Any] = _new_layer_session
    if runtime.kind == "sync":
        new = sync_layer_sessionmaker(runtime.session_class or Session)

    def current() -> Any:
        node = runtime.current_node()
        session = runtime.layer_sessions.get(node)
        if session is None:
            session = runtime.layer_sessions[node] = new()
        return session

    return current


def sync_layer_sessionmaker(cls: type[Session]) -> sessionmaker[Session]:
    """A ``sessionmaker`` of ``cls`` sessions on the current test layer (sync runs)."""
    return sessionmaker(
        class_=_routing(cls, RoutingSyncSession),
        expire_on_commit=False,
        join_transaction_mode="create_savepoint",
    )


class SyncLayerSession:
    """``db_session`` of a sync run: the current layer's Session of the app's class.

    Every attribute is the current layer's session's, so it works from a
    module-scoped fixture and in each test alike, and ``isinstance`` sees the
    app's class (SQLModel's ``db_session.exec(...)`` works).
    """

    def __init__(self, current: Callable[[], Session]) -> None:
        object.__setattr__(self, "_current", current)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(db_session, Session) holds
        return type(self._current())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._current(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._current(), name, value)

    def __contains__(self, instance: object) -> bool:
        return instance in self._current()

    def __iter__(self) -> Any:
        return iter(self._current())

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._current().close()

    def __repr__(self) -> str:
        return f"<db_session on {self._current()!r}>"
