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
        session.add_all(objects)
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
