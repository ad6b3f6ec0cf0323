"""What the ``session`` and ``engine`` settings name, and whether it is async or sync.

A run serves one kind of app: its test layer holds an async connection
(asyncpg, aiosqlite) or a sync one (psycopg, psycopg2, pysqlite), chosen from
what these settings name. With neither set the run is async, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._context import Kind
from ..errors import ConfigurationError

if TYPE_CHECKING:
    from .._settings import Settings

__all__ = ["Kind", "Named", "classify", "kind_of_run", "named_targets"]


@dataclass(frozen=True)
class Named:
    """One ``session`` or ``engine`` entry, imported and classified."""

    key: str  # "session" or "engine"
    spec: str
    target: Any
    kind: Kind
    what: str  # "async_sessionmaker", "sessionmaker", "Session class", "Engine"...


def classify(key: str, spec: str, target: Any, source: str) -> Named:
    """Classify ``target`` (named by ``key = spec``); anything else is a one-line error."""
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import (
        AsyncEngine,
        AsyncSession,
        async_scoped_session,
        async_sessionmaker,
    )
    from sqlalchemy.orm import Session, scoped_session, sessionmaker

    def named(kind: Kind, what: str) -> Named:
        return Named(key, spec, target, kind, what)

    if key == "engine":
        if isinstance(target, AsyncEngine):
            return named("async", "AsyncEngine")
        if isinstance(target, Engine):
            return named("sync", "Engine")
        expected = "an Engine or AsyncEngine made by create_engine() or create_async_engine()"
    else:
        if isinstance(target, async_sessionmaker):
            return named("async", "async_sessionmaker")
        if isinstance(target, async_scoped_session):
            return named("async", "async_scoped_session")
        if isinstance(target, sessionmaker):
            is_async = issubclass(target.class_, AsyncSession)
            return named("async" if is_async else "sync", "sessionmaker")
        if isinstance(target, scoped_session):
            return named("sync", "scoped_session")
        if isinstance(target, type) and issubclass(target, AsyncSession):
            return named("async", "AsyncSession class")
        if isinstance(target, type) and issubclass(target, Session):
            return named("sync", "Session class")
        expected = (
            "an async_sessionmaker, a sessionmaker, a scoped_session or a Session class; "
            "point it at what your app makes its sessions with"
        )
    shown = f"the class {target.__name__}" if isinstance(target, type) else type(target).__name__
    raise ConfigurationError(
        f"setting {key} = {spec!r} (from {source}) is {_article(shown)}, not {expected}"
    )


def _article(name: str) -> str:
    if name.startswith("the class"):
        return name
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def named_targets(settings: Settings) -> list[Named]:
    """Every ``session`` and ``engine`` entry, imported (errors: ConfigurationError)."""
    from .._imports import import_target

    found = []
    for key in ("session", "engine"):
        for spec in getattr(settings, key):
            target = import_target(settings, key, spec)
            found.append(classify(key, spec, target, settings.source(key)))
    return found


def kind_of_run(named: list[Named]) -> Kind:
    """The run's kind; a mix of async and sync entries is a one-line error."""
    kinds = {n.kind for n in named}
    if len(kinds) > 1:
        sync = next(n for n in named if n.kind == "sync")
        asyn = next(n for n in named if n.kind == "async")
        raise ConfigurationError(
            f"setting {asyn.key} = {asyn.spec!r} is async ({asyn.what}) but {sync.key} = "
            f"{sync.spec!r} is sync ({sync.what}); a run isolates one kind of app, so name "
            "only the async or only the sync ones (see docs/sync.md)"
        )
    return "sync" if kinds == {"sync"} else "async"
