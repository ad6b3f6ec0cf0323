"""Run the project's env.py with our own work function, whatever its shape.

env.py comes in three shapes: sync (``engine_from_config``), async
(``async_engine_from_config`` + ``asyncio.run``) and the cookbook's
connection-sharing one. We hand it an async-driver URL and run it in a
worker thread with no event loop, so ``asyncio.run`` works; a sync env.py
then fails at its first connect with ``MissingGreenlet`` (before any DDL)
and is run again inside SQLAlchemy's greenlet bridge, where a sync engine
on an async driver works. The shape that worked is remembered per folder.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AksaraError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

__all__ = ["MigrationError", "StepTracker", "run_env", "script_directory"]

Work = Callable[[tuple[str, ...], "MigrationContext"], Iterable[Any]]
_SYNC_SHAPED: set[str] = set()
_SCRIPTS: dict[str, ScriptDirectory] = {}


class MigrationError(AksaraError):
    """A revision failed to upgrade or downgrade; the message is one line."""

    __module__ = "aksara_testing"  # shown in reports as aksara_testing.MigrationError

    def __init__(self, message: str, revision: str | None = None) -> None:
        super().__init__(message)
        self.revision = revision
        self.original: BaseException | None = None


def script_directory(config: Config) -> ScriptDirectory:
    """The (cached) script directory of ``config``: revision files are parsed once."""
    from alembic.script import ScriptDirectory

    location = config.get_main_option("script_location") or ""
    script = _SCRIPTS.get(location)
    if script is None or _changed(script):
        try:
            script = ScriptDirectory.from_config(config)
            script.revision_map.heads  # noqa: B018  (loads every revision file now)
        except Exception as exc:
            error = MigrationError(f"the migrations do not load: {one_line(exc)}")
            error.original = exc
            raise error from None
        _SCRIPTS[location] = script
        script._aksara_mtimes = _mtimes(script)  # type: ignore[attr-defined]
    return script


def _mtimes(script: ScriptDirectory) -> tuple[float, ...]:
    return tuple(p.stat().st_mtime for d in script._version_locations for p in Path(d).glob("*.py"))


def _changed(script: ScriptDirectory) -> bool:
    return getattr(script, "_aksara_mtimes", None) != _mtimes(script)


class StepTracker:
    """Wraps a work function and remembers the step running when one fails."""

    def __init__(self, work: Work) -> None:
        self.work = work
        self.current: Any = None

    def __call__(self, heads: tuple[str, ...], context: MigrationContext) -> Iterator[Any]:
        for step in self.work(heads, context):
            self.current = step
            yield step
        self.current = None


def run_env(config: Config, work: Work, *, scratch: bool = False) -> None:
    """Run env.py with ``work`` as its migration function, in a worker thread.

    A failing revision raises :class:`MigrationError` naming it. ``scratch``:
    the database is thrown away afterwards, so SQLite need not fsync it.
    """
    tracker = StepTracker(work)
    failure: list[BaseException] = []

    def thread_main() -> None:
        try:
            with _inline_driver(config, durable=not scratch):
                _run_any_shape(config, tracker)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=thread_main, name="aksara-alembic")
    thread.start()
    thread.join()
    if failure:
        error = _describe(failure[0], tracker)
        if error is failure[0]:
            raise error
        error.__cause__ = None
        error.__suppress_context__ = True  # the one line says it all; .original keeps the rest
        raise error


def _inline_driver(config: Config, durable: bool) -> AbstractContextManager[None]:
    """aiosqlite without its worker thread for our SQLite database (see ``_sqlite``).

    Each statement otherwise hops to aiosqlite's thread and back: about half
    of a SQLite migration's time on a 30-revision chain.
    """
    from sqlalchemy.engine import make_url

    from .config import URL_ATTRIBUTE

    url = make_url(config.attributes[URL_ATTRIBUTE])
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return nullcontext()
    from .._sqlite import inline_aiosqlite

    return inline_aiosqlite(url.database, durable=durable)


def _run_any_shape(config: Config, tracker: StepTracker) -> None:
    from sqlalchemy.exc import MissingGreenlet

    location = config.get_main_option("script_location") or ""
    if location not in _SYNC_SHAPED:
        try:
            _run(config, tracker)
            return
        except MissingGreenlet:
            if tracker.current is not None:  # failed inside a revision: not a shape problem
                raise
            _SYNC_SHAPED.add(location)
    _run_in_greenlet(config, tracker)


def _run(config: Config, work: StepTracker) -> None:
    from alembic.runtime.environment import EnvironmentContext

    script = script_directory(config)
    with EnvironmentContext(config, script, fn=work):
        script.run_env()


def _run_in_greenlet(config: Config, work: StepTracker) -> None:
    from sqlalchemy.util import greenlet_spawn

    async def main() -> None:
        await greenlet_spawn(_run, config, work)

    asyncio.run(main())


def _describe(exc: BaseException, tracker: StepTracker) -> BaseException:
    if isinstance(exc, AksaraError):
        return exc
    step = tracker.current
    message = one_line(exc)
    if step is None:
        error = MigrationError(f"env.py failed: {message}")
    else:
        revision = step.revision.revision
        direction = "upgrade" if step.is_upgrade else "downgrade"
        error = MigrationError(f"revision {revision}: {direction} failed: {message}", revision)
    error.original = exc
    return error


def one_line(exc: BaseException) -> str:
    """The first line of an error, the driver's message for database errors."""
    from sqlalchemy.exc import StatementError

    if isinstance(exc, SyntaxError):
        where = f"{Path(exc.filename or '?').name} line {exc.lineno}"
        return f"SyntaxError in {where}: {exc.msg}"
    if isinstance(exc, StatementError) and exc.orig is not None:  # DBAPIError too
        text = f"{type(exc.orig).__name__}: {exc.orig}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
