"""Setting environment variables for a run, and putting them back afterwards."""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["export_env", "restore_env"]


def export_env(values: Mapping[str, str]) -> dict[str, str | None]:
    """Set environment variables; return what they were so they can be restored."""
    backup = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    return backup


def restore_env(backup: Mapping[str, str | None]) -> None:
    """Undo :func:`export_env`."""
    for name, value in backup.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
