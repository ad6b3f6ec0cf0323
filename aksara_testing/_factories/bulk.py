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

Each mapper's :mod:`.write_plan` is worked out once; :mod:`.inserts` sends
the statements and :mod:`.registration` makes the objects persistent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .inserts import insert_batch
from .orm import assign_integer_keys, load_server_defaults, new_instances
from .registration import Registration, session_supported
from .write_plan import WritePlan, write_plan

__all__ = ["write"]


def write(session: Any, objects: list[Any]) -> bool:
    """Insert ``objects`` and their new related objects; False (nothing done) if it cannot."""
    new = new_instances(objects)
    if not new or not session_supported(session.__class__) or _session_listens(session):
        return False
    plans: dict[Any, WritePlan] = {}
    for mapper in new:
        plan = write_plan(mapper)
        if plan is None:
            return False
        plans[mapper] = plan
    batch = {id(instance) for instances in new.values() for instance in instances}
    order = _order(new, batch, plans)
    if order is None:
        return False
    sqlite = session.get_bind().dialect.name == "sqlite"
    for mapper in order:
        if not _can_write(new[mapper], batch, plans[mapper], sqlite):
            return False
    states = [instance._sa_instance_state for mapper in order for instance in new[mapper]]
    raw = {id(state.obj()) for state in states if not state.modified}  # see .construct
    registration = Registration(session, states)
    with session.no_autoflush:
        connection = session.connection()
        deferred: dict[Any, list[Any]] = {}
        for mapper in order:
            plan = plans[mapper]
            instances = new[mapper]
            _copy_parent_keys(instances, plan, new)
            if sqlite:
                assign_integer_keys(session, mapper, instances)
                if plan.server_generated:
                    deferred[mapper] = instances
            insert_batch(connection, plan, instances, returning=not sqlite)
            _copy_keys_to_children(instances, plan)
        registration.finish(plans)
        if raw:
            _fill_backrefs(new, plans, batch, raw)
        if deferred:
            load_server_defaults(session, deferred)
    return True


def _fill_backrefs(
    new: dict[Any, list[Any]], plans: dict[Any, WritePlan], batch: set[int], raw: set[int]
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


def _session_listens(session: Any) -> bool:
    dispatch = session.dispatch
    return bool(dispatch.before_flush or dispatch.after_flush or dispatch.after_flush_postexec)


def _order(
    new: dict[Any, list[Any]], batch: set[int], plans: dict[Any, WritePlan]
) -> list[Any] | None:
    """Mappers parents first; None on a cycle or a row that refers to its own table."""
    after: dict[Any, set[Any]] = {mapper: set() for mapper in new}  # mapper -> its parents
    for mapper, instances in new.items():
        for link in plans[mapper].links:
            for instance in instances:
                for other in link.related(instance):
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


def _can_write(instances: list[Any], batch: set[int], plan: WritePlan, sqlite: bool) -> bool:
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
            for other in link.related(instance):
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


def _copy_parent_keys(instances: Iterable[Any], plan: WritePlan, new: dict[Any, list[Any]]) -> None:
    for link in plan.links:
        if link.parent_to_child:
            continue
        for instance in instances:
            parent = instance.__dict__.get(link.key)
            if parent is None:
                continue
            for parent_key, child_key in link.pairs:
                instance.__dict__[child_key] = _loaded_value(parent, parent_key)


def _copy_keys_to_children(instances: Iterable[Any], plan: WritePlan) -> None:
    for link in plan.links:
        if not link.parent_to_child:
            continue
        for instance in instances:
            for child in link.related(instance):
                for parent_key, child_key in link.pairs:
                    child.__dict__[child_key] = instance.__dict__[parent_key]
