"""Engines a project's env.py leaves open do not outlive our runs of it.

A stock async env.py reusing the app's module-level engine, never disposed:
its pooled connection used to stay in the template database (parallel workers
could not clone it) and to belong to a closed event loop (the next env.py
run failed with "attached to a different loop").
"""

from __future__ import annotations

import pytest
from conftest import Project
from migration_project import add_migrations

APP_ENGINE_ENV = """
import asyncio

from alembic import context

import appdb  # the app's module-level engine, on database_url: redirected to the test database


def do_run_migrations(connection):
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def main():
    async with appdb.engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    # no `await appdb.engine.dispose()`: the pooled connection stays behind


asyncio.run(main())
"""

USES_THE_DATABASE = """
from helpers import count


async def test_{n}(db_session):
    assert await count(db_session) == 0
"""


def app_engine_project(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    root = add_migrations(project, "async")
    (root / "migrations" / "env.py").write_text(APP_ENGINE_ENV.lstrip())
    driver = "sqlite+aiosqlite" if project.backend == "sqlite" else "postgresql+asyncpg"
    monkeypatch.setenv("APP_DATABASE_URL", f"{driver}://{project.database_url.split('://')[1]}")
    for n in range(4):
        project.pytester.makepyfile(**{f"test_{n}": USES_THE_DATABASE.format(n=n)})


def test_the_migration_checks_run_env_py_twice_on_the_apps_engine(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_engine_project(project, monkeypatch)

    result = project.run("--aksara-migrations", "-p", "no:cacheprovider")

    text = "\n".join(result.outlines + result.errlines)
    assert "different loop" not in text
    outcomes = result.parseoutcomes()
    assert result.ret == 0, text
    assert outcomes["passed"] > 4, text  # the tests, and the migration checks


@pytest.mark.postgres
def test_parallel_workers_clone_a_template_migrated_by_the_apps_engine(
    pytester: pytest.Pytester, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project(pytester, "postgres", postgres_url)  # SQLite workers copy a file
    app_engine_project(project, monkeypatch)

    result = project.run("-n", "2")

    text = "\n".join(result.outlines + result.errlines)
    assert "could not clone" not in text
    result.assert_outcomes(passed=4)
