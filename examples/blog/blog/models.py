"""Users and posts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, String, Text, inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .db import SessionLocal
from .manager import ManagerDescriptor


def _uuid() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    objects = ManagerDescriptor()

    async def save(self) -> None:
        """Write this object's changes."""
        async with SessionLocal() as session:
            await session.merge(self)
            await session.commit()

    async def delete(self) -> None:
        """Delete this object's row."""
        async with SessionLocal() as session:
            instance = await session.merge(self)
            await session.delete(instance)
            await session.commit()

    async def refresh_from_db(self) -> None:
        """Reload every column from the database."""
        async with SessionLocal() as session:
            fresh = await session.get(type(self), inspect(self).identity, populate_existing=True)
        for column in inspect(type(self)).column_attrs:
            setattr(self, column.key, getattr(fresh, column.key))


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    username: Mapped[str | None] = mapped_column(String(100), unique=True, default=None)
    password: Mapped[str] = mapped_column(String(255), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)

    posts: Mapped[list[Post]] = relationship(back_populates="author")


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(220), default="")
    content: Mapped[str] = mapped_column(Text, default="")
    is_published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)

    author: Mapped[User | None] = relationship(back_populates="posts")
