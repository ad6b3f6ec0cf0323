"""A last line of defence: no connection to the app's own database during a run.

Sessions from the ``session`` setting are rerouted, but app code may also use
its engine directly (a lifespan ``create_all``, a raw query). SQLAlchemy's
``do_connect`` event sees every new connection of every engine; one that
targets the ``database_url`` database is refused before it opens.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url

from ._settings import Settings, mask_url
from ._urls import backend_of, is_memory, upgrade_driver
from .errors import UnsafeDatabaseError

__all__ = ["guard_app_database"]


def guard_app_database(settings: Settings) -> Callable[[], None]:
    """Refuse connections to ``settings.database_url``; returns the function that stops it."""
    if not settings.database_url:
        return lambda: None
    try:
        app = upgrade_driver(make_url(settings.database_url))
    except Exception:
        return lambda: None
    if is_memory(app):
        return lambda: None
    matches = (
        _sqlite_matcher(app, settings.root) if backend_of(app) == "sqlite" else _server_matcher(app)
    )
    shown = mask_url(settings.database_url)

    def refuse(dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        if dialect.name == backend_of(app) and matches(cargs, cparams):
            raise UnsafeDatabaseError(
                f"refused a connection to the app's own database {shown} (database_url) "
                "during the test run; tests only use the test database: give the app its "
                "engine URL through [tool.aksara] env, or name its async_sessionmaker in "
                "the session setting"
            )

    event.listen(Engine, "do_connect", refuse)
    return lambda: event.remove(Engine, "do_connect", refuse)


def _sqlite_matcher(app: URL, root: Path) -> Callable[[Any, dict[str, Any]], bool]:
    name = app.database or ""
    candidates = {Path(name).resolve(), (root / name).resolve()}

    def matches(cargs: Any, cparams: dict[str, Any]) -> bool:
        target = cargs[0] if cargs else cparams.get("database")
        if not isinstance(target, str) or target.startswith("file:"):
            return False
        return Path(os.path.abspath(target)).resolve() in candidates

    return matches


def _server_matcher(app: URL) -> Callable[[Any, dict[str, Any]], bool]:
    host = app.host or "localhost"
    port = app.port

    def matches(_cargs: Any, cparams: dict[str, Any]) -> bool:
        same_port = port is None or cparams.get("port") in (None, port)
        return (
            cparams.get("database") == app.database
            and (cparams.get("host") or "localhost") == host
            and same_port
        )

    return matches
