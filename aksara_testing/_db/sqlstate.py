"""PostgreSQL errors by SQLSTATE, never by message text.

The server translates its messages (``lc_messages``): "database ... does not
exist" reads "Datenbank ... existiert nicht" on a German server. The
five-character SQLSTATE code is the same everywhere, and every driver hands
it over, each under its own name. Importing this module imports no driver.
"""

from __future__ import annotations

__all__ = [
    "DUPLICATE_DATABASE",
    "INSUFFICIENT_PRIVILEGE",
    "INVALID_CATALOG_NAME",
    "LOCK_NOT_AVAILABLE",
    "OBJECT_IN_USE",
    "sqlstate",
]

INVALID_CATALOG_NAME = "3D000"  # the database does not exist
DUPLICATE_DATABASE = "42P04"  # CREATE DATABASE of a name that exists
INSUFFICIENT_PRIVILEGE = "42501"  # also DROP ... WITH (FORCE) meeting another role's session
OBJECT_IN_USE = "55006"  # a database (or template) other sessions are connected to
LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout expired

_ATTRIBUTES = ("sqlstate", "pgcode")  # asyncpg and psycopg 3; psycopg2


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of ``exc`` or of the driver error inside it; None if it carries none.

    Looks through SQLAlchemy's ``.orig``, the exception's cause and context, and
    the attributes each driver uses: ``.sqlstate`` (asyncpg, psycopg 3),
    ``.pgcode`` (psycopg2), ``.diag.sqlstate`` (psycopg 3) and the ``C`` field of
    pg8000's error dictionary.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        code = _own_code(current)
        if code is not None:
            return code
        orig = getattr(current, "orig", None)
        pending += [orig if isinstance(orig, BaseException) else None]
        pending += [current.__cause__, current.__context__]
    return None


def _own_code(exc: BaseException) -> str | None:
    candidates: list[object] = [getattr(exc, name, None) for name in _ATTRIBUTES]
    candidates.append(getattr(getattr(exc, "diag", None), "sqlstate", None))
    if exc.args and isinstance(exc.args[0], dict):  # pg8000: the server's error fields
        candidates.append(exc.args[0].get("C"))
    for code in candidates:
        if isinstance(code, str) and len(code) == 5:
            return code
    return None
