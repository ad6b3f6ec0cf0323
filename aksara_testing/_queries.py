"""Count the SQL statements a block of code runs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["QueryLog", "assert_num_queries", "count_queries"]

# Transaction control is the isolation's doing, not the code under test's.
_CONTROL = re.compile(r"^\s*(SAVEPOINT|RELEASE|ROLLBACK|BEGIN|COMMIT)\b", re.IGNORECASE)


@dataclass
class QueryLog:
    """The statements run inside :func:`count_queries`, in order."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def __len__(self) -> int:
        return len(self.statements)

    def describe(self) -> str:
        if not self.statements:
            return "  (none)"
        return "\n".join(f"  {i}. {sql}" for i, sql in enumerate(self.statements, 1))


@contextmanager
def count_queries() -> Iterator[QueryLog]:
    """Record the SQL statements any SQLAlchemy engine runs inside the block.

    Transaction control (``BEGIN``, ``SAVEPOINT``, ``COMMIT``...) is not counted::

        with count_queries() as queries:
            await User.objects.count()
        assert queries.count == 1
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from ._context import current_run

    log = QueryLog()
    runtime = current_run()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if runtime is not None and runtime.own_sql:
            return  # creating the test database on first use
        if not _CONTROL.match(statement):
            log.statements.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield log
    finally:
        event.remove(Engine, "before_cursor_execute", record)


@contextmanager
def assert_num_queries(expected: int) -> Iterator[QueryLog]:
    """Fail unless the block runs exactly ``expected`` SQL statements; lists them if not::

    with assert_num_queries(1):
        await User.objects.count()
    """
    __tracebackhide__ = True
    with count_queries() as log:
        yield log
    if log.count != expected:
        raise AssertionError(
            f"expected {expected} SQL statement{'s' if expected != 1 else ''}, "
            f"{log.count} ran:\n{log.describe()}"
        )
