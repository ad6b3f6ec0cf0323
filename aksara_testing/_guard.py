"""A last line of defence: no connection to the app's own database during a run.

Sessions from the ``session`` setting are rerouted, but app code may also use
its engine directly (a lifespan ``create_all``, a raw query). SQLAlchemy's
``do_connect`` event sees every new connection of every engine; one that
targets the ``database_url`` database is refused before it opens.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url

from ._settings import Settings, mask_url
from ._urls import backend_of, is_memory, upgrade_driver
from .errors import UnsafeDatabaseError

__all__ = ["guard_app_database", "redirect_app_database"]

_redirecting = 0  # open redirect_app_database() blocks (migrations run in a worker thread)


def guard_app_database(settings: Settings) -> Callable[[], None]:
    """Refuse connections to ``settings.database_url``; returns the function that stops it."""
    found = _app_matcher(settings)
    if found is None:
        return lambda: None
    backend, matches = found
    shown = mask_url(settings.database_url or "")

    def refuse(dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        if _redirecting or _ours(cparams):  # the redirect below rewrites it, or it is ours
            return
        if dialect.name == backend and matches(cargs, cparams):
            raise UnsafeDatabaseError(
                f"refused a connection to the app's own database {shown} (database_url) "
                "during the test run; tests only use the test database: give the app its "
                "engine URL through [tool.aksara] env, or name its async_sessionmaker in "
                "the session setting"
            )

    event.listen(Engine, "do_connect", refuse)
    return lambda: event.remove(Engine, "do_connect", refuse)


@contextmanager
def redirect_app_database(settings: Settings, test_url: URL) -> Iterator[None]:
    """While inside, a connection to the app's database opens the test database instead.

    For Alembic env.py files that read the URL from the app's own settings.
    """
    found = _app_matcher(settings)
    if found is None:
        yield
        return
    backend, matches = found

    def redirect(dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        if dialect.name == backend and matches(cargs, cparams):
            url = test_url.set(drivername=f"{dialect.name}+{dialect.driver}")
            new_args, new_params = dialect.create_connect_args(url)
            cargs[:] = list(new_args)
            cparams.clear()
            cparams.update(new_params)

    global _redirecting
    event.listen(Engine, "do_connect", redirect)
    _redirecting += 1  # the guard, which runs first, lets connections through meanwhile
    try:
        yield
    finally:
        _redirecting -= 1
        event.remove(Engine, "do_connect", redirect)


Matcher = Callable[[Any, dict[str, Any]], bool]


def _ours(cparams: dict[str, Any]) -> bool:
    """The toolkit's own server connections (create/drop test databases, run locks).

    They open the ``postgres`` maintenance database, which may also be the
    app's own (Docker's default); they never touch its data.
    """
    from ._postgres import ADMIN_APPLICATION

    settings = cparams.get("server_settings") or {}
    return str(settings.get("application_name", "")).startswith(ADMIN_APPLICATION)


def _app_matcher(settings: Settings) -> tuple[str, Matcher] | None:
    if not settings.database_url:
        return None
    try:
        app = upgrade_driver(make_url(settings.database_url))
    except Exception:
        return None
    if is_memory(app):
        return None
    if backend_of(app) == "sqlite":
        return "sqlite", _sqlite_matcher(app, settings.root)
    return backend_of(app), _server_matcher(app)


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
