"""Writing a batch of new rows with one Core ``INSERT`` per table, past the unit of work.

A flush works out, object by object, what changed, in what order, and what to
read back: for a thousand brand-new rows that bookkeeping costs more than the
statements. A factory batch is simpler than what a flush must handle — every
object is new, parents are known — so :func:`write` does the flush's work
directly: tables in dependency order, foreign keys copied from the parents,
one executemany per table (``RETURNING`` generated keys and server defaults
where the database supports it), then the objects are registered as
persistent exactly as a flush registers them.

It only does so when the result cannot differ from a flush: no flush,
insert or refresh event listeners, single-table mappers without version
counters, SQL-expression defaults or ``post_update``; collections of new
objects only; many-to-many collections empty. Otherwise it declines and the
caller flushes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, MutableMapping
from functools import cache, partial
from typing import Any

from .persistence import assign_integer_keys, load_server_defaults, new_instances

__all__ = ["writable", "write"]


@dataclasses.dataclass(frozen=True)
class _Link:
    """A relationship whose value sets foreign keys: ``pairs`` are (parent key, child key)."""

    key: str
    uselist: bool
    parent_to_child: bool  # True: this mapper is the parent (one-to-many side)
    pairs: tuple[tuple[str, str], ...]
    reverse: tuple[str, bool] | None  # the other side's (key, uselist), if it has one


@dataclasses.dataclass(frozen=True)
class _Table:
    """What writing one mapper's rows needs, worked out once per mapper."""

    table: Any
    columns: tuple[tuple[str, Any], ...]  # (attribute key, column), insertable ones
    primary_keys: tuple[str, ...]  # attribute keys, in the mapper's primary key order
    generated_key: str | None  # integer key the database generates when missing
    server_generated: tuple[tuple[str, Any], ...]  # server defaults and computed columns
    links: tuple[_Link, ...]
    many_to_many: tuple[str, ...]
    filled: frozenset[str]  # what the database or a default fills when absent
    returned: frozenset[str]  # what the database fills: server defaults, the generated key
    # As in a flush, None there means "absent", unless the type stores None (JSON).
    none_absent: frozenset[str]


def write(session: Any, objects: list[Any]) -> bool:
    """Insert ``objects`` and their new related objects; False (nothing done) if it cannot."""
    new = new_instances(objects)
    if not new or not _session_supported(session.__class__) or _session_listens(session):
        return False
    plans = {mapper: _plan(mapper) for mapper in new}
    if any(plan is None for plan in plans.values()):
        return False
    batch = {id(instance) for instances in new.values() for instance in instances}
    order = _order(new, batch, plans)  # type: ignore[arg-type]
    if order is None:
        return False
    sqlite = session.get_bind().dialect.name == "sqlite"
    for mapper in order:
        if not _can_write(new[mapper], batch, plans[mapper], sqlite):  # type: ignore[arg-type]
            return False
    states = [instance._sa_instance_state for mapper in order for instance in new[mapper]]
    raw = {id(state.obj()) for state in states if not state.modified}  # see .construct
    lean = _lean_registration(session)
    if not lean:
        _add_pending(session, states)
    with session.no_autoflush:
        connection = session.connection()
        deferred: dict[Any, list[Any]] = {}
        for mapper in order:
            plan: _Table = plans[mapper]  # type: ignore[assignment]
            instances = new[mapper]
            _copy_parent_keys(instances, plan, new)
            if sqlite:
                assign_integer_keys(session, mapper, instances)
                if plan.server_generated:
                    deferred[mapper] = instances
            _insert(connection, plan, instances, returning=not sqlite)
            _copy_keys_to_children(instances, plan)
        if not lean or not _register(session, states, plans):  # type: ignore[arg-type]
            if lean:
                _add_pending(session, states)
            session._register_persistent(set(states))
        if raw:
            _fill_backrefs(new, plans, batch, raw)  # type: ignore[arg-type]
        if deferred:
            load_server_defaults(session, deferred)
    return True


def writable(mapper: Any) -> bool:
    """Whether rows of ``mapper`` can ever be written here (the per-batch checks aside)."""
    return _plan(mapper) is not None


