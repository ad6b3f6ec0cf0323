"""Task backends: the hook that lets ``capture_tasks`` see a task queue.

A backend replaces the function that schedules work (``Queue.enqueue``,
``Actor.send``...) with a wrapper. Outside ``capture_tasks`` the wrapper
calls the original; inside, it records the task and either holds it
(``run=False``) or lets the call proceed (``run=True``).

Installed wrappers stay for the rest of the process and cost one ContextVar
read when no block is open; that way a task scheduled inside a block is held
even if its framework gets round to it after the block closed. The built-in
backends and those of entry points install themselves (:mod:`.autoinstall`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigurationError
from .captured_tasks import CapturedTasks, active_capture

__all__ = [
    "ENTRY_POINT_GROUP",
    "LOCK",
    "Backend",
    "TaskCall",
    "add_backend",
    "installed_backend",
    "register",
    "register_task_backend",
    "registered",
]

ENTRY_POINT_GROUP = "aksara_testing.task_backends"
Target = str | tuple[object, str]


@dataclass(frozen=True)
class TaskCall:
    """What a backend's ``describe`` function reports about one scheduling call.

    ``name``, ``func``, ``args`` and ``kwargs`` become the captured task
    (``func`` may be None when the queue only knows the task by name);
    ``options`` holds scheduling options worth asserting on (delay, queue...).
    ``held_result`` is what the intercepted call returns while the task is
    held (``capture_tasks()``); ``dispatch`` is what the call does instead of
    the original under ``capture_tasks(run=True)`` — run the task inline when
    there is no worker, say. Without it, the original call proceeds.
    ``runner`` is how ``await task.run()`` runs the task (default:
    ``func(*args, **kwargs)``).
    """

    name: str
    func: Callable[..., Any] | None = None
    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    held_result: Any = None
    dispatch: Callable[[], Any] | None = None
    runner: Callable[[], Any] | None = None


MARK = "__aksara_task_backend__"  # set on every installed wrapper, naming its backend


def installed_backend(function: object) -> str | None:
    """The name of the backend whose wrapper ``function`` is, or None."""
    return getattr(function, MARK, None)


class _Patch:
    """One attribute replaced by a wrapper; ``undo`` puts the original back."""

    def __init__(self, backend: Backend, owner: object, attr: str, wrap: Callable[[Any], Any]):
        self.owner, self.attr = owner, attr
        self.raw = inspect.getattr_static(owner, attr)
        self.own = attr in vars(owner)
        is_descriptor = isinstance(self.raw, staticmethod | classmethod)
        wrapper = wrap(self.raw.__func__ if is_descriptor else self.raw)
        setattr(wrapper, MARK, backend.name)
        self.installed: object = type(self.raw)(wrapper) if is_descriptor else wrapper
        setattr(owner, attr, self.installed)

    def undo(self) -> None:
        if inspect.getattr_static(self.owner, self.attr, None) is not self.installed:
            return  # wrapped again since; our wrapper stays but passes through
        if self.own:
            setattr(self.owner, self.attr, self.raw)
        else:
            delattr(self.owner, self.attr)


class Backend:
    """A named set of patches; ``live`` is False once a new registration replaced it."""

    def __init__(self, name: str, *, builtin: bool = False) -> None:
        self.name = name
        self.builtin = builtin
        self.live = True
        self.patches: list[_Patch] = []

    def patch(self, owner: object, attr: str, wrap: Callable[[Any], Any]) -> None:
        self.patches.append(_Patch(self, owner, attr, wrap))

    def capture(self) -> CapturedTasks | None:
        """The block that should receive a task scheduled now, or None to pass through."""
        return active_capture() if self.live else None

    def retire(self) -> None:
        self.live = False
        for patch in reversed(self.patches):
            patch.undo()


_BACKENDS: dict[str, Backend] = {}
LOCK = threading.RLock()  # held while backends are added or replaced


def registered(name: str) -> Backend | None:
    """The live backend called ``name``, if there is one."""
    return _BACKENDS.get(name)


def add_backend(backend: Backend, install: Callable[[Backend], None]) -> None:
    """Retire the backend called ``backend.name``, then ``install(backend)`` in its place."""
    with LOCK:
        previous = _BACKENDS.pop(backend.name, None)
        if previous is not None:
            previous.retire()  # first, so the new wrapper wraps the original
        install(backend)
        _BACKENDS[backend.name] = backend


def register_task_backend(name: str, target: Target, describe: Callable[..., TaskCall]) -> None:
    """Let ``capture_tasks`` capture the tasks scheduled through ``target``.

    ``target`` is the function or method that schedules work, as
    ``"module:Class.method"`` or ``(owner, "attribute")``. ``describe`` is
    called with the arguments of each call made inside ``capture_tasks``
    (``self`` first for a method) and returns a :class:`TaskCall`. A home-grown
    queue, say ``Queue.enqueue(self, func, *args, **kwargs)``::

        register_task_backend(
            "queue",
            "myapp.queue:Queue.enqueue",
            lambda queue, func, *args, **kwargs: TaskCall(func.__name__, func, args, kwargs),
        )

    Registering a name again replaces that backend, built-in ones included.
    """
    register(name, target, describe)


def register(
    name: str, target: Target, describe: Callable[..., TaskCall], *, builtin: bool = False
) -> None:
    """``register_task_backend``, also used for the built-in Celery backend."""
    where = f"register_task_backend({name!r}, ...)"
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(
            f"register_task_backend() got the name {name!r}; pass a non-empty string "
            "such as 'dramatiq' (it becomes task.backend)"
        )
    if not callable(describe):
        raise ConfigurationError(
            f"{where}: describe must be a function returning a TaskCall, "
            f"got {type(describe).__name__}"
        )
    owner, attr = _resolve(where, target)
    raw = inspect.getattr_static(owner, attr)
    holder = installed_backend(getattr(raw, "__func__", raw))
    if holder is not None and holder != name and holder in _BACKENDS:
        raise ConfigurationError(
            f"{where}: {attr} is already captured by the {holder!r} backend; register "
            f"under the name {holder!r} to replace it"
        )
    backend = Backend(name, builtin=builtin)
    add_backend(
        backend, lambda b: b.patch(owner, attr, functools.partial(_intercepting, b, describe))
    )


def _resolve(where: str, target: Target) -> tuple[object, str]:
    if isinstance(target, tuple) and len(target) == 2 and isinstance(target[1], str):
        owner, attr = target
        shown = f"{getattr(owner, '__name__', type(owner).__name__)}.{attr}"
    elif isinstance(target, str) and target.count(":") == 1 and all(target.split(":")):
        module_name, path = target.split(":")
        try:
            owner = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigurationError(
                f"{where}: target {target!r} cannot be imported ({exc}); check the module path"
            ) from exc
        *parents, attr = path.split(".")
        for part in parents:
            owner = getattr(owner, part, None)
            if owner is None:
                break
        shown = target
    else:
        raise ConfigurationError(
            f"{where}: target must be 'module:Class.method' or (owner, 'attribute'), got {target!r}"
        )
    if owner is None or not callable(getattr(owner, attr, None)):
        raise ConfigurationError(
            f"{where}: {shown} is not a function or method; name the callable that schedules a task"
        )
    return owner, attr


def _intercepting(
    backend: Backend, describe: Callable[..., TaskCall], original: Callable[..., Any]
) -> Callable[..., Any]:
    """The wrapper installed over ``original``: sync or async, like ``original``."""

    def intercept(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[TaskCall, bool] | None:
        capture = backend.capture()
        if capture is None:
            return None
        call = describe(*args, **kwargs)
        if not isinstance(call, TaskCall):
            raise ConfigurationError(
                f"task backend {backend.name!r}: describe returned {type(call).__name__}; "
                "it must return aksara_testing.TaskCall(name, func, args, kwargs)"
            )
        task = capture.record(
            call.name,
            call.func,
            tuple(call.args),
            call.kwargs,
            backend=backend.name,
            options=call.options,
            runner=call.runner,
        )
        return call, not task.held

    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def intercept_async(*args: Any, **kwargs: Any) -> Any:
            decided = intercept(args, kwargs)
            if decided is None:
                return await original(*args, **kwargs)
            call, runs = decided
            if not runs:
                return call.held_result
            if call.dispatch is None:
                return await original(*args, **kwargs)
            result = call.dispatch()
            return await result if inspect.isawaitable(result) else result

        return intercept_async

    @functools.wraps(original)
    def intercept_sync(*args: Any, **kwargs: Any) -> Any:
        decided = intercept(args, kwargs)
        if decided is None:
            return original(*args, **kwargs)
        call, runs = decided
        if not runs:
            return call.held_result
        return original(*args, **kwargs) if call.dispatch is None else call.dispatch()

    return intercept_sync
