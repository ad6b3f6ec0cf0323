"""``capture_tasks()``: the block that holds (or watches) the tasks scheduled inside it."""

from __future__ import annotations

from contextvars import Token
from types import TracebackType

from ..errors import AksaraError
from .autoinstall import ensure_installed
from .captured_tasks import CapturedTasks, close_capture, open_capture

__all__ = ["capture_tasks"]


class _CaptureBlock:
    def __init__(self, run: bool) -> None:
        self._tasks = CapturedTasks(run=run)
        self._token: Token[tuple[CapturedTasks, ...]] | None = None

    def __enter__(self) -> CapturedTasks:
        if self._token is not None:
            raise AksaraError(
                "this capture_tasks() block is already open; open a new capture_tasks() "
                "to nest blocks"
            )
        ensure_installed()
        self._token = open_capture(self._tasks)
        return self._tasks

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._token is not None:
            close_capture(self._tasks, self._token)
            self._token = None


def capture_tasks(*, run: bool = False) -> _CaptureBlock:
    """Capture the background tasks scheduled inside the block.

    Starlette/FastAPI background tasks and Celery ``delay``/``apply_async``
    are captured out of the box; other queues through
    :func:`register_task_backend`. By default tasks are held: they do not run,
    and ``await task.run()`` or ``await tasks.run_all()`` runs them in the
    test. With ``run=True`` they are recorded and still run as their framework
    would. A nested block sees only the tasks scheduled while it is the
    innermost one::

        with capture_tasks() as tasks:
            response = await client.post("/api/send-email/")

        assert tasks[0].name == "send_email"
        await tasks.run_all()
    """
    return _CaptureBlock(run)
