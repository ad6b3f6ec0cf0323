"""Engines the project's env.py connects are disposed when its run ends.

A stock async env.py often reuses the app's module-level engine and never
disposes it. Its pooled connection then outlives the event loop env.py ran
(``asyncio.run`` closes it): on PostgreSQL the server session stays in the
database — ``CREATE DATABASE ... TEMPLATE`` refuses to copy a database with
other users — and the next run of env.py meets a connection "attached to a
different loop". So while env.py runs in our thread, every engine it connects
is remembered and disposed before that thread's ``asyncio.run`` returns
(async drivers need their own loop to close), or at the end for sync drivers.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["disposing_engines"]

_threads: dict[int, set[Any]] = {}  # env.py threads -> the engines they connected
_lock = threading.Lock()
_original_run = asyncio.run


@contextmanager
def disposing_engines() -> Iterator[None]:
    """In env.py's thread: dispose, when it is done, every engine it connected."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    ident = threading.get_ident()
    engines: set[Any] = set()

    def remember(connection: Any) -> None:
        if threading.get_ident() == ident:
            engines.add(connection.engine)

    with _lock:
        _threads[ident] = engines
        if asyncio.run is not _run:  # also what env.py's `asyncio.run(...)` looks up
            asyncio.run = _run
    event.listen(Engine, "engine_connect", remember)
    try:
        yield
    finally:
        event.remove(Engine, "engine_connect", remember)
        with _lock:
            del _threads[ident]
            if not _threads and asyncio.run is _run:
                asyncio.run = _original_run
        for engine in engines:
            if not engine.dialect.is_async:  # async ones went with their loop, below
                engine.dispose()


def _run(main: Coroutine[Any, Any, Any], **kwargs: Any) -> Any:
    """``asyncio.run``; in an env.py thread, the engines it used are disposed on its loop."""
    engines = _threads.get(threading.get_ident())
    if engines is None:
        return _original_run(main, **kwargs)

    async def then_dispose() -> Any:
        try:
            return await main
        finally:
            await _dispose_async(engines)

    return _original_run(then_dispose(), **kwargs)


async def _dispose_async(engines: set[Any]) -> None:
    from sqlalchemy.util import greenlet_spawn

    for engine in [e for e in engines if e.dialect.is_async]:
        engines.discard(engine)
        await greenlet_spawn(engine.dispose)
