"""Factories: declarative, async, batched test data."""

from .declarations import (
    Faker,
    LazyAttribute,
    LazyFunction,
    PostGeneration,
    RelatedFactory,
    Sequence,
    SubFactory,
    Trait,
    post_generation,
)
from .factory import Factory

__all__ = [
    "Factory",
    "Faker",
    "LazyAttribute",
    "LazyFunction",
    "PostGeneration",
    "RelatedFactory",
    "Sequence",
    "SubFactory",
    "Trait",
    "post_generation",
]
