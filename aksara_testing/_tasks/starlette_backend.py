"""Starlette and FastAPI background tasks (``BackgroundTasks.add_task``, ``BackgroundTask``).

Every way of scheduling one ends in ``BackgroundTask.__init__``: FastAPI's
``BackgroundTasks`` and Starlette's ``add_task`` build one per task, and a
response's ``background=BackgroundTask(...)`` is one. So the constructor
records the task and a held task's ``__call__`` does nothing, which keeps it
from running after the response while the app sees no difference.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from typing import Any

from .backends import Backend, add_backend, installed_backend
from .captured_tasks import active_capture, callable_name

__all__ = ["NAME", "install", "needs_install"]

NAME = "starlette"
_HELD = "_aksara_held"  # set on a BackgroundTask that capture_tasks() holds


@functools.cache
def _available() -> bool:
    return importlib.util.find_spec("starlette") is not None


def needs_install() -> bool:
    """True when Starlette is installed and its ``BackgroundTask`` is not patched."""
    if not _available():
        return False
    from starlette.background import BackgroundTask

    return installed_backend(BackgroundTask.__init__) != NAME


def install() -> None:
    from starlette.background import BackgroundTask

    backend = Backend(NAME, builtin=True)

    def wrap_init(original: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(original)
        def __init__(self: Any, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
            original(self, func, *args, **kwargs)
            capture = active_capture() if backend.live else None
            if capture is not None:
                task = capture.record(callable_name(func), func, args, kwargs, backend=NAME)
                if task.held:
                    setattr(self, _HELD, True)

        return __init__

    def wrap_call(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        @functools.wraps(original)
        async def __call__(self: Any) -> None:
            if not getattr(self, _HELD, False):
                await original(self)

        return __call__

    def patch(backend: Backend) -> None:
        backend.patch(BackgroundTask, "__init__", wrap_init)
        backend.patch(BackgroundTask, "__call__", wrap_call)

    add_backend(backend, patch)
