"""Small text helpers for one-line messages: an error's first line, a path shown short.

A leaf: it imports nothing of ours and nothing heavy, so the plugin, the
database code and the ``aksara`` commands can all use it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

__all__ = ["error_line", "first_line", "relative_path", "typed_line"]


def first_line(exc: BaseException) -> str:
    """The first non-blank line of ``exc``'s message; its type's name when it has none.

    >>> first_line(ValueError("no such revision\\n  (details)"))
    'no such revision'
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def typed_line(exc: BaseException) -> str:
    """``Type: first line`` of ``exc`` (only ``Type`` when its message is empty)."""
    name = type(exc).__name__
    return f"{name}: {first_line(exc)}" if str(exc).strip() else name


def error_line(exc: BaseException) -> str:
    """What a one-line error says about ``exc``: the driver's own words when there are some.

    A SQLAlchemy statement error is told by the driver error it wraps
    (``IntegrityError: duplicate key value ...``), a ``SyntaxError`` by its
    file and line, anything else by :func:`typed_line`.
    """
    if isinstance(exc, SyntaxError):
        where = f"{Path(exc.filename or '?').name} line {exc.lineno}"
        return f"SyntaxError in {where}: {exc.msg}"
    # Without sqlalchemy.exc loaded, ``exc`` cannot be one of its errors: nothing to import.
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    orig = getattr(exc, "orig", None)
    if sqlalchemy_exc and isinstance(exc, sqlalchemy_exc.StatementError) and orig is not None:
        line = typed_line(orig)  # DBAPIError too
        # SQLAlchemy 2.0 puts "<class 'asyncpg.exceptions.X'>: " before asyncpg's message.
        return re.sub(r"^(\w+: )<class '[\w.]+'>: ", r"\1", line)
    return typed_line(exc)


def relative_path(path: str | Path, root: Path) -> str:
    """``path`` relative to ``root`` when it lies inside it (symlinks resolved), else as given."""
    path = Path(path)
    for inner, outer in ((path, root), (path.resolve(), root.resolve())):
        try:
            return str(inner.relative_to(outer))
        except ValueError:
            continue
    return str(path)
