"""aiosqlite on the loop thread for engines env.py builds itself (``_sqlite.inline_aiosqlite``).

While migrations run, every aiosqlite connection to our database file skips
aiosqlite's worker thread; the SQL and its transactions stay as they were.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from aksara_testing._db.sqlite import inline_aiosqlite


def use(path: Path) -> dict[str, Any]:
    """Connect to ``path`` the way a stock async env.py does; report what was seen."""

    async def main() -> dict[str, Any]:
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        try:
            async with engine.connect() as connection:
                # SQLite itself says which thread runs its calls: robust against
                # other tests' threads starting or ending meanwhile.
                driver = (await connection.get_raw_connection()).driver_connection
                await driver.create_function("thread_id", 0, threading.get_ident)
                ran_on = (await connection.exec_driver_sql("SELECT thread_id()")).scalar()
                synchronous = (await connection.exec_driver_sql("PRAGMA synchronous")).scalar()
                await connection.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
                await connection.execute(text("INSERT INTO t VALUES (1)"))
                await connection.rollback()  # the insert opened a transaction: gone
                await connection.execute(text("INSERT INTO t VALUES (2)"))
                await connection.commit()
                rows = (await connection.execute(text("SELECT x FROM t"))).scalars().all()
        finally:
            await engine.dispose()
        on_loop = ran_on == threading.get_ident()
        return {"on the loop thread": on_loop, "synchronous": synchronous, "rows": rows}

    return asyncio.run(main())


@pytest.mark.parametrize(("durable", "synchronous"), [(True, 2), (False, 0)])
def test_connections_to_the_file_run_on_the_loop_thread_with_the_same_transactions(
    tmp_path: Path, durable: bool, synchronous: int
) -> None:
    path = tmp_path / "scratch.db"
    with inline_aiosqlite(str(path), durable=durable):
        seen = use(path)
    assert seen == {"on the loop thread": True, "synchronous": synchronous, "rows": [2]}


def test_other_files_and_connections_after_the_block_keep_aiosqlites_thread(
    tmp_path: Path,
) -> None:
    ours, other = tmp_path / "scratch.db", tmp_path / "other.db"
    with inline_aiosqlite(str(ours), durable=False):
        assert use(other) == {"on the loop thread": False, "synchronous": 2, "rows": [2]}
    assert use(ours) == {"on the loop thread": False, "synchronous": 2, "rows": [2]}
