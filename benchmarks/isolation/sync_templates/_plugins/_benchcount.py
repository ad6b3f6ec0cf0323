"""Counting plugin for the sync isolation benchmark (``-p _benchcount``, SQLite only).

Every SQLite statement the test process runs, as the SQLite library sees it
(``set_trace_callback`` on each pysqlite connection a SQLAlchemy pool opens,
so statements sent straight to the driver are counted too), by kind; written
as JSON to ``$BENCH_COUNT_FILE`` when pytest ends. The harness also imports
:func:`kind` to classify what its PostgreSQL proxy sees.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
from typing import Any

KINDS = (
    "ROLLBACK TO SAVEPOINT",
    "RELEASE SAVEPOINT",
    "SAVEPOINT",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "INSERT",
    "SELECT",
    "UPDATE",
    "DELETE",
)
COUNTS: Counter[str] = Counter()


def kind(sql: str) -> str:
    """``SAVEPOINT``, ``INSERT``...: what one statement is."""
    words = " ".join(sql.split()).upper()
    for known in KINDS:
        if words.startswith(known):
            return known
    return words.split(" ", 1)[0] if words else ""


def _trace(sql: str) -> None:
    found = kind(sql)
    if found:
        COUNTS[found] += 1


def _install() -> None:
    if not os.environ.get("BENCH_COUNT_FILE"):
        return
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    @event.listens_for(Pool, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(_trace)


_install()


def pytest_unconfigure(config: Any) -> None:
    path = os.environ.get("BENCH_COUNT_FILE")
    if path:
        with open(path, "w") as out:
            json.dump(dict(COUNTS), out)
