"""What ``capture_tasks`` hands the test: ``CapturedTask`` and the list that holds them.

The innermost open capture of the current context receives every task
scheduled while it is open; the backends find it with :func:`active_capture`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar, Token
from typing import Any

from ..errors import AksaraError

__all__ = [
    "CapturedTask",
    "CapturedTasks",
    "active_capture",
    "callable_name",
    "close_capture",
    "open_capture",
]

# Innermost last. A ContextVar, so concurrent tests and tasks each see their own blocks.
_OPEN: ContextVar[tuple[CapturedTasks, ...]] = ContextVar("aksara_capture_tasks", default=())


def active_capture() -> CapturedTasks | None:
    """The innermost open ``capture_tasks`` block of this context, or None."""
    stack = _OPEN.get()
    if not stack:  # the common case outside blocks: keep it cheap
        return None
    for capture in reversed(stack):
        if capture._open:
            return capture
    return None


def open_capture(capture: CapturedTasks) -> Token[tuple[CapturedTasks, ...]]:
    """Make ``capture`` the innermost block of this context."""
    capture._open = True
    return _OPEN.set((*_OPEN.get(), capture))


def close_capture(capture: CapturedTasks, token: Token[tuple[CapturedTasks, ...]]) -> None:
    """Stop ``capture`` for good: contexts copied while it was open skip it from now on."""
    capture._open = False
    try:
        _OPEN.reset(token)
    except ValueError:
        # Closed from another context (an async fixture's teardown): only this
        # context's own entry can go, and closing it above already disabled it.
        _OPEN.set(tuple(c for c in _OPEN.get() if c is not capture))


class CapturedTask:
    """One task scheduled inside ``capture_tasks``: what would have run, and with what.

    ``name`` is the function's name (a Celery task's registered name);
    ``backend`` says who scheduled it (``"starlette"``, ``"celery"``...);
    ``options`` holds scheduling options such as Celery's ``countdown``::

        with capture_tasks() as tasks:
            await client.post("/api/send-email/")
        await tasks[0].run()          # sends it now, in the test
    """

    def __init__(
        self,
        name: str,
        func: Callable[..., Any] | None,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        *,
        backend: str,
        options: Mapping[str, Any] | None = None,
        held: bool = True,
        runner: Callable[[], Any] | None = None,
        owner: CapturedTasks | None = None,
    ) -> None:
        self.name = name
        self.func = func
        self.args = args
        self.kwargs = dict(kwargs)
        self.options = dict(options or {})
        self.backend = backend
        self.held = held  # False under capture_tasks(run=True): its framework runs it
        self.ran = False
        self._runner = runner
        self._owner = owner  # where tasks scheduled while this one runs go

    def __repr__(self) -> str:
        arguments = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"<CapturedTask {self.name}({', '.join(arguments)}) via {self.backend}>"

    async def run(self) -> Any:
        """Run the task now and return its result (async functions awaited, others in a thread).

        A task runs once: a second call, or a call on a task that
        ``capture_tasks(run=True)`` left to its framework, raises ``AksaraError``.
        Tasks it schedules are held in the same list, even after the block closed.
        """
        call = self._runnable()
        self.ran = True
        with _reopened(self._owner):
            if _is_async_callable(call):
                return await call()
            # Sync tasks run in a worker thread, as Starlette and task workers run
            # them; the thread gets a copy of this context, reopened block included.
            result = await asyncio.to_thread(call)
            return await result if inspect.isawaitable(result) else result

    def _runnable(self) -> Callable[[], Any]:
        if not self.held:
            raise AksaraError(
                f"task {self.name} was left to {self.backend} to run (capture_tasks(run=True)); "
                "use capture_tasks() to hold tasks and run them yourself"
            )
        if self.ran:
            raise AksaraError(
                f"task {self.name} already ran; call "
                "task.func(*task.args, **task.kwargs) to run it again on purpose"
            )
        if self._runner is not None:
            return self._runner
        if self.func is None:
            raise AksaraError(
                f"task {self.name} has no function to run: the {self.backend} backend "
                "recorded only its name; run the function yourself with task.args and task.kwargs"
            )
        return functools.partial(self.func, *self.args, **self.kwargs)


class CapturedTasks(list[CapturedTask]):
    """The tasks scheduled inside one ``capture_tasks`` block, in scheduling order.

    A list, plus ``named(name)`` to pick tasks and ``await run_all()`` to run
    the ones not run yet::

        with capture_tasks() as tasks:
            await client.post("/api/send-email/")
        assert [t.name for t in tasks] == ["send_email"]
        await tasks.named("send_email").run_all()
    """

    def __init__(self, tasks: list[CapturedTask] | None = None, *, run: bool = False) -> None:
        super().__init__(tasks or [])
        self._run = run
        self._open = False

    def named(self, name: str) -> CapturedTasks:
        """The tasks called ``name``; a dotted name also matches on its last part.

        So ``named("send_email")`` finds the Celery task ``blog.tasks.send_email``.
        No match gives an empty list.
        """
        return CapturedTasks(
            [t for t in self if t.name == name or t.name.rpartition(".")[2] == name],
            run=self._run,
        )

    async def run_all(self) -> list[Any]:
        """Run every task not run yet, in order, and return their results.

        Tasks scheduled by those tasks join this list and run too, as a queue
        drains; ``capture_tasks(run=True)`` blocks have nothing to run and raise.
        """
        if self._run:
            raise AksaraError(
                "run_all() runs held tasks, but capture_tasks(run=True) left them to their "
                "framework; use capture_tasks() to hold tasks and run them yourself"
            )
        results = []
        index = 0
        while index < len(self):  # the list may grow while its tasks run
            task = self[index]
            index += 1
            if not task.ran:
                results.append(await task.run())
        return results

    def record(
        self,
        name: str,
        func: Callable[..., Any] | None,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        *,
        backend: str,
        options: Mapping[str, Any] | None = None,
        runner: Callable[[], Any] | None = None,
    ) -> CapturedTask:
        """Add a task scheduled now; backends call this. Held unless ``run=True``."""
        task = CapturedTask(
            name,
            func,
            args,
            kwargs,
            backend=backend,
            options=options,
            held=not self._run,
            runner=runner,
            owner=self,
        )
        self.append(task)
        return task


@contextlib.contextmanager
def _reopened(capture: CapturedTasks | None) -> Iterator[None]:
    if capture is None:
        yield
        return
    was_open = capture._open
    token = open_capture(capture)
    try:
        yield
    finally:
        capture._open = was_open
        _OPEN.reset(token)


def callable_name(func: Any) -> str:
    """``send_email`` for a function, a bound method or a partial; the class name otherwise."""
    while isinstance(func, functools.partial):
        func = func.func
    name = getattr(func, "__name__", None)
    return name if isinstance(name, str) else type(func).__name__


def _is_async_callable(func: Any) -> bool:
    while isinstance(func, functools.partial):
        func = func.func
    # An object with an async __call__ counts, as Starlette counts it.
    return inspect.iscoroutinefunction(func) or (
        callable(func) and inspect.iscoroutinefunction(func.__call__)
    )
