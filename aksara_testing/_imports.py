"""Import the objects named by ``module:attr`` settings, with one-line errors."""

from __future__ import annotations

import importlib

from ._settings import Settings
from .errors import ConfigurationError

__all__ = ["import_target"]


def import_target(settings: Settings, key: str, spec: str) -> object:
    """Import ``spec`` (``"module:attr"``) named by setting ``key``; errors name the setting."""
    module_name, _, attr_path = spec.partition(":")
    where = f"setting {key} = {spec!r} (from {settings.source(key)})"
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"{where} cannot be imported: {_first_line(exc)}; "
            f"check the module path (modules are imported from {settings.root})"
        ) from exc
    for part in attr_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigurationError(
                f"{where} cannot be imported: module {module_name!r} has no attribute "
                f"{attr_path!r}; check the name after the colon"
            ) from None
    return target


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
