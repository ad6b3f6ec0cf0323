"""Variant (b): the usual hand-written savepoint fixture.

A session-scoped engine creates the schema once; each test gets an
``AsyncSession`` joined to an outer transaction through a savepoint, and the
outer transaction is rolled back afterwards.
"""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from models import Base
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

DATABASE_URL = "@DATABASE_URL@"


def enable_sqlite_savepoints(engine: AsyncEngine) -> None:
    """SQLAlchemy's documented recipe: SQLAlchemy, not sqlite3, emits BEGIN."""

    @event.listens_for(engine.sync_engine, "connect")
    def do_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def do_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


@pytest.fixture(scope="session")
async def engine() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(DATABASE_URL)
    if engine.dialect.name == "sqlite":
        enable_sqlite_savepoints(engine)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield engine
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
    await engine.dispose()


@pytest.fixture
async def db_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with engine.connect() as conn:
        await conn.begin()
        session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint")
        yield session
        await session.close()
        await conn.rollback()
