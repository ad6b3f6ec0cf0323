"""``Factory``: declare how to make test objects, then build or create them."""

from __future__ import annotations

import inspect
from typing import Any, ClassVar, Generic, TypeVar, cast

from ..errors import FactoryError
from . import declarations as d
from . import persistence
from .construct import WRITING, raw_constructor
from .models import ModelInfo, model_info
from .resolver import Resolver, split_overrides
from .running import Created, CreatedBatch, call_user, deliver
from .state import FactoryState, current_state

__all__ = ["Factory"]

T = TypeVar("T")

_META_OPTIONS = frozenset({"model", "abstract", "exclude"})
_REGISTRY: dict[type, type[Factory[Any]]] = {}
_CHECKED: set[tuple[Any, ...]] = set()  # (factory, override names) found valid


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


class _FactoryMeta(type):
    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> Any:
        cls = super().__new__(mcs, name, bases, namespace)
        if namespace.get("__module__") == __name__ and name == "Factory":
            return cls
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
            _REGISTRY.setdefault(cls._model, cls)  # type: ignore[attr-defined, arg-type]
        return cls


def _sequence_key(factory: type, bases: tuple[type, ...]) -> type:
    """The factory whose Sequence counter ``factory`` draws from: factory_boy's rule.

    A factory shares the counter of its first factory base when its model is
    that base's model or a subclass of it, so ``BorrowerFactory(MemberFactory)``
    never repeats a member's unique value; any other factory counts on its own.
    """
    parent: Any = next((base for base in bases if isinstance(base, _FactoryMeta)), None)
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


class Factory(Generic[T], metaclass=_FactoryMeta):
    """Declare test data for a model; ``build`` it in memory or ``create`` it in the database.

    ::

        class UserFactory(Factory):
            class Meta:
                model = User

            email = Factory.Sequence(lambda n: f"user{n}@example.com")
            name = Faker("name")

            class Params:
                admin = Factory.Trait(is_admin=True)

        user = await UserFactory.create(admin=True)   # in the test's transaction
        users = UserFactory.build_batch(3)            # no database

    Required columns you do not declare are filled in; objects are created in
    the current test layer and rolled back with it. In sync tests and fixtures
    ``create`` and ``create_batch`` are called without ``await``.
    """

    Faker = d.Faker
    Sequence = d.Sequence
    SubFactory = d.SubFactory
    LazyAttribute = d.LazyAttribute
    LazyFunction = d.LazyFunction
    RelatedFactory = d.RelatedFactory
    PostGeneration = d.PostGeneration
    post_generation = staticmethod(d.post_generation)
    Trait = d.Trait

    _declarations: ClassVar[dict[str, Any]] = {}
    _hooks: ClassVar[tuple[tuple[str, Any], ...]] = ()  # post-generation and related
    _hook_names: ClassVar[frozenset[str]] = frozenset()
    _left_out: ClassVar[frozenset[str]] = frozenset()  # params and excluded: not model fields
    _params: ClassVar[dict[str, Any]] = {}
    _exclude: ClassVar[frozenset[str]] = frozenset()
    _model: ClassVar[Any] = None
    _abstract: ClassVar[bool] = False
    _sequence_key: ClassVar[type] = object  # set per factory: the owner of its Sequence counter

    # -- building ----------------------------------------------------------------

    @classmethod
    def _check_overrides(cls, overrides: dict[str, Any]) -> None:
        names = (cls, *overrides)
        if names in _CHECKED:
            return
        cls._check_override_names(overrides)
        _CHECKED.add(names)

    @classmethod
    def _check_override_names(cls, overrides: dict[str, Any]) -> None:
        direct, nested = split_overrides(overrides)
        info = model_info(cls._model)
        known = set(cls._declarations) | set(cls._params) | cls._exclude
        if info.fields is not None:
            known |= info.fields
        for name in sorted({*direct, *nested}):
            if name not in known and info.fields is not None:
                traits = sorted(k for k, v in cls._params.items() if isinstance(v, d.Trait))
                raise FactoryError(
                    f"{cls.__name__} got unknown field or trait {name!r}; fields: "
                    f"{', '.join(sorted(info.fields))}; traits: {', '.join(traits) or 'none'}"
                )

    @classmethod
    def _make(cls, overrides: dict[str, Any], state: FactoryState, hooks: list[Hook]) -> Any:
        """One object; its post-generation work (and its sub-objects') is added to ``hooks``."""
        if cls._abstract:
            raise FactoryError(f"{cls.__name__} is abstract (Meta.abstract); use a subclass")
        cls._check_overrides(overrides)
        resolver = Resolver(cls, overrides, state, hooks)
        fields = resolver.resolve()
        info = model_info(cls._model)
        if info.mapped:
            _fill_required(cls.__name__, cls._model, info, fields, state, hooks)
        construct = raw_constructor(cls._model) if info.mapped and WRITING.get() else None
        instance = construct(fields) if construct is not None else cls._model(**fields)
        if not info.mapped:  # saved through its manager: parents first (see create_batch)
            hooks.append(Built(instance))
        for name, declaration in cls._hooks:
            given = resolver.declarations.get(name)
            extracted = None if given is declaration else given
            hooks.append(Hook(instance, declaration, extracted, resolver.nested.get(name, {})))
        return instance

    @classmethod
    def build(cls, **overrides: Any) -> T:
        """One object in memory (nothing is written)."""
        return cls.build_batch(1, **overrides)[0]

    @classmethod
    def build_batch(cls, size: int, **overrides: Any) -> list[T]:
        """``size`` objects in memory."""
        state = current_state()
        hooks: list[Hook] = []
        token = WRITING.set(False)  # built inside a create's declarations: still ordinary
        try:
            built = [cls._make(overrides, state, hooks) for _ in range(size)]
        finally:
            WRITING.reset(token)
        for hook in hooks:
            hook.run_built()
        return built

    # -- creating ----------------------------------------------------------------

    @classmethod
    def create(cls, **overrides: Any) -> Created[T]:
        """One object, written to the test database (rolled back with the test's scope).

        ``await UserFactory.create()`` in async code; ``UserFactory.create()``
        in sync tests and fixtures, which returns the object itself.
        """
        return cast("Created[T]", deliver(cls._create_one(overrides), f"{cls.__name__}.create()"))

    @classmethod
    def create_batch(cls, size: int, **overrides: Any) -> CreatedBatch[T]:
        """``size`` objects written together: one round of statements per table.

        Awaited in async code, called as is in sync code, like :meth:`create`.
        """
        name = f"{cls.__name__}.create_batch()"
        return cast("CreatedBatch[T]", deliver(cls._create_batch(size, overrides), name))

    @classmethod
    async def _create_one(cls, overrides: dict[str, Any]) -> T:
        return (await cls._create_batch(1, overrides))[0]

    @classmethod
    async def _create_batch(cls, size: int, overrides: dict[str, Any]) -> list[T]:
        state = current_state()
        hooks: list[Hook] = []
        token = WRITING.set(True)
        try:
            built = [cls._make(overrides, state, hooks) for _ in range(size)]
        finally:
            WRITING.reset(token)
        await _create_managed_parents(hooks, built)
        # persistence.persist, looked up at each call: benchmarks/factories.py times it
        saved = await persistence.persist(cls, built)
        replaced = dict(zip(map(id, built), saved, strict=True))
        for hook in hooks:
            hook.instance = replaced.get(id(hook.instance), hook.instance)
            await hook.run_created()
        return [replaced[id(instance)] for instance in built]


