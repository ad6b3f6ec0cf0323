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
import contextvars
import logging
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._text import error_line
from ..errors import AksaraError, MigrationError
from .engines import disposing_engines

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

__all__ = ["StepTracker", "in_thread", "run_env", "script_directory"]

Work = Callable[[tuple[str, ...], "MigrationContext"], Iterable[Any]]
_SYNC_SHAPED: set[str] = set()
_SCRIPTS: dict[str, ScriptDirectory] = {}
# Set when whoever waits for env.py gave up (Ctrl-C): it stops before its next revision.
_STOP: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "aksara_migration_stop", default=None
)
_GRACE_SECONDS = 2.0  # how long an interrupted env.py may take to reach its next revision


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
            error = MigrationError(f"the migrations do not load: {error_line(exc)}")
            error.original = exc
            raise error from None
        _SCRIPTS[location] = script
        script._aksara_mtimes = _mtimes(script)  # type: ignore[attr-defined]
    return script


def _mtimes(script: ScriptDirectory) -> tuple[float, ...]:
    return tuple(p.stat().st_mtime for d in script._version_locations for p in Path(d).glob("*.py"))


def _changed(script: ScriptDirectory) -> bool:
    return getattr(script, "_aksara_mtimes", None) != _mtimes(script)


class _Stopped(BaseException):
    """Raised inside env.py's thread when the run was interrupted; nobody waits for it."""


class StepTracker:
    """Wraps a work function and remembers the step running when one fails."""

    def __init__(self, work: Work, stop: threading.Event | None = None) -> None:
        self.work = work
        self.stop = stop or threading.Event()
        self.current: Any = None

    def __call__(self, heads: tuple[str, ...], context: MigrationContext) -> Iterator[Any]:
        for step in self.work(heads, context):
            if self.stop.is_set():
                raise _Stopped
            self.current = step
            yield step
        self.current = None


async def in_thread(function: Callable[[], None]) -> None:
    """Run ``function``, which runs env.py through :func:`run_env`, off the event loop.

    If the caller is cancelled (Ctrl-C under pytest-asyncio cancels the running
    task), env.py stops before its next revision and nothing waits for the
    revision in progress: the run ends at once.
    """
    stop = threading.Event()
    token = _STOP.set(stop)  # asyncio.to_thread copies the context: run_env finds it
    try:
        await asyncio.to_thread(function)
    except BaseException:
        stop.set()
        raise
    finally:
        _STOP.reset(token)


def run_env(
    config: Config, work: Work, *, scratch: bool = False, stop: threading.Event | None = None
) -> None:
    """Run env.py with ``work`` as its migration function, in a worker thread.

    A failing revision raises :class:`MigrationError` naming it. ``scratch``:
    the database is thrown away afterwards, so SQLite need not fsync it.
    Ctrl-C stops the wait at once (see :func:`_interruptible`); env.py's
    thread then stops before its next revision, and is not waited for beyond
    that. The logging set-up env.py makes is undone when it ends. Setting
    ``stop`` (from another thread) does the same as Ctrl-C.
    """
    stop = stop or _STOP.get() or threading.Event()
    tracker = StepTracker(work, stop)
    failure: list[BaseException] = []

    def thread_main() -> None:
        try:
            with _inline_driver(config, durable=not scratch), disposing_engines():
                _run_any_shape(config, tracker)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    # A daemon: a revision that never ends must not keep an interrupted run alive.
    thread = threading.Thread(target=thread_main, name="aksara-alembic", daemon=True)
    with _logging_kept():
        thread.start()
        try:
            _wait(thread, stop)
        except BaseException:
            stop.set()
            thread.join(_GRACE_SECONDS)
            raise
    if failure:
        error = _describe(failure[0], tracker)
        if error is failure[0]:
            raise error
        error.__cause__ = None
        error.__suppress_context__ = True  # the one line says it all; .original keeps the rest
        raise error


def _wait(thread: threading.Thread, stop: threading.Event) -> None:
    """Wait for env.py's thread; Ctrl-C, or ``stop`` being set, ends the wait at once."""
    with _interruptible():
        while thread.is_alive():
            if stop.is_set():  # whoever waits on us was cancelled
                raise KeyboardInterrupt
            thread.join(0.05)


@contextmanager
def _interruptible() -> Iterator[None]:
    """In the main thread, Ctrl-C raises KeyboardInterrupt in the wait, right away.

    asyncio's runner (pytest-asyncio, ``asyncio.run``) handles Ctrl-C by
    cancelling its task, which cannot notice while this thread blocks in a
    wait: the run would go on until the last revision. Elsewhere, or with
    Ctrl-C ignored, nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGINT)
    if not callable(handler) or handler is signal.default_int_handler:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)


@contextmanager
def _logging_kept() -> Iterator[None]:
    """Undo, when env.py is done, what its ``logging.config.fileConfig`` did to this process.

    ``fileConfig`` closes every handler, installs its own — a StreamHandler on
    the ``sys.stderr`` of that moment, which is pytest's capture, closed when
    the run ends ("--- Logging error --- ... I/O operation on closed file") —
    and disables every logger it does not name, the app's included.
    """
    manager = logging.Logger.manager
    before = [logging.getLogger()]
    before += [lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    saved = [(lg, lg.level, list(lg.handlers), lg.disabled, lg.propagate) for lg in before]
    try:
        yield
    finally:
        known = {id(lg) for lg in before}
        for logger in list(manager.loggerDict.values()):
            if isinstance(logger, logging.Logger) and id(logger) not in known:
                logger.handlers = [h for h in logger.handlers if not _on_std_stream(h)]
        for logger, level, handlers, disabled, propagate in saved:
            logger.setLevel(level)
            logger.handlers = handlers
            logger.disabled = disabled
            logger.propagate = propagate


def _on_std_stream(handler: logging.Handler) -> bool:
    stream = getattr(handler, "stream", None)
    return stream is not None and stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)


def _inline_driver(config: Config, durable: bool) -> AbstractContextManager[None]:
    """aiosqlite without its worker thread for our SQLite database (see ``_db.sqlite``).

    Each statement otherwise hops to aiosqlite's thread and back: about half
    of a SQLite migration's time on a 30-revision chain.
    """
    from sqlalchemy.engine import make_url

    from .config import URL_ATTRIBUTE

    url = make_url(config.attributes[URL_ATTRIBUTE])
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return nullcontext()
    from .._db import inline_aiosqlite

    return inline_aiosqlite(url.database, durable=durable)


def _run_any_shape(config: Config, tracker: StepTracker) -> None:
    from sqlalchemy.exc import MissingGreenlet

    location = config.get_main_option("script_location") or ""
    if location not in _SYNC_SHAPED:
        # A sync env.py leaves the driver's connect() coroutine unawaited; its
        # RuntimeWarning would fail projects that turn warnings into errors.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
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
    message = error_line(exc)
    if step is None:
        error = MigrationError(f"env.py failed: {message}")
    else:
        revision = step.revision.revision
        direction = "upgrade" if step.is_upgrade else "downgrade"
        error = MigrationError(f"revision {revision}: {direction} failed: {message}", revision)
    error.original = exc
    return error
