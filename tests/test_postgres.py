"""PostgreSQL admin: the maintenance connection, creating, commenting and dropping databases."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from aksara_testing._db.postgres import (
    admin_engine,
    drop,
    read_own_comment,
    recreate,
    write_comment,
)


@pytest.fixture
def url(postgres_url: str) -> Iterator[URL]:
    """The URL of a scratch database of this test (on asyncpg), dropped afterwards."""
    found = make_url(postgres_url).set(
        drivername="postgresql+asyncpg", database=f"test_admin_{os.getpid()}"
    )
    yield found
    asyncio.run(drop(found))


async def exists(url: URL) -> bool:
    engine = admin_engine(url)
    try:
        async with engine.connect() as connection:
            query = text("SELECT count(*) FROM pg_database WHERE datname = :name")
            return bool(await connection.scalar(query, {"name": url.database}))
    finally:
        await engine.dispose()


def test_the_admin_engine_is_on_the_maintenance_database_named_for_the_guard(url: URL) -> None:
    async def ask() -> tuple[str, str]:
        engine = admin_engine(url, application_name="aksara admin: a test")
        try:
            async with engine.connect() as connection:
                row = (
                    await connection.execute(
                        text("SELECT current_database(), current_setting('application_name')")
                    )
                ).one()
                # Autocommit: CREATE DATABASE cannot run inside a transaction block.
                await connection.execute(text(f'CREATE DATABASE "{url.database}"'))
                return row[0], row[1]
        finally:
            await engine.dispose()

    assert asyncio.run(ask()) == ("postgres", "aksara admin: a test")
    assert asyncio.run(exists(url))


def test_recreate_gives_an_empty_database_and_drop_removes_it(url: URL) -> None:
    asyncio.run(recreate(url))
    asyncio.run(write_comment(url, "aksara-schema:it's kept"))

    async def comment() -> str | None:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(url)
        try:
            return await read_own_comment(engine)
        finally:
            await engine.dispose()

    assert asyncio.run(comment()) == "aksara-schema:it's kept"
    asyncio.run(recreate(url))
    assert asyncio.run(comment()) is None

    asyncio.run(drop(url))
    assert not asyncio.run(exists(url))
    assert asyncio.run(comment()) is None  # a missing database has no comment, and no error
