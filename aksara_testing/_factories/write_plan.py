"""How :mod:`.bulk` writes one mapper's rows: its write plan, worked out once per mapper.

A plan lists the insertable columns, the keys the database generates, the
server defaults to read back and the relationships that set foreign keys.
A mapper gets none (and its rows go through a flush) when a flush could do
something the plan cannot: inheritance, version counters, insert events,
SQL-expression defaults, ``post_update``.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

__all__ = ["Link", "WritePlan", "writable", "write_plan"]


@dataclasses.dataclass(frozen=True)
class Link:
    """A relationship whose value sets foreign keys: ``pairs`` are (parent key, child key)."""

    key: str
    uselist: bool
    parent_to_child: bool  # True: this mapper is the parent (one-to-many side)
    pairs: tuple[tuple[str, str], ...]
    reverse: tuple[str, bool] | None  # the other side's (key, uselist), if it has one

    def related(self, instance: Any) -> list[Any]:
        """The objects ``instance`` holds under this relationship (none, one or many)."""
        value = instance.__dict__.get(self.key)
        if value is None:
            return []
        return list(value) if self.uselist else [value]


@dataclasses.dataclass(frozen=True)
class WritePlan:
    """What writing one mapper's rows needs, worked out once per mapper."""

    table: Any
    columns: tuple[tuple[str, Any], ...]  # (attribute key, column), insertable ones
    primary_keys: tuple[str, ...]  # attribute keys, in the mapper's primary key order
    generated_key: str | None  # integer key the database generates when missing
    server_generated: tuple[tuple[str, Any], ...]  # server defaults and computed columns
    links: tuple[Link, ...]
    many_to_many: tuple[str, ...]
    filled: frozenset[str]  # what the database or a default fills when absent
    returned: frozenset[str]  # what the database fills: server defaults, the generated key
    # As in a flush, None there means "absent", unless the type stores None (JSON).
    none_absent: frozenset[str]


def writable(mapper: Any) -> bool:
    """Whether rows of ``mapper`` can ever be written here (the per-batch checks aside)."""
    return write_plan(mapper) is not None


@cache
def write_plan(mapper: Any) -> WritePlan | None:
    """How to write ``mapper``'s rows, or None when only a flush can."""
    from sqlalchemy import Integer, Table

    table = mapper.local_table
    if (
        mapper.inherits is not None
        or mapper.polymorphic_on is not None
        or mapper.version_id_col is not None
        or len(mapper.tables) != 1
        or not isinstance(table, Table)
        or mapper.dispatch.before_insert
        or mapper.dispatch.after_insert
        or mapper.class_manager.dispatch.refresh_flush
    ):
        return None
    columns: list[tuple[str, Any]] = []
    server_generated: list[tuple[str, Any]] = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if column.table is not table or len(prop.columns) != 1:
            return None  # a column_property over an expression: only a flush/refresh loads it
        default = column.default
        computed_default = default is not None and not (default.is_scalar or default.is_callable)
        if computed_default and not column.primary_key:
            return None  # a SQL expression or sequence default outside the key
        if column.server_default is not None or column.computed is not None:
            server_generated.append((prop.key, column))
        columns.append((prop.key, column))
    keys = tuple(mapper.get_property_by_column(column).key for column in mapper.primary_key)
    generated = None
    if len(mapper.primary_key) == 1:
        column = mapper.primary_key[0]
        if isinstance(column.type, Integer) and column.autoincrement is not False:
            generated = keys[0]
    links: list[Link] = []
    many_to_many: list[str] = []
    for rel in mapper.relationships:
        if rel.viewonly:
            continue
        if rel.post_update or not rel.cascade.save_update:
            return None
        if rel.secondary is not None:
            many_to_many.append(rel.key)
            continue
        parent_to_child = rel.direction.name == "ONETOMANY"
        pairs = []
        for source, target in rel.synchronize_pairs:
            parent = mapper if parent_to_child else rel.mapper
            child = rel.mapper if parent_to_child else mapper
            pairs.append(
                (
                    parent.get_property_by_column(source).key,
                    child.get_property_by_column(target).key,
                )
            )
        reverse = None
        reverse_properties = getattr(rel, "_reverse_property", ())
        if len(reverse_properties) == 1:
            other_side = next(iter(reverse_properties))
            reverse = (other_side.key, bool(other_side.uselist))
        links.append(Link(rel.key, bool(rel.uselist), parent_to_child, tuple(pairs), reverse))
    returned = frozenset(
        [key for key, _ in server_generated] + ([generated] if generated is not None else [])
    )
    filled = returned | {key for key, column in columns if column.default is not None}
    none_absent = frozenset(
        key for key, column in columns if key in filled and not column.type.should_evaluate_none
    )
    return WritePlan(
        table,
        tuple(columns),
        keys,
        generated,
        tuple(server_generated),
        tuple(links),
        tuple(many_to_many),
        filled,
        returned,
        none_absent,
    )
