"""Factories: declarative, async, batched test data.

At run time each module imports only those listed after it:

- ``factory``: ``Factory``, its ``build`` and ``create``; the required fields it fills in.
- ``metaclass``: reading a factory class (``Meta``, ``Params``, checks against the model).
- ``hooks``: post-generation hooks and related factories, run after the objects exist.
- ``resolver``: a factory's declarations plus overrides, turned into values.
- ``declarations``: what a factory attribute can be (``Faker``, ``SubFactory``...).
- ``persistence``: saving a batch, through ``bulk`` or else a flush.
- ``construct``: mapped objects made straight into ``__dict__`` for ``create``.
- ``bulk``: rows written past the unit of work, with ``inserts``, ``registration``
  and ``write_plan``.
- ``orm`` (what both writers need), ``unnest``, ``models``, ``state``, ``running``.
"""

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
