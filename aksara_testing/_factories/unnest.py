"""PostgreSQL: a batch of rows sent as one array per column and inserted with ``unnest``.

An executemany of 1,000 rows goes through SQLAlchemy's insertmanyvalues,
which renders a ``VALUES`` group and binds a parameter for every cell.
``INSERT ... SELECT ... FROM unnest($1::VARCHAR(100)[], $2::TEXT[])`` sends one
array per column instead: the statement's text does not depend on the row
count (one prepared statement for every batch) and asyncpg encodes each
array in one pass.

Only plain columns qualify (strings, numbers, booleans, dates and times,
UUIDs, bytes); anything else — enums, JSON, intervals, type decorators,
arrays — keeps the executemany. Rows come back in the order they were sent: sorted by the
serial key PostgreSQL hands out in insertion order (the assumption
SQLAlchemy's own "sort by parameter order" makes), or matched by the key
given with them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

__all__ = ["insert_rows", "supports"]

_DRIVERS = frozenset({"asyncpg"})


def supports(dialect: Any, columns: Sequence[Any]) -> bool:
    """Whether rows of ``columns`` can be inserted as arrays on ``dialect``."""
    if dialect.name != "postgresql" or dialect.driver not in _DRIVERS:
        return False
    return all(_plain(column.type, dialect) for column in columns)


def insert_rows(
    connection: Any,
    table: Any,
    columns: Sequence[Any],
    values: Sequence[list[Any]],
    returning: Sequence[Any],
) -> list[Any]:
    """Insert one row per position of ``values`` (one list per column).

    Returns the ``returning`` columns of the new rows, in no particular order
    (the caller matches them to its rows by key).
    """
    statement = _statement(table, tuple(columns), tuple(returning))
    parameters = {f"c{i}": list_ for i, list_ in enumerate(values)}
    result = connection.execute(statement, parameters)
    return result.all() if returning else []


@functools.lru_cache(maxsize=256)
def _statement(table: Any, columns: tuple[Any, ...], returning: tuple[Any, ...]) -> Any:
    from sqlalchemy import bindparam, cast, func, insert, select
    from sqlalchemy.dialects.postgresql import ARRAY

    types = [ARRAY(_unsized(column.type)) for column in columns]
    arrays = [cast(bindparam(f"c{i}", type_=t), t) for i, t in enumerate(types)]
    names = [f"c{i}" for i in range(len(columns))]
    rows = func.unnest(*arrays).table_valued(*names, with_ordinality="n").render_derived()
    source = select(*(rows.c[name] for name in names)).order_by(rows.c.n)
    statement = insert(table).from_select(list(columns), source)
    return statement.returning(*returning) if returning else statement


def _unsized(type_: Any) -> Any:
    """``type_`` without its length or precision.

    An explicit cast to ``VARCHAR(10)`` would cut a longer string short in
    silence; the INSERT's own assignment to the column raises as a flush does.
    """
    from sqlalchemy import types

    if isinstance(type_, types.String) and type_.length is not None:
        type_ = type_.copy()
        type_.length = None
    elif isinstance(type_, types.Numeric) and not isinstance(type_, types.Float):
        type_ = type_.copy()
        type_.precision = type_.scale = None
    return type_


@functools.lru_cache(maxsize=256)
def _plain(type_: Any, dialect: Any) -> bool:
    """A type the driver encodes the same way as an array element as alone.

    Bind processors (booleans checked, bytes wrapped) run on each element, as
    the executemany runs them on each row, through SQLAlchemy's own ``ARRAY``.
    """
    from sqlalchemy import types

    plain = (
        types.String,
        types.Integer,
        types.Boolean,
        types.Float,
        types.Numeric,
        types.Date,
        types.DateTime,
        types.Time,
        types.Uuid,
        types.LargeBinary,
    )
    excluded = (types.Enum, types.ARRAY, types.TypeDecorator, types.Interval)
    return isinstance(type_, plain) and not isinstance(type_, excluded)
