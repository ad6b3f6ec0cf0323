"""Variant (h), SQLite only: the floor (f) on the SQLite driver aksara's test engine uses.

The same as (f): one connection inside one transaction for the whole run, one
session on it for every test (``join_transaction_mode="rollback_only"``:
``commit()`` flushes, nothing else), no isolation. The engine, though, is
aksara's own SQLite engine (``aksara_testing._db.sqlite.create_sqlite_engine``:
sqlite3 called on the event-loop thread, with no hop to aiosqlite's worker
thread), so the difference between (e) and (h) is isolation alone, on the
same driver.
"""

from collections.abc import AsyncIterator

import pytest
from models import Base
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from aksara_testing._db.sqlite import create_sqlite_engine

DATABASE_URL = "@DATABASE_URL@"


@pytest.fixture(scope="session")
async def db_session() -> AsyncIterator[AsyncSession]:
    engine = create_sqlite_engine(make_url(DATABASE_URL))
    async with engine.connect() as conn:
        await conn.begin()
        await conn.run_sync(Base.metadata.create_all)
        yield AsyncSession(bind=conn, join_transaction_mode="rollback_only")
        await conn.rollback()
    await engine.dispose()
