"""The schema as the migration checks compare it: autogenerate's diff and snapshots."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import MetaData
    from sqlalchemy.engine.reflection import Inspector

__all__ = ["autogenerate", "compare", "describe", "inspect_bind", "snapshot"]


def inspect_bind(context: MigrationContext) -> Inspector:
    from sqlalchemy import inspect

    return inspect(context.bind)


def autogenerate(context: MigrationContext, metadata: MetaData) -> tuple[list[Any], Inspector]:
    """``alembic.autogenerate.compare_metadata`` plus the inspector it used."""
    from alembic.autogenerate import compare
    from alembic.autogenerate.api import AutogenContext
    from alembic.operations import ops

    populate = getattr(compare, "_populate_migration_script", None)
    if populate is None:  # not in this Alembic: compare, then read the schema again
        from alembic.autogenerate import compare_metadata

        return list(compare_metadata(context, metadata)), inspect_bind(context)
    autogen = AutogenContext(context, metadata=metadata)
    script = ops.MigrationScript(
        rev_id=None, upgrade_ops=ops.UpgradeOps([]), downgrade_ops=ops.DowngradeOps([])
    )
    populate(autogen, script)  # what compare_metadata does, keeping autogen.inspector
    assert script.upgrade_ops is not None
    return list(script.upgrade_ops.as_diffs()), autogen.inspector


def snapshot(inspector: Inspector, version_table: str) -> dict[str, Any]:
    """The schema as comparable data, read with one query per kind of object.

    ``get_multi_*`` reflects every table at once (a handful of catalog
    queries on PostgreSQL instead of five per table). What autogenerate
    already read through ``inspector`` is taken from its cache.
    """
    names = [t for t in inspector.get_table_names() if t != version_table]
    if not names:
        return {}
    columns = _multi(inspector, "columns", names)
    keys = _multi(inspector, "pk_constraint", names)
    foreign = _multi(inspector, "foreign_keys", names)
    indexes = _multi(inspector, "indexes", names)
    uniques = _multi(inspector, "unique_constraints", names)
    schema: dict[str, Any] = {}
    for table in names:
        key = (None, table)
        schema[table] = {
            "columns": sorted(
                (c["name"], str(c["type"]), bool(c["nullable"])) for c in columns.get(key, ())
            ),
            "primary key": sorted(keys[key]["constrained_columns"] if key in keys else ()),
            "foreign keys": sorted(
                (tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in foreign.get(key, ())
            ),
            "indexes": sorted(
                (tuple(str(c) for c in i["column_names"]), bool(i["unique"]))
                for i in indexes.get(key, ())
            ),
            "unique": sorted(tuple(u["column_names"]) for u in uniques.get(key, ())),
        }
    return schema


def _multi(inspector: Inspector, kind: str, names: list[str]) -> dict[Any, Any]:
    """``inspector.get_multi_<kind>`` for ``names``, from autogenerate's read when it made one.

    Alembic's autogenerate keeps each ``get_multi_*`` result in the
    inspector's ``info_cache`` under ``alembic_<kind>``; a table it filtered
    out (env.py's ``include_name``) means reading again.
    """
    cached = inspector.info_cache.get(f"alembic_{kind}")
    if isinstance(cached, dict) and all((None, name) in cached for name in names):
        return cached
    found: dict[Any, Any] = getattr(inspector, f"get_multi_{kind}")(filter_names=names)
    return found


def compare(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    changes = [f"table {t} is gone" for t in sorted(set(first) - set(second))]
    changes += [f"table {t} is new" for t in sorted(set(second) - set(first))]
    for table in sorted(set(first) & set(second)):
        for part, before in first[table].items():
            after = second[table][part]
            if before != after:
                changes.append(f"{table} {part}: {before} became {after}")
    return changes


def describe(diff: Any) -> str:
    """One autogenerate difference as a short phrase (``add_column posts.slug``)."""
    if isinstance(diff, list):
        return "; ".join(describe(d) for d in diff)
    op, *args = diff
    if op.startswith("modify_"):
        _schema, table, column, _existing, old, new = args
        return f"{op} {table}.{column}: {old!r} -> {new!r}"
    if op in ("add_column", "remove_column"):
        _schema, table, column = args
        return f"{op} {table}.{column.name}"
    subject = args[0]
    name = getattr(subject, "name", None) or _columns_of(subject)
    table = getattr(getattr(subject, "table", None), "name", None)
    if op.endswith("_fk"):
        table = subject.parent.name
    return f"{op} {name}" + (f" on {table}" if table and table != name else "")


def _columns_of(subject: Any) -> str:
    columns: Iterable[Any] = getattr(subject, "columns", ())
    return "(" + ", ".join(getattr(c, "name", str(c)) for c in columns) + ")"