def _fill_backrefs(
    new: dict[Any, list[Any]], plans: dict[Any, _Table], batch: set[int], raw: set[int]
) -> None:
    """Give new parents the other side of raw-made children's links, as backrefs would."""
    from sqlalchemy.orm.attributes import set_committed_value

    for mapper, instances in new.items():
        for link in plans[mapper].links:
            if link.parent_to_child or link.reverse is None:
                continue
            key, uselist = link.reverse
            children: dict[int, tuple[Any, list[Any]]] = {}
            for child in instances:
                parent = child.__dict__.get(link.key)
                if id(child) in raw and parent is not None and id(parent) in batch:
                    children.setdefault(id(parent), (parent, []))[1].append(child)
            for parent, found in children.values():
                if not uselist:
                    set_committed_value(parent, key, found[-1])
                    continue
                if key not in parent.__dict__:  # the usual case: a parent made in this batch
                    set_committed_value(parent, key, found)
                    continue
                existing = list(parent.__dict__[key] or ())
                known = set(map(id, existing))
                set_committed_value(
                    parent, key, existing + [c for c in found if id(c) not in known]
                )


@cache
def _session_supported(session_class: Any) -> bool:
    """The two Session internals a flush uses that this writer uses too (SQLAlchemy 2.0, 2.1)."""
    return hasattr(session_class, "_save_impl") and hasattr(session_class, "_register_persistent")


def _add_pending(session: Any, states: list[Any]) -> None:
    """What ``add_all`` would do to these objects (every link cascades)."""
    for state in states:
        session._save_impl(state)


_ATTACH_EVENTS = ("before_attach", "after_attach", "transient_to_pending", "pending_to_persistent")


def _lean_registration(session: Any) -> bool:
    """Whether :func:`_register` can stand in for ``_save_impl`` + ``_register_persistent``.

    It sets what those two leave on a new object's state and the session
    (SQLAlchemy 2.0 and 2.1 internals, each checked here); with any attach
    listener, or an internal missing, SQLAlchemy's own pair runs instead.
    """
    from sqlalchemy.orm.state import InstanceState

    dispatch = session.dispatch
    if any(getattr(dispatch, name, None) for name in _ATTACH_EVENTS):
        return False
    identity_map = session.identity_map
    return (
        isinstance(getattr(identity_map, "_dict", None), dict)
        and hasattr(identity_map, "_wr")
        and hasattr(session, "hash_key")
        and hasattr(InstanceState, "_commit_all_states")
    )


def _register(session: Any, states: list[Any], plans: dict[Any, _Table]) -> bool:
    """Make the new rows' objects persistent, as a flush leaves them; False if it cannot.

    Each gets its identity key, a place in the identity map, the session's id
    and its transaction's list of new objects (a rollback makes them transient
    again), and no pending changes.
    """
    from sqlalchemy.orm.state import InstanceState

    transaction = session._transaction
    new_in_transaction = getattr(transaction, "_new", None)
    if not isinstance(new_in_transaction, MutableMapping):
        return False
    identity_map = session.identity_map
    present, weak = identity_map._dict, identity_map._wr
    keys = []
    for state in states:
        mapper = state.mapper
        values = state.dict
        key = (
            mapper._identity_class,
            tuple(values[k] for k in plans[mapper].primary_keys),
            state.identity_token,
        )
        if key in present or None in key[1]:
            return False  # SQLAlchemy's own registration warns or refuses
        keys.append(key)
    hash_key = session.hash_key
    for state, key in zip(states, keys, strict=True):
        state.session_id = hash_key
        state.key = key
        present[key] = state
        state._instance_dict = weak
        state._orphaned_outside_of_session = False
        new_in_transaction[state] = True
    InstanceState._commit_all_states(((state, state.dict) for state in states), identity_map)
    return True


def _session_listens(session: Any) -> bool:
    dispatch = session.dispatch
    return bool(dispatch.before_flush or dispatch.after_flush or dispatch.after_flush_postexec)


