"""Variant (f), the floor: the test's own work with no isolation at all.

One connection inside one transaction for the whole run, and one session on
it for every test (``join_transaction_mode="rollback_only"``: ``commit()``
flushes, nothing else). Nothing is rolled back between tests, so the rows
pile up and the test asserts ``>= 1`` instead of ``== 1``; what each test
sends is its own INSERT and SELECT, two round trips. Every isolation
variant pays at least this.
"""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from models import Base
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

DATABASE_URL = "@DATABASE_URL@"


@pytest.fixture(scope="session")
async def db_session() -> AsyncIterator[AsyncSession]:
    engine = create_async_engine(DATABASE_URL)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def do_connect(dbapi_connection: Any, connection_record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def do_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

    async with engine.connect() as conn:
        await conn.begin()
        await conn.run_sync(Base.metadata.create_all)
        yield AsyncSession(bind=conn, join_transaction_mode="rollback_only")
        await conn.rollback()
    await engine.dispose()
