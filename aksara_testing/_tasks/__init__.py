"""Background tasks under test control: ``capture_tasks`` and the backend hook.

At run time each module imports only those listed after it: ``block``
(``capture_tasks``), ``autoinstall`` (the backends nobody registers by hand),
``celery_backend`` and ``starlette_backend``, ``backends`` (the hook),
``captured_tasks`` (what the test gets, and which block is open).
"""

from .backends import ENTRY_POINT_GROUP, TaskCall, register_task_backend
from .block import capture_tasks
from .captured_tasks import CapturedTask, CapturedTasks

__all__ = [
    "ENTRY_POINT_GROUP",
    "CapturedTask",
    "CapturedTasks",
    "TaskCall",
    "capture_tasks",
    "register_task_backend",
]
