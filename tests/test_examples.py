"""The bundled example apps and the user guide's examples, run for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from app_process import clean_env
from conftest import Project

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BLOG = EXAMPLES / "blog"
TODO_SYNC = EXAMPLES / "todo-sync"  # a sync FastAPI + SQLModel app, TestClient-style tests
AKSARA = str(Path(sys.executable).with_name("aksara"))


def _aksara_test(*args: str, folder: Path = BLOG, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AKSARA, "test", "-q", *args, "--", "-p", "no:randomly", "-p", "no:cacheprovider"],
        cwd=folder,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_example_app_suite_passes_on_sqlite() -> None:
    result = _aksara_test()
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
    assert "test_blog.db created" in result.stdout
    assert not (BLOG / "blog.db").exists(), "the app's own database must never be created"


@pytest.mark.postgres
def test_example_app_suite_passes_on_postgresql(postgres_url: str) -> None:
    server = postgres_url.rsplit("/", 1)[0]
    result = _aksara_test("--database-url", f"{server}/blog_{os.getpid()}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"test_blog_{os.getpid()} created" in result.stdout


def test_sync_example_app_suite_passes_on_sqlite() -> None:
    result = _aksara_test(folder=TODO_SYNC)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "skipped" not in result.stdout
    assert "test_todo.db created" in result.stdout
    assert not (TODO_SYNC / "todo.db").exists(), "the app's own database must never be created"


@pytest.mark.postgres
def test_sync_example_app_suite_passes_on_postgresql_with_psycopg(postgres_url: str) -> None:
    # The app's engine follows database_url through env = { TODO_DATABASE_URL = ... }.
    base = postgres_url.rsplit("/", 1)[0].split("://", 1)[1]
    url = f"postgresql+psycopg://{base}/todo_{os.getpid()}"
    result = _aksara_test(folder=TODO_SYNC, AKSARA_DATABASE_URL=url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "skipped" not in result.stdout
    assert f"test_todo_{os.getpid()} created" in result.stdout


def test_guide_test_settings_example(project: Project) -> None:
    # The guide's "Test Settings" conftest, verbatim but for the import path and
    # the server address (the guide's postgresql://localhost/test_db).
    url = project.database_url
    project.pytester.makeconftest(
        f"""
        import pytest
        from aksara_testing import setup_test_database

        @pytest.fixture(scope="session")
        def test_settings():
            return {{
                "DATABASE_URL": "{url}",
                "DEBUG": True,
                "AI_MODE": False,
            }}

        @pytest.fixture(scope="session", autouse=True)
        async def setup_database(test_settings):
            await setup_test_database(test_settings)
        """
    )
    project.pytester.makepyfile(
        test_it="""
        import os
        from helpers import app_creates, count

        async def test_settings_reach_the_app(db_session):
            assert os.environ["DEBUG"] == "true"
            assert os.environ["AI_MODE"] == "false"
            await app_creates("x")
            assert await count(db_session) == 1

        async def test_isolated(db_session):
            assert await count(db_session) == 0
        """
    )
    result = project.run()
    result.assert_outcomes(passed=2)
    assert "DEBUG" not in os.environ
