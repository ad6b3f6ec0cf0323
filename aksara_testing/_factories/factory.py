"""``Factory``: declare how to make test objects, then build or create them."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar, cast

from ..errors import FactoryError
from . import declarations as d
from . import persistence
from .construct import WRITING, raw_constructor
from .hooks import Built, Hook, create_managed_parents
from .metaclass import REGISTRY, FactoryMeta
from .models import ModelInfo, model_info
from .resolver import Resolver, split_overrides
from .running import Created, CreatedBatch, deliver
from .state import FactoryState, current_state

__all__ = ["Factory"]

T = TypeVar("T")

_CHECKED: set[tuple[Any, ...]] = set()  # (factory, override names) found valid


class Factory(Generic[T], metaclass=FactoryMeta):
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
        await create_managed_parents(hooks, built)
        # persistence.persist, looked up at each call: benchmarks/factories.py times it
        saved = await persistence.persist(cls, built)
        replaced = dict(zip(map(id, built), saved, strict=True))
        for hook in hooks:
            hook.instance = replaced.get(id(hook.instance), hook.instance)
            await hook.run_created()
        return [replaced[id(instance)] for instance in built]


def _fill_required(
    factory_name: str,
    model: type,
    info: ModelInfo,
    fields: dict[str, Any],
    state: FactoryState,
    hooks: list[Hook],
) -> None:
    """Fill in the required columns and parents of ``model`` that ``fields`` leaves out."""
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
        parent_factory = REGISTRY.get(parent_model) or _auto_factory(parent_model)
        fields[relationship_key] = parent_factory._make({}, state, hooks)


def _auto_factory(model: type) -> type[Factory[Any]]:
    meta = type("Meta", (), {"model": model})
    factory: Any = FactoryMeta(f"{model.__name__}AutoFactory", (Factory,), {"Meta": meta})
    REGISTRY[model] = factory
    return factory  # type: ignore[no-any-return]
