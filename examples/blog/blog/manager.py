"""A tiny Django-style manager (``Model.objects``) over the app's async sessions."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from sqlalchemy import func, select

from .db import SessionLocal

M = TypeVar("M")


class Query(Generic[M]):
    """``Model.objects.filter(...)``: awaitable helpers over one SELECT."""

    def __init__(self, model: type[M], filters: dict[str, Any]) -> None:
        self.model = model
        self.filters = filters

    def _select(self) -> Any:
        return select(self.model).filter_by(**self.filters)

    async def all(self) -> list[M]:
        async with SessionLocal() as session:
            return list((await session.scalars(self._select())).all())

    async def first(self) -> M | None:
        async with SessionLocal() as session:
            return (await session.scalars(self._select().limit(1))).first()

    async def exists(self) -> bool:
        return await self.first() is not None

    async def count(self) -> int:
        async with SessionLocal() as session:
            query = select(func.count()).select_from(self.model).filter_by(**self.filters)
            return int(await session.scalar(query) or 0)


class Manager(Generic[M]):
    """Create, fetch and count rows of one model."""

    def __init__(self, model: type[M]) -> None:
        self.model = model

    async def create(self, **values: Any) -> M:
        instance = self.model(**values)
        async with SessionLocal() as session:
            session.add(instance)
            await session.commit()
        return instance

    def filter(self, **filters: Any) -> Query[M]:
        return Query(self.model, filters)

    async def get(self, **filters: Any) -> M:
        found = await self.filter(**filters).first()
        if found is None:
            raise LookupError(f"{self.model.__name__} matching {filters} does not exist")
        return found

    async def all(self) -> list[M]:
        return await self.filter().all()

    async def count(self) -> int:
        return await self.filter().count()


class ManagerDescriptor:
    """``Model.objects``: one Manager per model class, so it can be patched in tests."""

    def __init__(self) -> None:
        self._managers: dict[type, Manager[Any]] = {}

    def __get__(self, instance: object, owner: type[M]) -> Manager[M]:
        manager = self._managers.get(owner)
        if manager is None:
            manager = self._managers[owner] = Manager(owner)
        return manager