@cache
def _plan(mapper: Any) -> _Table | None:
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
    links: list[_Link] = []
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
        links.append(_Link(rel.key, bool(rel.uselist), parent_to_child, tuple(pairs), reverse))
    returned = frozenset(
        [key for key, _ in server_generated] + ([generated] if generated is not None else [])
    )
    filled = returned | {key for key, column in columns if column.default is not None}
    none_absent = frozenset(
        key for key, column in columns if key in filled and not column.type.should_evaluate_none
    )
    return _Table(
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


def _related(instance: Any, link: _Link) -> list[Any]:
    value = instance.__dict__.get(link.key)
    if value is None:
        return []
    return list(value) if link.uselist else [value]


def _order(
    new: dict[Any, list[Any]], batch: set[int], plans: dict[Any, _Table]
) -> list[Any] | None:
    """Mappers parents first; None on a cycle or a row that refers to its own table."""
    after: dict[Any, set[Any]] = {mapper: set() for mapper in new}  # mapper -> its parents
    for mapper, instances in new.items():
        for link in plans[mapper].links:
            for instance in instances:
                for other in _related(instance, link):
                    if id(other) not in batch:
                        continue
                    other_mapper = other._sa_instance_state.mapper
                    if other_mapper is mapper:
                        return None
                    if link.parent_to_child:
                        after[other_mapper].add(mapper)
                    else:
                        after[mapper].add(other_mapper)
    order: list[Any] = []
    ready = [mapper for mapper, parents in after.items() if not parents]
    while ready:
        mapper = ready.pop()
        order.append(mapper)
        for other, parents in after.items():
            if mapper in parents:
                parents.discard(mapper)
                if not parents and other not in order and other not in ready:
                    ready.append(other)
    return order if len(order) == len(new) else None


def _can_write(instances: list[Any], batch: set[int], plan: _Table, sqlite: bool) -> bool:
    """Whether every row of ``instances`` can be written without a flush."""
    for instance in instances:
        state = instance._sa_instance_state
        if state.key is not None or state.session_id is not None:
            return False
        values = instance.__dict__
        for key in plan.many_to_many:
            if values.get(key):
                return False
        for link in plan.links:
            for other in _related(instance, link):
                if id(other) in batch:
                    continue  # new: written in this batch, keys copied then
                if other._sa_instance_state.key is None or link.parent_to_child:
                    # a pending object of the session, or moving an existing row
                    # to a new parent (an UPDATE): the flush's job
                    return False
                loaded = (_loaded_value(other, parent) for parent, _ in link.pairs)
                if any(value is _MISSING for value in loaded):
                    return False
    if sqlite and plan.server_generated:
        # read back after the insert by primary key: the key must be known up front
        key_known = plan.generated_key is not None or all(
            instance.__dict__.get(key) is not None
            for instance in instances
            for key in plan.primary_keys
        )
        if not key_known:
            return False
    if plan.generated_key is None:
        for key, column in plan.columns:
            generated = column.default is not None or column.server_default is not None
            if key not in plan.primary_keys or generated:
                continue
            if any(instance.__dict__.get(key) is None for instance in instances):
                return False  # let the flush report the missing key
    return True


_MISSING = object()


def _loaded_value(instance: Any, key: str) -> Any:
    """An attribute's value without touching the database, or ``_MISSING``."""
    values = instance.__dict__
    if key in values:
        return values[key]
    state = instance._sa_instance_state
    mapper = state.mapper
    if state.key is not None:
        for column, value in zip(mapper.primary_key, state.key[1], strict=True):
            if mapper.get_property_by_column(column).key == key:
                return value
    return _MISSING


def _copy_parent_keys(instances: Iterable[Any], plan: _Table, new: dict[Any, list[Any]]) -> None:
    for link in plan.links:
        if link.parent_to_child:
            continue
        for instance in instances:
            parent = instance.__dict__.get(link.key)
            if parent is None:
                continue
            for parent_key, child_key in link.pairs:
                instance.__dict__[child_key] = _loaded_value(parent, parent_key)


def _copy_keys_to_children(instances: Iterable[Any], plan: _Table) -> None:
    for link in plan.links:
        if not link.parent_to_child:
            continue
        for instance in instances:
            for child in _related(instance, link):
                for parent_key, child_key in link.pairs:
                    child.__dict__[child_key] = instance.__dict__[parent_key]


def _insert(connection: Any, plan: _Table, instances: list[Any], *, returning: bool) -> None:
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
    plan: _Table,
    column_of: dict[str, Any],
    group: list[Any],
    given: tuple[str, ...],
    wanted: list[tuple[str, Any]],
) -> bool:
    """PostgreSQL: the group as one array per column (see .unnest); False if it cannot."""
    from . import unnest

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
