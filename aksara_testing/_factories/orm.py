"""What writing new mapped objects needs from the ORM, whichever way they are written.

Both writers (:mod:`.bulk`, straight to the tables, and :mod:`.persistence`,
through a flush) start from the new objects a batch reaches, give SQLite
rows their integer keys up front so the rows go in one statement per table,
and read server defaults back afterwards with one SELECT per table.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["assign_integer_keys", "load_server_defaults", "new_instances"]

_CHUNK = 500  # keys per SELECT when reading server defaults back


def new_instances(objects: list[Any]) -> dict[Any, list[Any]]:
    """The transient mapped objects in ``objects`` and reachable from them, by mapper.

    In order of first appearance, so rows get keys in the order they were made.
    """
    found: dict[Any, list[Any]] = {}
    seen: set[int] = set()
    stack = list(reversed(objects))
    while stack:
        instance = stack.pop()
        if id(instance) in seen:
            continue
        seen.add(id(instance))
        state = getattr(instance, "_sa_instance_state", None)
        if state is None or not state.transient:
            continue
        found.setdefault(state.mapper, []).append(instance)
        values = instance.__dict__
        for key, uselist in reversed(_relationships(state.mapper)):
            value = values.get(key)
            if value is not None:
                stack.extend(reversed(list(value)) if uselist else (value,))
    return found


@functools.cache
def _relationships(mapper: Any) -> tuple[tuple[str, bool], ...]:
    return tuple((rel.key, bool(rel.uselist)) for rel in mapper.relationships)


def assign_integer_keys(session: Any, mapper: Any, instances: list[Any]) -> None:
    """Number the missing integer keys of ``instances`` from the table's ``max(key) + 1``.

    For SQLite, which cannot say which generated key went to which row of a
    batch; nothing else writes on the test's connection, so the numbers stay free.
    """
    from sqlalchemy import Integer, func, select

    if len(mapper.primary_key) != 1 or mapper.inherits is not None:
        return
    column = mapper.primary_key[0]
    if not isinstance(column.type, Integer) or column.autoincrement is False:
        return
    key = mapper.get_property_by_column(column).key
    missing = [instance for instance in instances if instance.__dict__.get(key) is None]
    if not missing:
        return
    start = session.execute(select(func.max(column))).scalar() or 0
    taken = {instance.__dict__.get(key) for instance in instances}
    number = start
    for instance in missing:
        number += 1
        while number in taken:
            number += 1
        setattr(instance, key, number)


def load_server_defaults(session: Any, deferred: dict[Any, list[Any]]) -> None:
    """One SELECT per table (in chunks) reads back the server defaults just written."""
    from sqlalchemy import select, tuple_
    from sqlalchemy.orm.attributes import set_committed_value

    for mapper, instances in deferred.items():
        key_columns = list(mapper.primary_key)
        wanted = [
            (mapper.get_property_by_column(column).key, column)
            for table_keys in mapper._server_default_col_keys.values()
            for column in mapper.columns
            if column.key in table_keys and not column.primary_key
        ]
        if not wanted:
            continue
        for start in range(0, len(instances), _CHUNK):
            by_key = {mapper.primary_key_from_instance(i): i for i in instances[start:][:_CHUNK]}
            keys = list(by_key)
            where = (
                key_columns[0].in_([key[0] for key in keys])
                if len(key_columns) == 1
                else tuple_(*key_columns).in_(keys)
            )
            statement = select(*key_columns, *(column for _, column in wanted)).where(where)
            for row in session.execute(statement):
                instance = by_key[tuple(row[: len(key_columns)])]
                for (attribute, _), value in zip(wanted, row[len(key_columns) :], strict=True):
                    set_committed_value(instance, attribute, value)
