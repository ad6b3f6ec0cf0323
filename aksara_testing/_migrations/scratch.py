"""The checks' PostgreSQL scratch database, created and dropped in the background.

``CREATE DATABASE`` is a tenth to a quarter of a second of server work, and
on PostgreSQL 15 ``DROP DATABASE`` waits for a checkpoint. The creation starts
when pytest is configured, on a thread with an event loop of its own, and the
checks wait for it only if it is not ready when they run. One
admin connection takes the run lock on the name, creates the database and
drops it afterwards.

The drop starts when the checks are done and is waited for at the very end
of the run, while pytest reports; if the checks never ran (deselected,
interrupted) it starts then. Either way the run waits for it, and a drop that
fails is reported and fails the run: nothing is left behind silently. A run killed
outright (``kill -9``) leaves the database, and the next run's ``DROP ...
WITH (FORCE)`` replaces it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._db import RunLock, SafeTarget

__all__ = ["Scratch"]


class Scratch:
    """The scratch database at ``target``, being created from the moment this exists."""

    def __init__(self, target: SafeTarget, owner: str) -> None:
        from .._db import admin_engine

        # Import here what the thread will run (our database modules, SQLAlchemy's
        # dialect, the driver): an import on the thread would run pytest's assertion
        # rewriting next to the main thread's collection, and two threads building ASTs
        # at once can fail on CPython 3.11 ("AST constructor recursion depth mismatch").
        admin_engine(target.url)
        self.target = target
        self._owner = owner
        self._lock: RunLock | None = None
        self._created = False
        self._loop = asyncio.new_event_loop()
        # A daemon: the thread only ever waits on the server, and close() is what waits for it.
        self._thread = threading.Thread(
            target=self._serve, name="aksara-migration-scratch", daemon=True
        )
        self._thread.start()
        self._ready = asyncio.run_coroutine_threadsafe(self._create(), self._loop)
        self._closing: concurrent.futures.Future[None] | None = None
        self._guard = threading.Lock()

    def _serve(self) -> None:
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _create(self) -> None:
        from .._db import RunLock

        # Another run's checks of this project use the same name: one at a time.
        self._lock = await RunLock.take(self.target.url, self._owner)
        self._created = True  # from here on, whatever happens, close() drops it
        await self._lock.recreate(self.target.url)

    def wait_ready(self) -> None:
        """Wait until the database exists; raises what stopped it (the name in use, the server)."""
        self._ready.result()

    def drop_soon(self) -> None:
        """Start dropping the database and letting go of its name; :meth:`close` waits for it.

        Safe to call more than once and from any thread: the drop runs once.
        """
        with self._guard:
            if self._closing is None:
                self._closing = asyncio.run_coroutine_threadsafe(self._close(), self._loop)
                self._closing.add_done_callback(lambda _: self._stop())

    def close(self) -> None:
        """Drop the database (if :meth:`drop_soon` has not yet) and wait; raises if that failed."""
        self.drop_soon()
        assert self._closing is not None
        self._closing.result()

    async def _close(self) -> None:
        # A failed creation is wait_ready's to report; here only what to undo counts.
        with contextlib.suppress(Exception):
            await asyncio.wrap_future(self._ready)
        lock = self._lock
        if lock is None:
            return
        try:
            if self._created:
                await lock.drop(self.target.url)
        finally:
            await lock.release()

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
