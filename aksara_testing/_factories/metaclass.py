"""Reading a factory class: its ``Meta`` options, ``Params``, inherited declarations.

The metaclass checks a factory when its class statement runs, as factory_boy
does: an unknown ``Meta`` option, or a declared field or trait value the
model does not have, fails at import with the valid names listed.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from ..errors import FactoryError
from . import declarations as d
from .models import model_info

if TYPE_CHECKING:
    from .factory import Factory

__all__ = ["REGISTRY", "FactoryMeta"]

_META_OPTIONS = frozenset({"model", "abstract", "exclude"})

REGISTRY: dict[type, type[Factory[Any]]] = {}
"""The first factory declared for each model: required parents are made with it."""


def _meta(namespace: dict[str, Any], name: str) -> dict[str, Any]:
    meta = namespace.get("Meta")
    if meta is None:
        return {}
    options = {k: v for k, v in vars(meta).items() if not k.startswith("_")}
    unknown = set(options) - _META_OPTIONS
    if unknown:
        raise FactoryError(
            f"{name}.Meta has unknown option {sorted(unknown)[0]!r}; "
            f"valid options: {', '.join(sorted(_META_OPTIONS))}"
        )
    return options


class FactoryMeta(type):
    """Turns a factory's class body into its declarations, checked against its model."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> Any:
        cls = super().__new__(mcs, name, bases, namespace)
        if not any(isinstance(base, FactoryMeta) for base in bases):
            return cls  # Factory itself: it declares nothing
        meta = _meta(namespace, name)
        inherited: dict[str, Any] = {}
        params: dict[str, Any] = {}
        exclude: set[str] = set()
        model = None
        for base in reversed(cls.__mro__[1:]):
            inherited.update(getattr(base, "_declarations", {}))
            params.update(getattr(base, "_params", {}))
            exclude |= set(getattr(base, "_exclude", ()))
            model = getattr(base, "_model", None) or model
        own = {
            key: value
            for key, value in namespace.items()
            if not key.startswith("_") and key not in ("Meta", "Params") and not _is_method(value)
        }
        if "Params" in namespace:
            params.update(
                {k: v for k, v in vars(namespace["Params"]).items() if not k.startswith("_")}
            )
        cls._declarations = {**inherited, **own}  # type: ignore[attr-defined]
        cls._hooks = tuple(  # type: ignore[attr-defined]
            (key, value)
            for key, value in cls._declarations.items()  # type: ignore[attr-defined]
            if isinstance(value, d.PostGeneration | d.RelatedFactory)
        )
        cls._hook_names = frozenset(key for key, _ in cls._hooks)  # type: ignore[attr-defined]
        cls._params = params  # type: ignore[attr-defined]
        cls._exclude = frozenset(exclude | set(meta.get("exclude", ())))  # type: ignore[attr-defined]
        cls._left_out = frozenset(params) | cls._exclude  # type: ignore[attr-defined]
        cls._model = meta.get("model", model)  # type: ignore[attr-defined]
        cls._abstract = bool(meta.get("abstract", False))  # type: ignore[attr-defined]
        if cls._model is None and not cls._abstract:  # type: ignore[attr-defined]
            raise FactoryError(f"{name} needs a model: add class Meta: model = YourModel")
        cls._sequence_key = _sequence_key(cls, bases)  # type: ignore[attr-defined]
        if cls._model is not None:  # type: ignore[attr-defined]
            _check_fields(cls, set(own))  # type: ignore[arg-type]
            REGISTRY.setdefault(cls._model, cls)  # type: ignore[attr-defined, arg-type]
        return cls


def _sequence_key(factory: type, bases: tuple[type, ...]) -> type:
    """The factory whose Sequence counter ``factory`` draws from: factory_boy's rule.

    A factory shares the counter of its first factory base when its model is
    that base's model or a subclass of it, so ``BorrowerFactory(MemberFactory)``
    never repeats a member's unique value; any other factory counts on its own.
    """
    parent: Any = next((base for base in bases if isinstance(base, FactoryMeta)), None)
    model = getattr(factory, "_model", None)
    parent_model = getattr(parent, "_model", None)
    if (
        parent is not None
        and isinstance(model, type)
        and isinstance(parent_model, type)
        and issubclass(model, parent_model)
    ):
        return parent._sequence_key  # type: ignore[no-any-return]
    return factory


def _is_method(value: Any) -> bool:
    return isinstance(value, classmethod | staticmethod | property) or (inspect.isfunction(value))


def _check_fields(factory: type[Factory[Any]], names: set[str]) -> None:
    info = model_info(factory._model)
    if info.fields is None:
        return
    allowed = info.fields | set(factory._params) | factory._exclude
    for trait_name, trait in factory._params.items():
        if isinstance(trait, d.Trait):
            for name in sorted(set(trait.overrides) - allowed - set(factory._declarations)):
                raise FactoryError(
                    f"{factory.__name__} trait {trait_name!r} sets {name!r}, which "
                    f"{factory._model.__name__} does not have; valid fields: "
                    f"{', '.join(sorted(info.fields))}"
                )
    for name in sorted(names):
        declaration = factory._declarations[name]
        if name in allowed or isinstance(declaration, d.PostGeneration | d.RelatedFactory):
            continue
        raise FactoryError(
            f"{factory.__name__} declares {name!r}, which {factory._model.__name__} does not "
            f"have; valid fields: {', '.join(sorted(info.fields))}"
        )
