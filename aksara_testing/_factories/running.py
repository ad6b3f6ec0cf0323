"""Handing ``create``'s work to its caller: awaitable for async code, done for sync code.

``create`` and ``create_batch`` are one coroutine. Where an async library runs
in the calling thread (an asyncio loop, or trio/anyio as sniffio sees them),
the caller gets it to ``await``, as always. Anywhere else the caller is
synchronous (a sync test or fixture, a script) and gets the objects
themselves: the coroutine is run to completion on the run's session loop,
where the test database's connection lives. Sync code inside SQLAlchemy's
greenlet bridge (a sync post-generation hook, a ``run_sync`` function) is
synchronous too, yet its thread's loop is busy: it waits through that bridge.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import threading
from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .._context import current_run
from ..errors import FactoryError

__all__ = ["Created", "CreatedBatch", "call_user", "deliver"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


# What the type checker sees ``create()`` return. No type says "T, or an awaitable of
# T, depending on the caller", so: awaiting one gives T precisely; used as the object
# (sync code), it is assignable to T and its attributes are Any. Never instantiated.
class Created(Any, Generic[T_co]):  # type: ignore[misc]
    """``await`` it in async code for the object; in sync code it is the object."""

    if TYPE_CHECKING:

        def __await__(self) -> Generator[Any, Any, T_co]: ...


class CreatedBatch(list[T]):
    """``await`` it in async code for the list; in sync code it is the list."""

    if TYPE_CHECKING:

        def __await__(self) -> Generator[Any, Any, list[T]]: ...


def deliver(work: Coroutine[Any, Any, Any], name: str) -> Any:
    """``work`` itself for async callers; its result, run to completion, for sync ones.

    ``name`` names the call (``UserFactory.create()``) in errors.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        loop_running = False
    else:
        loop_running = True
    if loop_running:
        from .._db import in_greenlet  # loads SQLAlchemy: not at start-up

        if in_greenlet():  # sync code asyncio is waiting for: it can wait in turn
            from sqlalchemy.util import await_only

            return await_only(work)
        return work
    if _other_library_running():
        return work
    return _run_sync(work, name)  # not in the except block: its errors stand alone


async def call_user(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the user's ``function`` (a hook, a manager's ``create``), sync or async.

    Sync functions run inside SQLAlchemy's greenlet bridge, so that a factory
    they call without ``await`` gets its objects (see :func:`deliver`).
    """
    from sqlalchemy.util import greenlet_spawn

    result = await greenlet_spawn(function, *args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def _other_library_running() -> bool:
    """Whether trio (or another library sniffio knows) runs in this thread."""
    sniffio = sys.modules.get("sniffio")  # imported by every library that sets it
    if sniffio is None:
        return False
    try:
        sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return False
    return True


def _run_sync(work: Coroutine[Any, Any, Any], name: str) -> Any:
    """Run ``work`` on the session loop from synchronous code, or say why it cannot."""
    runtime = current_run()
    loop = runtime.loop if runtime is not None else None
    if runtime is None or loop is None:
        # No session loop (outside pytest, or before aksara's session set-up): a loop of
        # its own, where models saved by a manager work and database models meet the
        # usual one-line errors.
        return asyncio.run(work)
    if loop.is_closed():
        work.close()
        raise FactoryError(
            f"{name} was called after aksara's event loop closed at the end of the run; "
            "call it in a test or fixture"
        )
    if loop.is_running() and getattr(loop, "_thread_id", None) == threading.get_ident():
        work.close()  # it would wait for the loop this very thread is running: forever
        raise FactoryError(
            f"{name} was called without await on the thread running aksara's event loop, "
            f"which cannot wait for itself; await it there: await {name}"
        )
    return runtime.wait(work)  # on the session loop, from this thread or another