async def _create_managed_parents(hooks: list[Hook], top: list[Any]) -> None:
    """Save SubFactory objects of manager models through ``objects.create`` first.

    Objects are made children first, so each one's parents are saved before it;
    references to them are then swapped for what the manager returned.
    """
    top_ids = set(map(id, top))
    saved: dict[int, Any] = {}
    for record in hooks:
        if not isinstance(record, Built) or id(record.instance) in top_ids:
            continue
        create = persistence.manager_create(type(record.instance))
        if create is None:
            continue
        values = {k: saved.get(id(v), v) for k, v in persistence.fields_of(record.instance).items()}
        saved[id(record.instance)] = await call_user(create, **values)
    if saved:
        for instance in top:
            for key, value in persistence.fields_of(instance).items():
                if id(value) in saved:
                    setattr(instance, key, saved[id(value)])


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


def _fill_required(
    factory_name: str,
    model: type,
    info: ModelInfo,
    fields: dict[str, Any],
    state: FactoryState,
    hooks: list[Hook],
) -> None:
    missing = [(key, make) for key, make in info.required if key not in fields]
    if missing:
        number = state.next_sequence(("autofill", model))
        for key, make in missing:
            fields[key] = make(number)
    for column_key, relationship_key, parent_model in info.parents:
        if column_key in fields or (relationship_key and fields.get(relationship_key) is not None):
            continue
        if relationship_key is None:
            raise FactoryError(
                f"{factory_name}: required foreign key {column_key!r} has no relationship() "
                f"to fill it from; declare {column_key} (e.g. Factory.LazyFunction) or add a "
                f"relationship to {parent_model.__name__} on the model"
            )
        parent_factory = _REGISTRY.get(parent_model) or _auto_factory(parent_model)
        fields[relationship_key] = parent_factory._make({}, state, hooks)


def _auto_factory(model: type) -> type[Factory[Any]]:
    meta = type("Meta", (), {"model": model})
    factory: Any = _FactoryMeta(f"{model.__name__}AutoFactory", (Factory,), {"Meta": meta})
    _REGISTRY[model] = factory
    return factory  # type: ignore[no-any-return]
