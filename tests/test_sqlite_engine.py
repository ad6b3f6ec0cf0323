"""The SQLite test engine (``_db.sqlite.create_sqlite_engine``): every way an app talks to it works.

Its DBAPI connection calls sqlite3 directly instead of through aiosqlite's
coroutines, so these tests go through each path SQLAlchemy's asyncio API
takes to the driver, on a real SQLite file, and check what the app sees.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import ForeignKey, String, exc, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aksara_testing._db.sqlite import create_sqlite_engine


class Base(DeclarativeBase):
    pass


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_sqlite_engine(make_url(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"))
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


async def test_the_orm_writes_reads_and_numbers_rows(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        session.add_all([Team(name="red"), Team(name="blue")])
        await session.commit()
        teams = (await session.scalars(select(Team).order_by(Team.id))).all()

    assert [(team.id, team.name) for team in teams] == [(1, "red"), (2, "blue")]


async def test_a_connection_executes_and_reports_rowcount_and_lastrowid(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as connection:
        inserted = await connection.execute(insert(Team).values(name="red"))
        await connection.exec_driver_sql("INSERT INTO teams (name) VALUES ('blue'), ('green')")
        renamed = await connection.execute(update(Team).values(name=Team.name + "!"))

    assert inserted.inserted_primary_key == (1,)
    assert renamed.rowcount == 3


async def test_many_parameter_sets_insert_every_row(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        await session.execute(insert(Team), [{"name": f"team {n}"} for n in range(50)])
        await session.commit()
        count = await session.scalar(select(func.count()).select_from(Team))

    assert count == 50


async def test_results_stream_on_a_server_side_cursor(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(Team), [{"name": f"team {n}"} for n in range(10)])
    async with engine.connect() as connection:
        streamed = await connection.stream(select(Team.name).order_by(Team.id))
        names = [name async for name in streamed.scalars()]
        partitions = [
            len(rows) async for rows in (await connection.stream(select(Team))).partitions(4)
        ]

    assert names == [f"team {n}" for n in range(10)]
    assert partitions == [4, 4, 2]


async def test_fetching_in_batches_and_one_by_one(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(Team), [{"name": f"team {n}"} for n in range(5)])
        result = await connection.execute(select(Team.id).order_by(Team.id))
        first = result.fetchone()
        some = result.fetchmany(2)
        rest = result.fetchall()

    assert (first, some, rest) == ((1,), [(2,), (3,)], [(4,), (5,)])


async def test_rollback_and_savepoints_undo_what_they_should(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        session.add(Team(name="kept"))
        await session.commit()
        session.add(Team(name="dropped"))
        await session.rollback()
        async with session.begin_nested() as nested:
            session.add(Team(name="nested"))
            await session.flush()
            await nested.rollback()
        names = (await session.scalars(select(Team.name))).all()

    assert names == ["kept"]


async def test_constraint_errors_come_out_as_sqlalchemy_errors_over_sqlite3s(
    engine: AsyncEngine,
) -> None:
    async with AsyncSession(engine) as session:
        session.add_all([Team(name="same"), Team(name="same")])
        with pytest.raises(exc.IntegrityError) as unique:
            await session.commit()
        await session.rollback()
        session.add(Member(team_id=99))  # foreign keys are on
        with pytest.raises(exc.IntegrityError) as foreign:
            await session.commit()

    assert isinstance(unique.value.orig, sqlite3.IntegrityError)
    assert "UNIQUE constraint failed: teams.name" in str(unique.value)
    assert "FOREIGN KEY constraint failed" in str(foreign.value)


async def test_sql_errors_name_the_statement(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        with pytest.raises(exc.OperationalError, match="no such table: nowhere"):
            await connection.execute(text("SELECT * FROM nowhere"))
        with pytest.raises(exc.OperationalError, match='near "SELEC": syntax error'):
            await connection.exec_driver_sql("SELEC 1")
        assert (await connection.scalar(text("SELECT 1"))) == 1  # still usable


async def test_the_driver_connection_is_aiosqlites_for_code_that_reaches_for_it(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, aiosqlite.Connection)
        await driver.create_function("double", 1, lambda x: x * 2)
        cursor = await driver.execute("SELECT double(21)")
        assert await cursor.fetchone() == (42,)


async def test_autocommit_connections_commit_each_statement(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(insert(Team).values(name="at once"))
    async with engine.connect() as connection:
        names = (await connection.scalars(select(Team.name))).all()

    assert names == ["at once"]


async def test_a_closed_connection_is_reported_not_used(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        await raw.driver_connection.close()
        with pytest.raises(exc.OperationalError, match="no active connection"):
            await connection.exec_driver_sql("SELECT 1")
        await connection.invalidate()


async def test_statements_of_one_call_hand_control_to_the_loop_once(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aksara_testing._db import sqlite as module

    switches: list[object] = []

    def counted(awaitable: object) -> object:
        switches.append(awaitable)
        return original(awaitable)

    original = module.await_
    monkeypatch.setattr(module, "await_", counted)
    async with engine.connect() as connection:
        switches.clear()
        await connection.run_sync(
            lambda sync: [sync.exec_driver_sql("SELECT 1").scalar() for _ in range(5)]
        )
        in_one_call = len(switches)
        await connection.execute(text("SELECT 1"))  # needs a switch (AwaitRequired otherwise)
        await connection.execute(text("SELECT 2"))

    assert in_one_call == 1
    assert len(switches) == 3


def test_a_sync_test_engines_autocommit_connections_commit_too(tmp_path: Path) -> None:
    from aksara_testing._db.engines import create_sync_test_engine

    engine = create_sync_test_engine(make_url(f"sqlite:///{tmp_path / 'sync.db'}"), "pysqlite")
    Base.metadata.create_all(engine)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as autocommit:
        autocommit.execute(insert(Team).values(name="at once"))
    with engine.connect() as connection:
        names = connection.scalars(select(Team.name)).all()
    engine.dispose()

    assert names == ["at once"]
