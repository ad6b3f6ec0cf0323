"""The INSERT statements of a batch: one executemany per table, or one array per column.

Values the database or a column default fills in are read back into the
objects, as a flush reads them: ``RETURNING`` where the database has it,
the compiled parameters for Python-side defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from . import unnest
from .write_plan import WritePlan

__all__ = ["insert_batch"]


def insert_batch(
    connection: Any, plan: WritePlan, instances: list[Any], *, returning: bool
) -> None:
    """One executemany per set of given columns (usually one), values read back into objects."""
    from sqlalchemy import insert

    filled, none_absent = plan.filled, plan.none_absent
    groups: dict[tuple[str, ...], list[Any]] = {}
    for instance in instances:
        values = instance.__dict__
        present = []
        for key, _ in plan.columns:
            if key in values and not (values[key] is None and key in none_absent):
                present.append(key)
            elif key not in filled:
                values[key] = None  # what a flush inserts for a column with no default
                present.append(key)
        groups.setdefault(tuple(present), []).append(instance)
    column_of = dict(plan.columns)
    for given, group in groups.items():
        wanted = [
            (key, column)
            for key, column in plan.columns
            if key not in given and key in plan.returned
        ]
        if returning and _insert_arrays(connection, plan, column_of, group, given, wanted):
            continue
        statement = insert(plan.table)
        if returning and wanted:
            statement = statement.returning(
                *(column for _, column in wanted), sort_by_parameter_order=True
            )
        rows = [{column_of[key].key: item.__dict__[key] for key in given} for item in group]
        result = connection.execute(statement, rows)
        defaulted = [
            (key, column)
            for key, column in plan.columns
            if key not in given and column.default is not None
        ]
        if defaulted:
            for item, parameters in zip(group, result.context.compiled_parameters, strict=True):
                for key, column in defaulted:
                    if column.key in parameters:
                        item.__dict__[key] = parameters[column.key]
        if returning and wanted:
            for item, row in zip(group, result.all(), strict=True):
                for (key, _), value in zip(wanted, row, strict=True):
                    item.__dict__[key] = value


def _same(value: Any) -> Any:
    return value


def _given_callable(default: Any) -> Any:
    """The callable a column default was given: SQLAlchemy 2.1 keeps it as ``_fn``; 2.0 only
    as ``__wrapped__`` of the context-taking wrapper it calls (``default.arg``)."""
    return getattr(default, "_fn", None) or getattr(default.arg, "__wrapped__", default.arg)


def _insert_arrays(
    connection: Any,
    plan: WritePlan,
    column_of: dict[str, Any],
    group: list[Any],
    given: tuple[str, ...],
    wanted: list[tuple[str, Any]],
) -> bool:
    """PostgreSQL: the group as one array per column (see .unnest); False if it cannot."""
    defaults: list[tuple[str, Callable[[], Any]]] = []  # as the executemany computes them
    for key, column in plan.columns:
        if key in given or column.default is None:
            continue
        default = column.default
        if default.is_scalar:
            defaults.append((key, partial(_same, default.arg)))
        elif default.is_callable and default.arg is not _given_callable(default):
            wrapped: Callable[[Any], Any] = default.arg  # wraps a no-argument callable
            defaults.append((key, partial(wrapped, None)))
        else:
            return False  # a default that reads the statement's context
    keys = given + tuple(key for key, _ in defaults)
    generated = plan.generated_key is not None and plan.generated_key not in keys
    if wanted and not generated and not all(key in keys for key in plan.primary_keys):
        return False  # a key the server makes some other way: rows could not be matched
    given_columns = [column_of[key] for key in keys]
    if not unnest.supports(connection.dialect, given_columns):
        return False
    for item in group:
        values = item.__dict__
        for key, make in defaults:
            values[key] = make()
    arrays = [[item.__dict__[key] for item in group] for key in keys]
    if not wanted:
        unnest.insert_rows(connection, plan.table, given_columns, arrays, ())
        return True
    key_keys = plan.primary_keys
    returned = [(key, column) for key, column in wanted if key not in key_keys]
    returned_columns = [column_of[key] for key in key_keys] + [c for _, c in returned]
    rows = unnest.insert_rows(connection, plan.table, given_columns, arrays, returned_columns)
    width = len(key_keys)
    pairs: Iterable[tuple[Any, Any]]
    if generated:
        # serial keys are handed out in insertion order: sorted rows are sent order
        rows = sorted(rows, key=lambda row: row[0])
        pairs = zip(group, rows, strict=True)
    else:
        by_key = {tuple(row[:width]): row for row in rows}
        pairs = ((item, by_key[tuple(item.__dict__[k] for k in key_keys)]) for item in group)
    for item, row in pairs:
        values = item.__dict__
        for key, value in zip(key_keys, row[:width], strict=True):
            values[key] = value
        for (key, _), value in zip(returned, row[width:], strict=True):
            values[key] = value
    return True
