"""TestDatabase without pytest's hooks: the test database's whole life, driven by hand."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from aksara_testing._db.testdb import TestDatabase
from aksara_testing._settings import Settings
from aksara_testing.errors import ConfigurationError

MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80))
"""


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A models module of its own name (a fresh import in every test)."""
    name = f"testdb_models_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{name}:Base"


def settings_for(root: Path, database_url: str, models: str | None) -> Settings:
    return Settings(
        root=root,
        database_url=database_url,
        models=models,
        sources={"database_url": "pyproject.toml", "models": "pyproject.toml"},
    )


async def tables(engine_url: object) -> list[str]:
    engine = create_async_engine(engine_url)  # type: ignore[call-overload]
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda c: inspect(c).get_table_names())
    finally:
        await engine.dispose()


def test_a_sqlite_database_is_built_from_the_models_and_dropped_with_its_folder(
    tmp_path: Path, models: str
) -> None:
    database = TestDatabase(settings_for(tmp_path, "sqlite:///shop.db", models))

    async def life() -> Path:
        handle = await database.build()
        assert handle.note == "created"
        assert await tables(handle.url) == ["books"]
        assert await database.build() is handle  # once
        path = Path(handle.url.database or "")
        assert path.name == "test_shop.db" and path.is_file()
        await database.close()
        return path

    path = asyncio.run(life())
    assert not path.exists()
    assert not path.parent.exists()  # the run's own folder went with it


def test_reuse_keeps_the_database_and_the_next_run_reuses_it(tmp_path: Path, models: str) -> None:
    settings = settings_for(tmp_path, "sqlite:///shop.db", models)

    async def run(**flags: bool) -> str:
        database = TestDatabase(settings, **flags)
        handle = await database.build()
        note, path = handle.note, Path(handle.url.database or "")
        await database.close()
        assert path.is_file()
        return note

    try:
        assert asyncio.run(run(reuse=True)) == "created"
        assert asyncio.run(run(reuse=True)) == "reused (schema unchanged)"
        assert asyncio.run(run(reuse=True, recreate=True)) == "rebuilt (--create-db)"
    finally:
        database = TestDatabase(settings)  # no reuse: this one drops it
        asyncio.run(database.build())
        asyncio.run(database.close())


def test_worker_and_scratch_databases_are_named_after_the_test_database(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "postgresql://u@db.example/shop", None)
    worker = TestDatabase(settings, worker="gw1")
    assert worker.url().database == "test_shop_gw1"
    assert worker.worker_url("migrations").database == "test_shop_gw1_migrations"
    assert worker.template_url().database == "test_shop_template"
    assert TestDatabase(settings).worker_url("checks").database == "test_shop_checks"


def test_an_in_memory_database_stays_in_memory_under_a_worker(tmp_path: Path) -> None:
    database = TestDatabase(settings_for(tmp_path, "sqlite://", None), worker="gw0")
    assert database.url().database in (None, "", ":memory:")


def test_models_that_are_not_metadata_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "not_models.py").write_text("Base = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    database = TestDatabase(settings_for(tmp_path, "sqlite:///shop.db", "not_models:Base"))
    with pytest.raises(ConfigurationError, match=r"^setting models = 'not_models:Base' .*"):
        database.schema_source(database.url())


def test_other_settings_after_the_build_must_name_the_same_database(
    tmp_path: Path, models: str
) -> None:
    database = TestDatabase(settings_for(tmp_path, "sqlite:///shop.db", models))

    async def life() -> None:
        await database.build()
        try:
            database.check_same_database(database.settings)  # the same: fine
            other = settings_for(tmp_path, "sqlite:///other.db", models)
            with pytest.raises(ConfigurationError, match="settings for another database"):
                database.check_same_database(other)
        finally:
            await database.close()

    asyncio.run(life())


@pytest.mark.postgres
def test_a_postgresql_database_is_created_and_dropped(
    tmp_path: Path, models: str, postgres_url: str
) -> None:
    name = f"unit_{uuid.uuid4().hex[:8]}"
    app_url = make_url(postgres_url).set(database=name)
    database = TestDatabase(
        settings_for(tmp_path, app_url.render_as_string(hide_password=False), models)
    )
    admin = make_url(postgres_url).set(drivername="postgresql+asyncpg")

    async def exists() -> bool:
        engine = create_async_engine(admin)
        try:
            async with engine.connect() as connection:
                found = await connection.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": f"test_{name}"}
                )
                return found is not None
        finally:
            await engine.dispose()

    async def life() -> None:
        handle = await database.build()
        assert handle.url.database == f"test_{name}"
        assert await tables(handle.url) == ["books"]
        assert await exists()
        await database.close()
        assert not await exists()

    asyncio.run(life())
