"""First uses that came late or from elsewhere, found while writing examples/todo-sync.

A module fixture first used by a later test of its module keeps its rows for
the module (they once landed in the previous test's savepoint and went with
the next test's rollback); the run's first database use may come from async
code in a TestClient's thread, where another event loop runs.
"""

from __future__ import annotations

import textwrap

import pytest

SYNC_FILES = {
    "db.py": """
        from sqlalchemy import create_engine
        from sqlalchemy.orm import DeclarativeBase, sessionmaker

        engine = create_engine("sqlite:///app.db")
        SessionLocal = sessionmaker(bind=engine)


        class Base(DeclarativeBase):
            pass
        """,
    "models.py": """
        from sqlalchemy.orm import Mapped, mapped_column

        from db import Base


        class Item(Base):
            __tablename__ = "items"
            id: Mapped[int] = mapped_column(primary_key=True)
        """,
}

ASYNC_FILES = {
    "db.py": """
        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
        from sqlalchemy.orm import DeclarativeBase

        engine = create_async_engine("sqlite+aiosqlite:///app.db")
        SessionLocal = async_sessionmaker(engine)


        class Base(DeclarativeBase):
            pass
        """,
    "models.py": SYNC_FILES["models.py"],
}

SETTINGS = """
[tool.aksara]
database_url = "sqlite:///app.db"
models = "models:Base"
session = "db:SessionLocal"
"""

SYNC_TESTS = """
import pytest
from sqlalchemy import func, select

from models import Item


def count(session):
    return session.scalar(select(func.count()).select_from(Item))


@pytest.fixture(scope="module")
def module_item(db_session):
    db_session.add(Item())
    db_session.commit()


def test_first_touches_the_database(db_session):
    assert count(db_session) == 0


def test_second_sets_the_module_fixture_up(module_item, db_session):
    assert count(db_session) == 1


def test_third_still_sees_the_module_row(module_item, db_session):
    assert count(db_session) == 1
"""

ASYNC_TESTS = """
import pytest
from sqlalchemy import func, select

from models import Item


async def count(session):
    return await session.scalar(select(func.count()).select_from(Item))


@pytest.fixture(scope="module")
async def module_item(db_session):
    db_session.add(Item())
    await db_session.commit()


async def test_first_touches_the_database(db_session):
    assert await count(db_session) == 0


async def test_second_sets_the_module_fixture_up(module_item, db_session):
    assert await count(db_session) == 1


async def test_third_still_sees_the_module_row(module_item, db_session):
    assert await count(db_session) == 1
"""


def _write(pytester: pytest.Pytester, files: dict[str, str], settings: str) -> None:
    for path, text in files.items():
        target = pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    pytester.makepyprojecttoml(settings)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_module_fixture_first_used_by_a_later_test_keeps_its_rows_for_the_module(
    pytester: pytest.Pytester, kind: str
) -> None:
    """The module's first test touched the database; the module fixture starts in the second.

    Isolation.align() to the module's chain leaves the first test's savepoint
    (aksara_2) on the stack, ownerless; the module fixture's rows are written
    inside it, the second test adopts it, and its rollback takes them: the
    third test sees 0 rows.
    """
    _write(pytester, SYNC_FILES if kind == "sync" else ASYNC_FILES, SETTINGS)
    pytester.makepyfile(test_module_data=SYNC_TESTS if kind == "sync" else ASYNC_TESTS)
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


SQLMODEL_FILES = {
    "app_db.py": """
        from sqlmodel import Field, Session, SQLModel, create_engine, func, select

        engine = create_engine("sqlite:///app.db")


        class Item(SQLModel, table=True):
            id: int | None = Field(default=None, primary_key=True)
        """,
    "app_main.py": """
        from contextlib import asynccontextmanager

        from fastapi import FastAPI
        from sqlmodel import Session, SQLModel, func, select

        from app_db import Item, engine


        @asynccontextmanager
        async def lifespan(app):
            SQLModel.metadata.create_all(engine)  # SQLModel's tutorial does this at start-up
            yield


        app = FastAPI(lifespan=lifespan)


        @app.get("/count")
        async def count():  # an async endpoint using the app's sync engine
            with Session(engine) as session:
                return session.exec(select(func.count()).select_from(Item)).one()
        """,
}

SQLMODEL_SETTINGS = """
[tool.aksara]
database_url = "sqlite:///app.db"
models = "app_db:SQLModel"
engine = "app_db:engine"
session = "sqlmodel:Session"
"""

FIRST_USE_TESTS = """
from fastapi.testclient import TestClient

from app_main import app


def test_the_first_database_use_is_async_code_in_the_testclients_thread():
    with TestClient(app) as api:  # its portal thread runs an event loop of its own
        assert api.get("/count").json() == 0
"""


@pytest.mark.parametrize("lifespan", [True, False], ids=["lifespan", "async-endpoint"])
def test_the_first_database_use_may_come_from_async_code_in_another_thread(
    pytester: pytest.Pytester, lifespan: bool
) -> None:
    """TestClient runs the lifespan and async endpoints on an event loop in its own thread.

    When that is the run's first database use, Runtime.routed_dbapi_connection()
    calls wait(activate()), and wait() runs the session loop with
    run_until_complete() in a thread whose own loop is running: "RuntimeError:
    Cannot run the event loop while another loop is running" (and "coroutine
    'Runtime.activate' was never awaited"). Once the database is active the
    same code works.
    """
    files = dict(SQLMODEL_FILES)
    if not lifespan:
        files["app_main.py"] = files["app_main.py"].replace("lifespan=lifespan", "")
    _write(pytester, files, SQLMODEL_SETTINGS)
    pytester.makepyfile(test_first_use=FIRST_USE_TESTS)
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
