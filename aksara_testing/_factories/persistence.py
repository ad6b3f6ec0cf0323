"""Writing built objects: SQLAlchemy models through the test layer's session."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from .models import model_info

if TYPE_CHECKING:
    from .factory import Factory

__all__ = ["persist"]


async def persist(factory: type[Factory[Any]], objects: list[Any]) -> list[Any]:
    """Write ``objects`` in the current test layer; returns the saved objects, in order.

    They are ``objects`` themselves, except where a model's manager made new ones.
    """
    from .factory import FactoryError

    model = factory._model
    if model_info(model).mapped:
        session = _layer_session(factory)
        await session.run_sync(_prepare, objects)
        # One flush writes every table, parents first, rows batched per table;
        # the commit keeps them for the rest of the scope (rolled back after it).
        await session.commit()
        return objects
    create = getattr(getattr(model, "objects", None), "create", None)
    if create is not None and inspect.iscoroutinefunction(create):
        return [await create(**_fields_of(instance)) for instance in objects]
    raise FactoryError(
        f"{factory.__name__}.create() cannot save {model.__name__}: it is neither a "
        "SQLAlchemy model nor has an async objects.create(); use build() instead"
    )


def _layer_session(factory: type[Factory[Any]]) -> Any:
    from .._runtime import current_runtime
    from .factory import FactoryError

    runtime = current_runtime()
    if runtime is None:
        raise FactoryError(
            f"{factory.__name__}.create() needs the test database: call it in a test or "
            "fixture run by pytest with aksara-testing"
        )
    return runtime.layer_session()


def _fields_of(instance: Any) -> dict[str, Any]:
    dump = getattr(instance, "model_dump", None)
    if callable(dump):
        return dict(dump())
    return {k: v for k, v in vars(instance).items() if not k.startswith("_")}


def _prepare(session: Any, objects: list[Any]) -> None:
    """Add ``objects``; on SQLite, give new rows their integer keys up front.

    SQLAlchemy batches an INSERT into one statement only when it need not fetch
    each row's generated key, and SQLite cannot say which key went to which row
    of a batch. Taking ``max(id) + 1...`` on the test's own connection (nothing
    else writes there) lets the flush send one statement per table.
    """
    if session.get_bind().dialect.name == "sqlite":
        with session.no_autoflush:  # objects linked to persistent ones are not ready yet
            for mapper, instances in _new_instances(objects).items():
                _assign_keys(session, mapper, instances)
    session.add_all(objects)


def _new_instances(objects: list[Any]) -> dict[Any, list[Any]]:
    from sqlalchemy import inspect as sa_inspect

    found: dict[Any, list[Any]] = {}
    seen: set[int] = set()
    stack = list(objects)
    while stack:
        instance = stack.pop()
        if id(instance) in seen:
            continue
        seen.add(id(instance))
        state = sa_inspect(instance, raiseerr=False)
        if state is None or not state.transient:
            continue
        found.setdefault(state.mapper, []).append(instance)
        for relationship in state.mapper.relationships:
            value = instance.__dict__.get(relationship.key)
            if value is None:
                continue
            stack.extend(value if relationship.uselist else [value])
    return found


def _assign_keys(session: Any, mapper: Any, instances: list[Any]) -> None:
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
