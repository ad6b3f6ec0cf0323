"""Turning a factory's declarations plus overrides into attribute values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .declarations import PostGeneration, RelatedFactory, Trait, ValueDeclaration
from .state import FactoryState

if TYPE_CHECKING:
    from .factory import Factory

__all__ = ["Resolver", "split_overrides"]

_RESOLVING = object()


def split_overrides(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``{"a": 1, "b__c": 2}`` -> ``({"a": 1}, {"b": {"c": 2}})``."""
    if not overrides:
        return {}, {}
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        head, sep, rest = key.partition("__")
        if sep:
            nested.setdefault(head, {})[rest] = value
        else:
            direct[key] = value
    return direct, nested


class _Stub:
    """What ``LazyAttribute`` functions see: attribute access resolves on demand."""

    def __init__(self, resolver: Resolver) -> None:
        object.__setattr__(self, "_resolver", resolver)

    def __getattr__(self, name: str) -> Any:
        return self._resolver.value(name)


class Resolver:
    """Resolves one object's attributes (declarations, traits, params, overrides)."""

    def __init__(
        self,
        factory: type[Factory[Any]],
        overrides: dict[str, Any],
        state: FactoryState,
        hooks: list[Any],
    ) -> None:
        self.factory = factory
        self.state = state
        self.hooks = hooks
        direct, self.nested = split_overrides(overrides)
        self.declarations = dict(factory._declarations)
        for name, param in factory._params.items():
            enabled = direct.pop(name, None) if isinstance(param, Trait) else None
            if isinstance(param, Trait):
                if enabled:
                    self.declarations.update(param.overrides)
            else:
                self.declarations.setdefault(name, param)
        self.declarations.update(direct)
        self.values: dict[str, Any] = {}
        self.sequence = state.next_sequence(factory._sequence_key)

    @property
    def stub(self) -> _Stub:
        """The object ``LazyAttribute`` functions get (made on first use)."""
        stub = self.__dict__.get("_stub")
        if stub is None:
            stub = self.__dict__["_stub"] = _Stub(self)
        return stub

    def fake(self, provider: str, **kwargs: Any) -> Any:
        return self.state.fake_synced(provider, **kwargs)  # synced by next_sequence in __init__

    def build_child(self, factory: type[Factory[Any]], overrides: dict[str, Any]) -> Any:
        return factory._make(overrides, self.state, self.hooks)

    def value(self, name: str) -> Any:
        if name in self.values:
            found = self.values[name]
            if found is _RESOLVING:
                raise RecursionError(f"{self.factory.__name__}.{name} depends on itself")
            return found
        if name not in self.declarations:
            raise AttributeError(f"{self.factory.__name__} has no attribute {name!r}")
        declaration = self.declarations[name]
        self.values[name] = _RESOLVING
        if isinstance(declaration, ValueDeclaration):
            result = declaration.evaluate(self, name, self.nested.get(name, {}))
        else:
            result = declaration
        self.values[name] = result
        return result

    def resolve(self) -> dict[str, Any]:
        """Every model field's value (params and post-generation hooks left out)."""
        fields: dict[str, Any] = {}
        factory = self.factory
        hook_names = factory._hook_names
        left_out = factory._left_out
        for name, declaration in self.declarations.items():
            if name in hook_names or isinstance(declaration, RelatedFactory | PostGeneration):
                continue
            value = self.value(name)
            if name not in left_out:
                fields[name] = value
        return fields
