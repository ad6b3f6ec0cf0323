"""What a factory attribute can be: a value, or one of these declarations.

Each declaration computes its value from a :class:`Resolver`, which gives the
values of the other attributes (resolving them on demand) and the run's
Faker instance and sequence counters.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import FactoryError
from .state import UnknownProvider as _UnknownProvider

if TYPE_CHECKING:
    from .resolver import Resolver

__all__ = [
    "Declaration",
    "Faker",
    "LazyAttribute",
    "LazyFunction",
    "PostGeneration",
    "RelatedFactory",
    "Sequence",
    "SubFactory",
    "Trait",
    "ValueDeclaration",
    "load_factory",
    "post_generation",
]


class Declaration:
    """Base of everything a factory attribute can declare instead of a plain value."""


class ValueDeclaration(Declaration):
    """A declaration that computes the attribute's value.

    Not an ``abc.ABC``: ``isinstance`` against one costs ten times more, and it
    runs for every attribute of every object made.
    """

    def evaluate(self, resolver: Resolver, name: str, overrides: dict[str, Any]) -> Any:
        """The value of attribute ``name``; ``overrides`` are its ``name__x`` keywords."""
        raise NotImplementedError


class Faker(ValueDeclaration):
    """A fake value from Faker's ``provider``: ``Faker("email")``, ``Faker("pyint", max_value=9)``.

    Seeded per test from the run's seed, so a test gets the same data in any order.
    """

    def __init__(self, provider: str, **kwargs: Any) -> None:
        self.provider = provider
        self.kwargs = kwargs

    def evaluate(self, resolver: Resolver, name: str, overrides: dict[str, Any]) -> Any:
        try:
            return resolver.fake(self.provider, **self.kwargs)
        except _UnknownProvider:
            raise FactoryError(
                f"{resolver.factory.__name__}.{name}: Faker has no provider "
                f"{self.provider!r}; see https://faker.readthedocs.io for the list "
                "(e.g. 'email', 'name', 'sentence')"
            ) from None


class Sequence(ValueDeclaration):
    """``fn(n)`` with ``n`` counting this factory's objects: ``Sequence(lambda n: f"user{n}")``.

    Counting restarts for every test from where the enclosing scope's fixtures
    left it, so values are the same whatever order tests run in. A subclass
    factory of the same model (or of a subclass of it) counts on its parent's
    counter, as in factory_boy, so the two never repeat a unique value.
    """

    def __init__(self, function: Callable[[int], Any]) -> None:
        self.function = function

    def evaluate(self, resolver: Resolver, name: str, overrides: dict[str, Any]) -> Any:
        return self.function(resolver.sequence)


class LazyAttribute(ValueDeclaration):
    """``fn(obj)``, ``obj`` showing the other attributes: ``LazyAttribute(lambda o: o.name)``."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function

    def evaluate(self, resolver: Resolver, name: str, overrides: dict[str, Any]) -> Any:
        return self.function(resolver.stub)


class LazyFunction(ValueDeclaration):
    """``fn()`` called for every object: ``LazyFunction(datetime.now)``."""

    def __init__(self, function: Callable[[], Any]) -> None:
        self.function = function

    def evaluate(self, resolver: Resolver, name: str, overrides: dict[str, Any]) -> Any:
        return self.function()


class SubFactory(ValueDeclaration):
    """An object from another factory: ``SubFactory(UserFactory, is_admin=True)``.

    ``author__name="x"`` in the parent's overrides reaches it.
    """

    def __init__(self, factory: Any, **kwargs: Any) -> None:
        self.factory = factory
        self.kwargs = kwargs

    def evaluate(self, resolver: Resolver, name: str, overrides: dict[str, Any]) -> Any:
        factory = load_factory(self.factory)
        return resolver.build_child(factory, {**self.kwargs, **overrides})


def load_factory(factory: Any) -> Any:
    """The factory of a ``SubFactory`` or ``RelatedFactory``, imported if given as a string.

    ``"tests.factories.PostFactory"`` lets two factories refer to each other
    however their modules import.
    """
    if isinstance(factory, str):
        module, _, name = factory.rpartition(".")
        return getattr(importlib.import_module(module), name)
    return factory


class RelatedFactory(Declaration):
    """Objects pointing back at this one, made after it: ``RelatedFactory(PostF, "author")``."""

    def __init__(self, factory: Any, factory_related_name: str, **kwargs: Any) -> None:
        self.factory = factory
        self.related_name = factory_related_name
        self.kwargs = kwargs


class PostGeneration(Declaration):
    """``fn(obj, create, extracted, **kwargs)`` run after the object is built or created.

    ``extracted`` is the value passed for this name, ``kwargs`` the ``name__x`` overrides.
    """

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function


def post_generation(function: Callable[..., Any]) -> PostGeneration:
    """Decorator form of :class:`PostGeneration`."""
    return PostGeneration(function)


class Trait:
    """A named set of overrides switched on with ``Factory.create(name=True)``.

    Declared under ``class Params``: ``admin = Trait(is_admin=True)``.
    """

    def __init__(self, **overrides: Any) -> None:
        self.overrides = overrides
