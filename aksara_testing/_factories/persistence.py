"""Writing built objects: SQLAlchemy models through the test layer's session (async or sync)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from .._context import current_run
from ..errors import FactoryError
from .bulk import write
from .construct import normalize
from .models import model_info
from .orm import assign_integer_keys, load_server_defaults, new_instances
from .running import call_user

if TYPE_CHECKING:
    from .factory import Factory

__all__ = ["fields_of", "manager_create", "on_session", "persist"]

T = TypeVar("T")


async def persist(factory: type[Factory[Any]], objects: list[Any]) -> list[Any]:
    """Write ``objects`` in the current test layer; returns the saved objects, in order.

    They are ``objects`` themselves, except where a model's manager made new ones.
    """
    model = factory._model
    if model_info(model).mapped:
        session = await _layer_session(factory)
        await on_session(session, _save, objects)
        return objects
    create = manager_create(model)
    if create is not None:
        return [await call_user(create, **fields_of(instance)) for instance in objects]
    raise FactoryError(
        f"{factory.__name__}.create() cannot save {model.__name__}: it is neither a "
        "SQLAlchemy model nor has an objects.create(); use build() instead"
    )


async def on_session(session: Any, function: Callable[..., T], *args: Any) -> T:
    """``function(sync_session, *args)`` in SQLAlchemy's greenlet, for either kind of session.

    The layer's session is an ``AsyncSession`` in async projects (its
    ``run_sync`` does just this) and a ``Session`` in sync ones, whose layer
    may need the event loop this coroutine runs on (to build the test
    database on first use): in the greenlet it can wait for it.
    """
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.util import greenlet_spawn

    if isinstance(session, AsyncSession):
        return await session.run_sync(function, *args)
    return await greenlet_spawn(function, session, *args)


def _save(session: Any, objects: list[Any]) -> None:
    """Insert ``objects`` (and the new objects they reach) and commit, in the layer."""
    if write(session, objects):
        session.commit()
        return
    normalize([i for found in new_instances(objects).values() for i in found])
    deferred = _prepare(session, objects)
    # One flush writes every table, parents first, rows batched per table;
    # the commit keeps them for the rest of the scope (rolled back after it).
    with _server_defaults_fetched_later(deferred):
        session.commit()
    if deferred:
        load_server_defaults(session, deferred)


async def _layer_session(factory: type[Factory[Any]]) -> Any:
    runtime = current_run()
    if runtime is None:
        raise FactoryError(
            f"{factory.__name__}.create() needs the test database: call it in a test or "
            "fixture run by pytest with aksara-testing"
        )
    if runtime.session_node is None:
        await runtime.activate()  # raises the run's one-line error: no session set-up yet
    return runtime.layer_session()


def manager_create(model: type) -> Any:
    """``model.objects.create`` (sync or async) when the model has one, else None."""
    create = getattr(getattr(model, "objects", None), "create", None)
    return create if callable(create) else None


def fields_of(instance: Any) -> dict[str, Any]:
    """The field values of a built, unmapped object (Pydantic or plain)."""
    dump = getattr(instance, "model_dump", None)
    if callable(dump):
        return dict(dump())
    return {k: v for k, v in vars(instance).items() if not k.startswith("_")}


def _prepare(session: Any, objects: list[Any]) -> dict[Any, list[Any]]:
    """Add ``objects``; on SQLite, give new rows their integer keys up front.

    SQLAlchemy batches an INSERT into one statement only when it need not fetch
    each row's generated key, and SQLite cannot say which key went to which row
    of a batch. Taking ``max(id) + 1...`` on the test's own connection (nothing
    else writes there) lets the flush send one statement per table.

    Returns the new objects of SQLite models with server defaults, by mapper:
    fetching those defaults per row would split the batch again, so they are
    read back afterwards with one SELECT per table.
    """
    deferred: dict[Any, list[Any]] = {}
    if session.get_bind().dialect.name == "sqlite":
        with session.no_autoflush:  # objects linked to persistent ones are not ready yet
            for mapper, instances in new_instances(objects).items():
                assign_integer_keys(session, mapper, instances)
                if _defers_server_defaults(mapper, instances):
                    deferred[mapper] = instances
    session.add_all(objects)
    return deferred


def _defers_server_defaults(mapper: Any, instances: list[Any]) -> bool:
    if mapper.version_id_col is not None or mapper.inherits is not None:
        return False
    if not any(mapper._server_default_col_keys.values()):
        return False
    keys = [mapper.get_property_by_column(c).key for c in mapper.primary_key]
    return all(instance.__dict__.get(k) is not None for instance in instances for k in keys)


@contextlib.contextmanager
def _server_defaults_fetched_later(deferred: dict[Any, list[Any]]) -> Iterator[None]:
    """Flush without RETURNING server defaults for ``deferred``'s mappers."""
    saved = {mapper: mapper.eager_defaults for mapper in deferred}
    for mapper in deferred:
        mapper.eager_defaults = False
    try:
        yield
    finally:
        for mapper, value in saved.items():
            mapper.eager_defaults = value
