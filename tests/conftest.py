"""Shared helpers for the suite: PostgreSQL server discovery and pytester defaults."""

from __future__ import annotations

import ast
import contextlib
import functools
import gc
import os
import ssl  # noqa: F401  (loaded up front, as the drivers below: asyncpg imports it)
import sys
from collections.abc import Callable
from typing import Any

import pytest

# Import drivers once, up front: pytester's in-process runs drop modules first
# imported inside a run, and a C extension such as asyncpg cannot be re-imported.
import sqlalchemy.dialects.sqlite.aiosqlite
import sqlalchemy.ext.asyncio

with contextlib.suppress(ImportError):
    import asyncpg  # noqa: F401
    import sqlalchemy.dialects.postgresql.asyncpg
with contextlib.suppress(ImportError):  # sync apps' drivers
    import psycopg  # noqa: F401
    import psycopg2  # noqa: F401
    import sqlalchemy.dialects.postgresql.psycopg
    import sqlalchemy.dialects.postgresql.psycopg2  # noqa: F401

# Alembic's `op` and `context` are module-level proxies. Revision modules that the
# product keeps parsed between runs hold the first `op` they saw: were alembic first
# imported inside one pytester run, the next run would get fresh proxies they never see.
import alembic.command
import alembic.context
import alembic.op  # noqa: F401

# Faker's default-locale providers, loaded once here rather than inside each in-process
# pytester run (where Faker's own plugin builds a Faker).
import faker

faker.Faker()


def _parse_without_collecting(parse: Callable[..., ast.AST]) -> Callable[..., ast.AST]:
    """``ast.parse`` with the garbage collector paused, for CPython 3.11.0-3.11.7 / 3.12.0-3.12.1.

    Those versions keep the AST constructor's recursion depth in one interpreter-wide
    counter (python/cpython#106905, fixed in 3.11.8 and 3.12.2). A collection during a
    parse runs finalizers; when one of them parses too, the outer parse fails with
    "SystemError: AST constructor recursion depth mismatch". In this suite the nested
    parse is pytest's unraisable-exception hook formatting a ResourceWarning
    (pytest-asyncio leaves an event loop unclosed in in-process pytester runs): Python
    3.11's traceback module parses each line for its ``^^^`` marks. It failed CI in
    four places: our own tests parsing our modules, and pytest's assertion rewriting and
    traceback formatting in in-process runs.
    """

    @functools.wraps(parse)
    def parse_paused(*args: Any, **kwargs: Any) -> ast.AST:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return parse(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return parse_paused


AST_DEPTH_BUG = (3, 11) <= sys.version_info < (3, 11, 8) or (3, 12) <= sys.version_info < (3, 12, 2)
UNPATCHED_AST_PARSE = ast.parse
if AST_DEPTH_BUG:
    ast.parse = _parse_without_collecting(ast.parse)

POSTGRES_URL_VAR = "AKSARA_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The admin URL of a real PostgreSQL server, or skip (fail in CI) when none is set."""
    url = os.environ.get(POSTGRES_URL_VAR)
    if not url:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{POSTGRES_URL_VAR} is not set: CI must run the PostgreSQL tests")
        pytest.skip(
            f"no PostgreSQL server: set {POSTGRES_URL_VAR}=postgresql://user:pw@host/postgres"
        )
    return url


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs under test must not see this run's CI flag or aksara variables."""
    for name in list(os.environ):
        if name.startswith("AKSARA_") and name != POSTGRES_URL_VAR:
            monkeypatch.delenv(name)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)


MODELS = """
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("authors.id"), default=None)
"""

APP_DB = """
import os

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

# The app's own engine points at its real database; tests must never reach it.
engine = create_async_engine(os.environ.get("APP_DATABASE_URL", "sqlite+aiosqlite:///app.db"))
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
"""

HELPERS = '''
from sqlalchemy import func, select

from appdb import SessionLocal
from models import Author, Book


async def count(session, model=Author):
    return await session.scalar(select(func.count()).select_from(model))


async def names(session):
    return sorted((await session.scalars(select(Author.name))).all())


async def app_creates(name):
    """What an endpoint does: its own session, a real commit."""
    async with SessionLocal() as session:
        session.add(Author(name=name))
        await session.commit()


async def app_count():
    async with SessionLocal() as session:
        return await count(session)
'''


class Project:
    """A throwaway app project for pytester runs, on one backend."""

    def __init__(self, pytester: pytest.Pytester, backend: str, server: str | None) -> None:
        self.pytester = pytester
        self.backend = backend
        self.name = f"app_{os.getpid()}_{id(self) % 100000}"
        if backend == "sqlite":
            self.database_url = f"sqlite:///{self.name}.db"
        else:
            assert server is not None
            self.database_url = server.rsplit("/", 1)[0] + f"/{self.name}"
        self.write_settings()
        pytester.makepyfile(models=MODELS, appdb=APP_DB, helpers=HELPERS)

    def write_settings(self, extra: str = "") -> None:
        self.pytester.makepyprojecttoml(
            f'''
[tool.aksara]
database_url = "{self.database_url}"
models = "models:Base"
session = "appdb:SessionLocal"
{extra}
'''
        )

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", *args)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def project(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> Project:
    """A project on SQLite and, when a server is configured, on PostgreSQL."""
    server = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    return Project(pytester, request.param, server)


@pytest.fixture
def sqlite_project(pytester: pytest.Pytester) -> Project:
    return Project(pytester, "sqlite", None)
