"""The shared test database built by the project's Alembic migrations.

Through real pytest runs of throwaway projects (``pytester``), on SQLite and
PostgreSQL: every common env.py shape builds the schema, ``--aksara-no-migrations``
builds it from models instead, a broken revision fails the tests that need the
database with one line, and ``--aksara-reuse-db`` notices a new revision file.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_process import AKSARA, AppProject, clean_env
from conftest import Project
from migration_project import (
    FIRST,
    HEAD,
    MIDDLE,
    REVISIONS,
    add_migrations,
    drop_pg_databases,
    pg_databases,
    revision_file,
    write_alembic,
    write_revision,
)

BLOG = Path(__file__).resolve().parents[1] / "examples" / "blog"

SCHEMA_TEST = f"""
from sqlalchemy import inspect, text


async def test_the_schema_came_from_the_migrations(db_session):
    version = await db_session.scalar(text("SELECT version_num FROM alembic_version"))
    assert version == "{HEAD}"
    connection = await db_session.connection()
    tables = await connection.run_sync(lambda c: sorted(inspect(c).get_table_names()))
    assert tables == ["alembic_version", "authors", "books"]
"""

MODELS_TEST = """
from sqlalchemy import inspect


async def test_the_schema_came_from_the_models(db_session):
    connection = await db_session.connection()
    tables = await connection.run_sync(lambda c: sorted(inspect(c).get_table_names()))
    assert tables == ["authors", "books"]
"""


@pytest.fixture
def tidy_server(project: Project, request: pytest.FixtureRequest) -> Iterator[Project]:
    """``project``, with what its runs left on the PostgreSQL server dropped afterwards.

    A run whose database build fails leaves its test database behind (see
    ``test_a_failed_build_leaves_no_database_behind``).
    """
    yield project
    if project.backend == "postgres":
        server = request.getfixturevalue("postgres_url")
        drop_pg_databases(server, pg_databases(server, f"test_{project.name}"))


def no_frames_from_our_code(output: str) -> None:
    __tracebackhide__ = True
    assert "aksara_testing/" not in output, output
    assert "Traceback" not in output, output


@pytest.mark.parametrize(
    "env",
    [
        "sync",
        "async",
        "app_settings",
        "x_argument",
        "attribute",
    ],
)
def test_every_env_shape_builds_the_schema_by_migrating_to_head(
    tidy_server: Project, env: str
) -> None:
    project = tidy_server
    add_migrations(project, env)
    project.pytester.makepyfile(test_schema=SCHEMA_TEST)
    result = project.run()
    result.assert_outcomes(passed=1)
    if project.backend == "sqlite":
        # The app's own database was neither migrated nor created.
        assert not (project.pytester.path / f"{project.name}.db").exists()


def test_migrations_may_name_the_script_folder(sqlite_project: Project) -> None:
    add_migrations(sqlite_project, "sync", setting="migrations")
    (sqlite_project.pytester.path / "alembic.ini").unlink()  # the folder alone is enough
    sqlite_project.pytester.makepyfile(test_schema=SCHEMA_TEST)
    sqlite_project.run().assert_outcomes(passed=1)


def test_no_migrations_builds_the_schema_from_models(project: Project) -> None:
    add_migrations(project, "async")
    project.pytester.makepyfile(test_models=MODELS_TEST, test_schema=SCHEMA_TEST)
    result = project.run("--aksara-no-migrations", "-k", "models")
    result.assert_outcomes(passed=1, deselected=1)
    # The same project without the flag is migrated: the two tests tell the sources apart.
    project.run("-k", "migrations").assert_outcomes(passed=1, deselected=1)


FAILING_UPGRADE = revision_file(
    MIDDLE, FIRST, "books", 'op.execute("ALTER TABLE nowhere ADD COLUMN x INTEGER")', "pass"
)
NEEDS_AND_SKIPS_THE_DATABASE = """
from sqlalchemy import text


async def test_needs_the_database(db_session):
    await db_session.execute(text("SELECT 1"))


async def test_also_needs_it(db_session):
    await db_session.execute(text("SELECT 1"))


def test_does_not_need_it():
    pass
