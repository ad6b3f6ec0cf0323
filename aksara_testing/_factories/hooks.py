"""What is done after an object is made: post-generation hooks and related factories.

``build`` runs them at once; ``create`` once the objects are saved, with the
saved objects. Objects of models saved through a manager (``objects.create``)
that a batch made as SubFactories are recorded too (:class:`Built`), so
``create`` can save them, parents first.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..errors import FactoryError
from . import declarations as d
from .persistence import fields_of, manager_create
from .running import call_user

__all__ = ["Built", "Hook", "create_managed_parents"]


class Hook:
    """A post-generation hook or related factory waiting for its object."""

    def __init__(
        self, instance: Any, declaration: Any, extracted: Any, kwargs: dict[str, Any]
    ) -> None:
        self.instance = instance
        self.declaration = declaration
        self.extracted = extracted
        self.kwargs = kwargs

    def run_built(self) -> None:
        declaration = self.declaration
        if isinstance(declaration, d.PostGeneration):
            result = declaration.function(self.instance, False, self.extracted, **self.kwargs)
            if inspect.isawaitable(result):
                result.close()  # type: ignore[attr-defined]
                raise FactoryError("an async post-generation hook runs only with create()")
        else:
            factory = d.load_factory(declaration.factory)
            factory.build(**self._related_overrides())

    async def run_created(self) -> None:
        declaration = self.declaration
        if isinstance(declaration, d.PostGeneration):
            await call_user(
                declaration.function, self.instance, True, self.extracted, **self.kwargs
            )
        else:
            factory = d.load_factory(declaration.factory)
            await factory.create(**self._related_overrides())

    def _related_overrides(self) -> dict[str, Any]:
        declaration = self.declaration
        return {declaration.related_name: self.instance, **declaration.kwargs, **self.kwargs}


class Built(Hook):
    """An object of a model saved through its manager, made while building a batch."""

    def __init__(self, instance: Any) -> None:
        super().__init__(instance, None, None, {})

    def run_built(self) -> None:
        pass

    async def run_created(self) -> None:
        pass


async def create_managed_parents(hooks: list[Hook], top: list[Any]) -> None:
    """Save SubFactory objects of manager models through ``objects.create`` first.

    Objects are made children first, so each one's parents are saved before it;
    references to them are then swapped for what the manager returned.
    """
    top_ids = set(map(id, top))
    saved: dict[int, Any] = {}
    for record in hooks:
        if not isinstance(record, Built) or id(record.instance) in top_ids:
            continue
        create = manager_create(type(record.instance))
        if create is None:
            continue
        values = {k: saved.get(id(v), v) for k, v in fields_of(record.instance).items()}
        saved[id(record.instance)] = await call_user(create, **values)
    if saved:
        for instance in top:
            for key, value in fields_of(instance).items():
                if id(value) in saved:
                    setattr(instance, key, saved[id(value)])
