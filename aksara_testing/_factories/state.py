"""Per-run fake data: one seeded Faker, and sequence counters per pytest scope.

Faker is reseeded from ``(run seed, node id)`` whenever factories start
working for another test or scope, and a test's counters start from its
enclosing scope's, so a test gets the same data whatever ran before it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from .._context import current_run

__all__ = ["FactoryState", "UnknownProvider", "current_state"]


class UnknownProvider(AttributeError):
    """Faker has no provider of that name (reported by the declaration that asked)."""


class FactoryState:
    """The Faker instance and sequence counters factories draw from."""

    def __init__(
        self,
        seed: int,
        current_node: Callable[[], object] = lambda: None,
        chain: Callable[[object], tuple[object, ...]] = lambda node: (),
    ) -> None:
        self.seed = seed
        self._current_node = current_node
        self._chain = chain
        self._faker: Any = None
        self._node: object = _UNSET
        self._counters: dict[object, dict[Any, int]] = {}
        self._active: dict[Any, int] = {}
        self._providers: dict[str, Callable[..., Any]] = {}

    def _sync(self) -> None:
        node = self._current_node()
        if node is self._node:
            return
        self._node = node
        counters = self._counters.get(node)
        if counters is None:
            parent: dict[Any, int] = {}
            for ancestor in reversed(self._chain(node)[:-1]):
                if ancestor in self._counters:
                    parent = self._counters[ancestor]
                    break
            counters = self._counters[node] = dict(parent)
        self._active = counters
        if self._faker is not None:
            self._faker.seed_instance(self._seed_for(node))

    def _seed_for(self, node: object) -> int:
        name = getattr(node, "nodeid", "") if node is not None else ""
        return zlib.crc32(f"{self.seed}:{name}".encode())

    @property
    def faker(self) -> Any:
        self._sync()
        if self._faker is None:
            from faker import Faker

            # Frequency-weighted sampling makes some providers (name) 10x slower and
            # gives tests nothing: values are drawn uniformly instead.
            self._faker = Faker(use_weighting=False)
            self._faker.seed_instance(self._seed_for(self._node))
        return self._faker

    def fake(self, provider: str, **kwargs: Any) -> Any:
        """A value of Faker's ``provider``, drawn for the scope working now."""
        self._sync()
        return self.fake_synced(provider, **kwargs)

    def fake_synced(self, provider: str, **kwargs: Any) -> Any:
        """:meth:`fake` for callers already synced with the scope working now.

        A :class:`Resolver` is: it took the object's sequence number when it was
        made, and one object is built within one scope. Skipping the scope check
        saves three calls per value (3% of the calls of a ``build_batch``).
        """
        method = self._providers.get(provider)
        if method is None:  # bound once: Faker's proxy lookup costs as much as a value
            try:
                method = self._providers[provider] = getattr(self.faker, provider)
            except AttributeError:
                raise UnknownProvider(provider) from None
        return method(**kwargs)

    def next_sequence(self, key: Any) -> int:
        """The next number of ``key``'s sequence (0, 1, 2... within a test)."""
        self._sync()
        number = self._active.get(key, 0)
        self._active[key] = number + 1
        return number


_UNSET = object()
_DEFAULT: FactoryState | None = None


def current_state() -> FactoryState:
    """The state of the running pytest session, or a process-wide one outside pytest."""
    runtime = current_run()
    if runtime is not None:
        state: FactoryState = runtime.factory_state()
        return state
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = FactoryState(seed=0)
    return _DEFAULT
