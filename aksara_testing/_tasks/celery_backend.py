"""Celery: ``task.delay(...)`` and ``task.apply_async(...)``, signatures included.

Both end in ``Task.apply_async``, registered here through the public hook.
A held task returns an ``AsyncResult`` with a fresh id (also in
``task.options["task_id"]``) and sends nothing;
``await task.run()`` runs it through ``task.apply`` with that id, raising its
errors. Under ``capture_tasks(run=True)`` the task runs inline at once, as
Celery's own eager mode runs it (errors kept in the result unless
``task_eager_propagates``), since a test has no worker.
"""

from __future__ import annotations

import functools
import importlib.util
import uuid
from typing import Any

from .backends import TaskCall, installed_backend, register

__all__ = ["NAME", "describe_apply_async", "install", "needs_install"]

NAME = "celery"


@functools.cache
def _available() -> bool:
    return importlib.util.find_spec("celery") is not None


def needs_install() -> bool:
    """True when Celery is installed and ``Task.apply_async`` is not patched."""
    if not _available():
        return False
    from celery.app.task import Task  # type: ignore[import-untyped]

    return installed_backend(Task.apply_async) != NAME


def install() -> None:
    register(NAME, "celery.app.task:Task.apply_async", describe_apply_async, builtin=True)


def describe_apply_async(
    task: Any,
    args: Any = None,
    kwargs: Any = None,
    task_id: str | None = None,
    producer: Any = None,
    link: Any = None,
    link_error: Any = None,
    shadow: Any = None,
    **options: Any,
) -> TaskCall:
    """The ``TaskCall`` for one ``Task.apply_async`` call (``delay`` calls it too)."""
    args, kwargs = tuple(args or ()), dict(kwargs or {})
    check_arguments = getattr(task, "__header__", None)
    if task.typing and check_arguments is not None:
        check_arguments(*args, **kwargs)  # a wrong call fails here, as it does with a broker
    task_id = task_id or str(uuid.uuid4())

    def dispatch(throw: bool | None = None) -> Any:
        return task.apply(
            args, kwargs, task_id=task_id, link=link, link_error=link_error, throw=throw, **options
        )

    def runner() -> Any:
        # The id the app was given, and errors raised in the test.
        return dispatch(throw=True).get()

    return TaskCall(
        name=task.name,
        func=task,
        args=args,
        kwargs=kwargs,
        options={**options, "task_id": task_id},
        held_result=task.AsyncResult(task_id),
        dispatch=dispatch,
        runner=runner,
    )