"""


def test_a_failing_revision_fails_the_tests_that_need_the_database(tidy_server: Project) -> None:
    project = tidy_server
    root = add_migrations(project, "async")
    write_revision(root, MIDDLE, FAILING_UPGRADE)
    project.pytester.makepyfile(test_it=NEEDS_AND_SKIPS_THE_DATABASE)
    result = project.run()
    result.assert_outcomes(passed=1, failed=2)
    if project.backend == "sqlite":
        error = "OperationalError: no such table: nowhere"
    else:
        error = 'ProgrammingError: relation "nowhere" does not exist'
    # Each failing test carries the revision and the driver's error, on one line.
    line = f"building the test database: revision {MIDDLE}: upgrade failed: {error}"
    assert result.stdout.lines.count(line) == 2, result.stdout.str()
    no_frames_from_our_code(result.stdout.str() + result.stderr.str())


def test_a_failing_revision_is_reported_once_per_test(sqlite_project: Project) -> None:
    root = add_migrations(sqlite_project, "async")
    write_revision(root, MIDDLE, FAILING_UPGRADE)
    sqlite_project.pytester.makepyfile(test_it=NEEDS_AND_SKIPS_THE_DATABASE)
    output = sqlite_project.run().stdout.str()
    assert "During handling of the above exception" not in output
    assert output.count(f"revision {MIDDLE}: upgrade failed: ") == 2  # one per failing test


def test_a_syntax_error_in_a_revision_names_the_file_and_line(sqlite_project: Project) -> None:
    root = add_migrations(sqlite_project, "async")
    write_revision(root, MIDDLE, revision_file(MIDDLE, FIRST, "books", "op.create_table(", "pass"))
    sqlite_project.pytester.makepyfile(test_it=NEEDS_AND_SKIPS_THE_DATABASE)
    result = sqlite_project.run()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [f"*building the test database: *SyntaxError in {MIDDLE}.py line 13: *never closed*"]
    )
    no_frames_from_our_code(result.stdout.str() + result.stderr.str())


def test_an_env_py_that_connects_elsewhere_is_a_configuration_error(
    sqlite_project: Project,
) -> None:
    root = add_migrations(sqlite_project, "async")
    env = root / "migrations" / "env.py"
    env.write_text(
        env.read_text().replace(
            "config.get_section(config.config_ini_section, {})",
            '{"sqlalchemy.url": "sqlite+aiosqlite:///elsewhere.db"}',
        )
    )
    sqlite_project.pytester.makepyfile(test_schema=SCHEMA_TEST)
    result = sqlite_project.run()
    assert result.ret == 4
    # Refused before it ran a statement: elsewhere.db is never created.
    result.stdout.fnmatch_lines(
        [
            "*refused a connection to SQLite file */elsewhere.db (aiosqlite; its URL is a URL "
            "that no setting or environment variable holds, opened at migrations/env.py:*): "
            "while tests run, only test_ databases are reachable; make env.py connect to "
            "config.get_main_option('sqlalchemy.url'), the test database aksara hands it*"
        ]
    )
    assert not (sqlite_project.pytester.path / "elsewhere.db").exists()


def test_migrations_need_a_test_database_on_disk(sqlite_project: Project) -> None:
    add_migrations(sqlite_project, "async")
    sqlite_project.write_settings('migrations = "alembic.ini"\ntest_database_url = "sqlite://"')
    sqlite_project.pytester.makepyfile(test_schema=SCHEMA_TEST)
    result = sqlite_project.run()
    assert result.ret == 4
    result.stdout.fnmatch_lines(["*needs a test database that env.py can open, not an in-memory*"])


@pytest.mark.postgres
@pytest.mark.parametrize("broken", ["failing revision", "env.py connects elsewhere"])
def test_a_failed_build_leaves_no_database_behind(
    pytester: pytest.Pytester, postgres_url: str, broken: str
) -> None:
    project = Project(pytester, "postgres", postgres_url)
    root = add_migrations(project, "async")
    if broken == "failing revision":
        write_revision(root, MIDDLE, FAILING_UPGRADE)
    else:
        env = root / "migrations" / "env.py"
        env.write_text(
            env.read_text().replace(
                "config.get_section(config.config_ini_section, {})",
                '{"sqlalchemy.url": "sqlite+aiosqlite:///elsewhere.db"}',
            )
        )
    project.pytester.makepyfile(test_it=NEEDS_AND_SKIPS_THE_DATABASE)
    assert project.run().ret in (pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.USAGE_ERROR)
    left = pg_databases(postgres_url, f"test_{project.name}")
    drop_pg_databases(postgres_url, left)  # the next run would cope; the server should not keep it
    assert left == []


# -- --reuse-db: the fingerprint covers the migration files -------------------------------


AUTHORS_ONLY = [REVISIONS[0]]
BOOKS_TEST = """
from sqlalchemy import text


async def test_the_new_revision_ran(db_session):
    assert await db_session.scalar(text("SELECT count(*) FROM books")) == 0
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AppProject]:
    """An ``aksara test`` project whose schema comes from one revision (authors)."""
    server = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    app = AppProject(tmp_path, request.param, server)
    write_alembic(app.path, "async", AUTHORS_ONLY)
    app.write_settings('migrations = "alembic.ini"')
    yield app
    app.drop_test_database()


def test_reuse_db_reuses_until_a_revision_file_appears(migrated_app: AppProject) -> None:
    first = migrated_app.run("--reuse-db")
    assert first.code == 0, str(first)
    assert first.note == "created"

    again = migrated_app.run("--reuse-db")
    assert again.code == 0, str(again)
    assert again.note == "reused (schema unchanged)"

    down, message, upgrade, downgrade = REVISIONS[1][1:]
    write_revision(
        migrated_app.path, MIDDLE, revision_file(MIDDLE, down, message, upgrade, downgrade)
    )
    migrated_app.write("test_books.py", BOOKS_TEST)
    rebuilt = migrated_app.run("--reuse-db")
    assert rebuilt.code == 0, str(rebuilt)
    assert "2 passed" in rebuilt.stdout
    assert rebuilt.note == "rebuilt (schema changed)"

    settled = migrated_app.run("--reuse-db")
    assert settled.note == "reused (schema unchanged)"
    assert "2 passed" in settled.stdout


NO_VERSION_TABLE = """
from sqlalchemy import inspect


async def test_no_alembic_version(db_session):
    connection = await db_session.connection()
    assert not await connection.run_sync(lambda c: inspect(c).has_table("alembic_version"))
"""


def test_aksara_test_no_migrations_builds_the_blog_from_its_models(tmp_path: Path) -> None:
    blog = tmp_path / "blog"
    shutil.copytree(BLOG, blog, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
    (blog / "tests" / "test_no_version.py").write_text(NO_VERSION_TABLE)

    def aksara_test(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AKSARA), "test", "-q", *args, "tests/test_no_version.py"],
            cwd=blog,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )

    from_models = aksara_test("--no-migrations")
    assert from_models.returncode == 0, from_models.stdout + from_models.stderr
    migrated = aksara_test()
    assert migrated.returncode == 1, migrated.stdout + migrated.stderr
