"""Background tasks under test control: ``capture_tasks`` and the backend hook."""

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
