"""The backends nobody registers by hand: the built-in ones and the entry-point ones.

Built-in backends (Starlette/FastAPI background tasks, Celery) install at the
first ``capture_tasks`` block of the process, as do those that packages
declare under the ``aksara_testing.task_backends`` entry point group.
"""

from __future__ import annotations

from ..errors import AksaraError, ConfigurationError
from . import celery_backend, starlette_backend
from .backends import ENTRY_POINT_GROUP, LOCK, registered

__all__ = ["ensure_installed"]

_BUILT_IN = (starlette_backend, celery_backend)
_entry_points_loaded = False


def ensure_installed() -> None:
    """Install the built-in backends where missing, and the entry-point ones once.

    Checked at every block: a built-in is installed again when its framework's
    module was imported afresh (pytester's in-process runs do that), unless a
    registration replaced it.
    """
    global _entry_points_loaded
    with LOCK:
        for module in _BUILT_IN:
            current = registered(module.NAME)
            if (current is None or current.builtin) and module.needs_install():
                module.install()
        if not _entry_points_loaded:
            # After the built-ins, so a package's backend may replace one. A
            # failing entry point fails every block until fixed.
            _load_entry_points()
            _entry_points_loaded = True


def _load_entry_points() -> None:
    from importlib.metadata import entry_points  # ~0.1 s where pytest has not imported it

    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry_point.load()()
        except AksaraError:
            raise
        except Exception as exc:
            package = entry_point.dist.name if entry_point.dist else "its package"
            raise ConfigurationError(
                f"task backend entry point {entry_point.name} = {entry_point.value!r} "
                f"failed: {type(exc).__name__}: {exc}; fix or uninstall {package}"
            ) from exc
