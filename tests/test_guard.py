"""The connection guard: while tests run, no connection reaches a database that is not a test one.

Every case runs a real pytest run of a project configured for aksara, then looks
at the protected database from outside: it must be exactly as it was. Refusals
are one line naming the database, the driver, where its URL came from, the line
of the project's code that connected, and the fix.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pg8000  # noqa: F401  (imported here, before pytester runs: see conftest.py)
import psycopg
import psycopg2
import pytest
from conftest import Project
from migration_project import write_alembic
from sqlalchemy.engine import make_url

REFUSED = "aksara: refused a connection to "
REACHABLE = "while tests run, only test_ databases are reachable"


def refusal_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines + result.errlines if line.startswith(REFUSED)]


def one_refusal(result: pytest.RunResult) -> str:
    """The single refusal line of a run (shown once, no traceback through the driver)."""
    text = "\n".join(result.outlines + result.errlines)
    lines = refusal_lines(result)
    assert len(lines) == 1, text
    assert REACHABLE in lines[0]
    assert "Traceback" not in text
    assert "site-packages" not in text
    return lines[0]


# --- PostgreSQL: the app's development database, with data that must survive -----------------


def admin(server: str) -> psycopg2.extensions.connection:
    connection = psycopg2.connect(server)
    connection.autocommit = True
    return connection


@contextlib.contextmanager
def precious_database(server: str, name: str) -> Iterator[None]:
    """A database ``name`` holding one table with one row, dropped afterwards."""
    with contextlib.closing(admin(server)) as connection, connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    with contextlib.closing(psycopg2.connect(url)) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE precious (note text)")
        cursor.execute("INSERT INTO precious VALUES ('keep me')")
        connection.commit()
    try:
        yield
    finally:
        with contextlib.closing(admin(server)) as connection, connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def tables_of(server: str, name: str) -> list[str]:
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    with contextlib.closing(psycopg2.connect(url)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return sorted(row[0] for row in cursor.fetchall())


@pytest.fixture
def pg(pytester: pytest.Pytester, postgres_url: str) -> Iterator[Project]:
    """A PostgreSQL project whose own database (``database_url``) exists and holds data."""
    project = Project(pytester, "postgres", postgres_url)
    with precious_database(postgres_url, project.name):
        yield project


def pg_url(project: Project, driver: str, database: str | None = None) -> str:
    url = make_url(project.database_url).set(drivername=f"postgresql+{driver}")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


# Each way real code opens a connection, through SQLAlchemy or the driver itself.
CONNECTS = {
    "psycopg2 engine": """
        from sqlalchemy import create_engine, text

        def test_connects():
            engine = create_engine({url!r})
            with engine.begin() as connection:
                connection.execute(text("CREATE TABLE leaked (id int)"))
        """,
    "psycopg engine": """
        from sqlalchemy import create_engine, text

        def test_connects():
            engine = create_engine({url!r})
            with engine.begin() as connection:
                connection.execute(text("CREATE TABLE leaked (id int)"))
        """,
    "pg8000 engine": """
        from sqlalchemy import create_engine, text

        def test_connects():
            engine = create_engine({url!r})
            with engine.begin() as connection:
                connection.execute(text("CREATE TABLE leaked (id int)"))
        """,
    "asyncpg engine": """
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        async def test_connects():
            engine = create_async_engine({url!r})
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE leaked (id int)"))
        """,
    "psycopg async engine": """
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        async def test_connects():
            engine = create_async_engine({url!r})
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE leaked (id int)"))
        """,
    "raw asyncpg": """
        import asyncpg

        async def test_connects():
            connection = await asyncpg.connect({dsn!r})
            await connection.execute("CREATE TABLE leaked (id int)")
        """,
    "raw psycopg2 key=value": """
        import psycopg2

        def test_connects():
            connection = psycopg2.connect({keywords!r})
            connection.cursor().execute("CREATE TABLE leaked (id int)")
            connection.commit()
        """,
    "raw psycopg keywords": """
        import psycopg

        def test_connects():
            with psycopg.connect(**{kwargs!r}) as connection:
                connection.execute("CREATE TABLE leaked (id int)")
        """,
    "raw pg8000": """
        import pg8000.dbapi

        def test_connects():
            connection = pg8000.dbapi.connect(**{pg8000_kwargs!r})
            connection.cursor().execute("CREATE TABLE leaked (id int)")
            connection.commit()
        """,
}
DRIVER_OF = {
    "psycopg2 engine": "psycopg2",
    "psycopg engine": "psycopg",
    "pg8000 engine": "pg8000",
    "asyncpg engine": "asyncpg",
    "psycopg async engine": "psycopg",
    "raw asyncpg": "asyncpg",
    "raw psycopg2 key=value": "psycopg2",
    "raw psycopg keywords": "psycopg",
    "raw pg8000": "pg8000",
}


def connect_test(project: Project, shape: str, database: str) -> str:
    url = make_url(project.database_url).set(database=database)
    driver = "psycopg" if shape == "psycopg async engine" else DRIVER_OF[shape].split()[0]
    kwargs = {
        "host": url.host,
        "port": url.port or 5432,
        "user": url.username,
        "password": url.password,
        "dbname": database,
    }
    return CONNECTS[shape].format(
        url=pg_url(project, driver, database),
        dsn=pg_url(project, "asyncpg", database).replace("postgresql+asyncpg", "postgresql"),
        keywords=" ".join(f"{k}={v}" for k, v in kwargs.items()),
        kwargs=kwargs,
        pg8000_kwargs={**{k: v for k, v in kwargs.items() if k != "dbname"}, "database": database},
    )


@pytest.mark.postgres
@pytest.mark.parametrize("shape", list(CONNECTS))
def test_every_postgresql_driver_is_refused_the_apps_own_database_before_it_connects(
    pg: Project, postgres_url: str, shape: str
) -> None:
    pg.pytester.makepyfile(test_it=connect_test(pg, shape, pg.name))

    result = pg.run()

    result.assert_outcomes(failed=1)
    line = one_refusal(result)
    assert f"database '{pg.name}' on 127.0.0.1:5432 ({DRIVER_OF[shape]};" in line
    assert "its URL is database_url (from pyproject.toml), opened at test_it.py:" in line
    assert "session setting" in line and "allow_databases" in line
    assert tables_of(postgres_url, pg.name) == ["precious"]


@pytest.mark.postgres
@pytest.mark.parametrize("shape", ["psycopg2 engine", "raw psycopg keywords", "raw pg8000"])
def test_the_runs_own_test_database_stays_reachable_by_every_driver(
    pg: Project, shape: str
) -> None:
    code = connect_test(pg, shape, f"test_{pg.name}").replace(
        "CREATE TABLE leaked (id int)", "SELECT 1"
    )
    pg.pytester.makepyfile(test_it=code)
    # The test database exists once a test has used it: this module's tests run first.
    pg.pytester.makepyfile(
        test_0_uses_the_database="""
        async def test_uses(db_session):
            await db_session.connection()
        """
    )

    result = pg.run()

    result.assert_outcomes(passed=2)
    assert refusal_lines(result) == []


@pytest.mark.postgres
def test_another_non_test_database_is_refused_and_named_by_its_environment_variable(
    pg: Project, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = f"reports_{pg.name}"
    monkeypatch.setenv("REPORTS_URL", pg_url(pg, "psycopg2", other))
    pg.pytester.makepyfile(
        test_it="""
        import os
        from sqlalchemy import create_engine, text

        def test_connects():
            with create_engine(os.environ["REPORTS_URL"]).begin() as connection:
                connection.execute(text("CREATE TABLE leaked (id int)"))
        """
    )
    with precious_database(postgres_url, other):
        result = pg.run()
        line = one_refusal(result)
        assert tables_of(postgres_url, other) == ["precious"]
    assert f"database '{other}' on 127.0.0.1:5432 (psycopg2; its URL is environment " in line
    assert 'set REPORTS_URL = "{database_url}" in [tool.aksara] env' in line


@pytest.mark.postgres
def test_the_maintenance_database_is_refused_to_the_apps_code(pg: Project) -> None:
    pg.pytester.makepyfile(test_it=connect_test(pg, "raw asyncpg", "postgres"))

    result = pg.run()

    line = one_refusal(result)
    assert "database 'postgres' on 127.0.0.1:5432 (asyncpg; its URL is a URL that no " in line


@pytest.mark.postgres
def test_allow_databases_lets_a_deliberate_connection_through(
    pg: Project, postgres_url: str
) -> None:
    other = f"reports_{pg.name}"
    pg.write_settings(f'allow_databases = ["{other}"]')
    code = connect_test(pg, "psycopg2 engine", other).replace(
        "CREATE TABLE leaked (id int)", "SELECT 1"
    )
    pg.pytester.makepyfile(test_it=code)
    with precious_database(postgres_url, other):
        result = pg.run()
    result.assert_outcomes(passed=1)


# --- Alembic env.py files with engines of their own ----------------------------------------

PSYCOPG2_ENV = """
import os

from alembic import context
from sqlalchemy import create_engine

# A stock env.py: the engine comes from the app's settings, not from Alembic's.
engine = create_engine(os.environ["{variable}"])
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
"""


def psycopg2_env_project(project: Project, variable: str, url: str) -> None:
    root = project.pytester.path
    write_alembic(root)
    (root / "migrations" / "env.py").write_text(PSYCOPG2_ENV.format(variable=variable))
    project.write_settings(f'migrations = "alembic.ini"\nenv = {{ {variable} = "{url}" }}')
    project.pytester.makepyfile(
        test_it="""
        from helpers import count

        async def test_schema_is_migrated(db_session):
            assert await count(db_session) == 0
        """
    )


@pytest.mark.postgres
def test_a_psycopg2_env_py_on_the_apps_url_migrates_the_test_database_not_the_apps(
    pg: Project, postgres_url: str
) -> None:
    psycopg2_env_project(pg, "APP_URL", pg_url(pg, "psycopg2"))

    result = pg.run()

    result.assert_outcomes(passed=1)
    assert tables_of(postgres_url, pg.name) == ["precious"]  # no alembic_version, no authors


@pytest.mark.postgres
def test_a_psycopg2_env_py_on_another_database_is_refused_before_any_statement(
    pg: Project, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = f"reports_{pg.name}"
    psycopg2_env_project(pg, "APP_URL", pg_url(pg, "psycopg2"))
    # env.py reads a variable the settings do not know: not the app's database, not redirected.
    (pg.pytester.path / "migrations" / "env.py").write_text(
        PSYCOPG2_ENV.format(variable="REPORTS_URL")
    )
    monkeypatch.setenv("REPORTS_URL", pg_url(pg, "psycopg2", other))
    with precious_database(postgres_url, other):
        result = pg.run()
        assert tables_of(postgres_url, other) == ["precious"]
    assert result.ret == 4
    output = "\n".join(result.outlines + result.errlines)
    assert f"refused a connection to database '{other}' on 127.0.0.1:5432 (psycopg2;" in output
    assert "its URL is environment variable REPORTS_URL, opened at migrations/env.py:9)" in output
    assert "Traceback" not in output
    assert output.count("refused a connection") == 1, output


# --- an env copy of the URL, left behind when database_url moved ----------------------------

SHOP_APP = """
import os

from sqlalchemy.ext.asyncio import create_async_engine

engine = create_async_engine(os.environ["SHOP_DATABASE_URL"])
"""

WRITES_THROUGH_THE_APP_ENGINE = """
from sqlalchemy import text

import shopdb

async def test_writes_through_the_app_engine():
    async with shopdb.engine.begin() as connection:
        await connection.execute(text("INSERT INTO precious (note) VALUES ('leaked')"))
"""


def precious_file(path: Path) -> bytes:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE precious (id INTEGER PRIMARY KEY, note TEXT)")
        connection.execute("INSERT INTO precious (note) VALUES ('keep me')")
        connection.commit()
    return path.read_bytes()


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["--database-url", "AKSARA_DATABASE_URL"])
def test_an_env_copy_left_on_sqlite_cannot_write_once_database_url_moves_to_postgresql(
    pytester: pytest.Pytester, postgres_url: str, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    project = Project(pytester, "sqlite", None)
    shop = pytester.path / "shop.db"
    before = precious_file(shop)
    project.write_settings('env = { SHOP_DATABASE_URL = "sqlite+aiosqlite:///shop.db" }')
    pytester.makepyfile(shopdb=SHOP_APP, test_it=WRITES_THROUGH_THE_APP_ENGINE)
    server_url = postgres_url.rsplit("/", 1)[0] + f"/{project.name}"
    args: list[str] = []
    if how == "--database-url":
        args = ["--aksara-database-url", server_url]
    else:
        monkeypatch.setenv("AKSARA_DATABASE_URL", server_url)

    result = project.run(*args)

    line = one_refusal(result)
    assert f"SQLite file {shop} (aiosqlite; its URL is SHOP_DATABASE_URL in [tool.aksara]" in line
    assert 'write SHOP_DATABASE_URL = "{database_url}" in [tool.aksara] env' in line
    assert shop.read_bytes() == before


@pytest.mark.parametrize("how", ["file", "AKSARA_DATABASE_URL", "--database-url"])
def test_env_values_with_the_placeholder_follow_database_url_wherever_it_is_set(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    url = "sqlite:///moved.db"
    sqlite_project.write_settings('env = { SHOP_DATABASE_URL = "{database_url}" }')
    args: list[str] = []
    if how == "file":
        url = sqlite_project.database_url
    elif how == "AKSARA_DATABASE_URL":
        monkeypatch.setenv("AKSARA_DATABASE_URL", url)
    else:
        args = ["--aksara-database-url", url]
    sqlite_project.pytester.makepyfile(
        test_it=f"""
        import os

        def test_the_app_sees_database_url():
            assert os.environ["SHOP_DATABASE_URL"] == {url!r}
        """
    )
    sqlite_project.run(*args).assert_outcomes(passed=1)


def test_the_placeholder_without_database_url_is_one_line_exit_4(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyprojecttoml('[tool.aksara]\nenv = { SHOP_DATABASE_URL = "{database_url}" }\n')
    pytester.makepyfile(test_it="def test_it(): pass")
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == 4
    assert result.errlines == [
        "ERROR: env SHOP_DATABASE_URL (from pyproject.toml) uses {database_url} but "
        "database_url is not set; set database_url in [tool.aksara] (or AKSARA_DATABASE_URL)",
        "",
    ]


# --- SQLite ---------------------------------------------------------------------------------


@pytest.mark.parametrize("driver", ["sqlite+aiosqlite", "sqlite+pysqlite"])
def test_sqlite_files_outside_the_run_are_refused_to_any_sqlalchemy_engine(
    sqlite_project: Project, driver: str
) -> None:
    other = sqlite_project.pytester.path / "other.db"
    before = precious_file(other)
    engine = "create_async_engine" if "aiosqlite" in driver else "create_engine"
    sqlite_project.pytester.makepyfile(
        test_it=f"""
        from sqlalchemy import create_engine, text
        from sqlalchemy.ext.asyncio import create_async_engine

        async def test_connects():
            engine = {engine}("{driver}:///other.db")
            if hasattr(engine, "sync_engine"):
                async with engine.begin() as connection:
                    await connection.execute(text("DELETE FROM precious"))
            else:
                with engine.begin() as connection:
                    connection.execute(text("DELETE FROM precious"))
        """
    )
    result = sqlite_project.run()
    line = one_refusal(result)
    assert f"SQLite file {other} ({driver.split('+')[1]}; its URL is a URL that no" in line
    assert "list the database in allow_databases in [tool.aksara]" in line
    assert other.read_bytes() == before


def test_sqlite_in_memory_and_allowed_files_stay_reachable(sqlite_project: Project) -> None:
    precious_file(sqlite_project.pytester.path / "cache.db")
    sqlite_project.write_settings('allow_databases = ["sqlite:///cache.db"]')
    sqlite_project.pytester.makepyfile(
        test_it="""
        import sqlite3

        from sqlalchemy import create_engine, text

        def test_memory():
            with create_engine("sqlite://").connect() as connection:
                assert connection.execute(text("SELECT 1")).scalar() == 1

        def test_allowed_file():
            with create_engine("sqlite:///cache.db").connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM precious")).scalar() == 1

        def test_plain_sqlite3_is_left_alone():  # coverage.py keeps its data this way
            sqlite3.connect("coverage-like.db").close()
        """
    )
    sqlite_project.run().assert_outcomes(passed=3)


def test_an_app_that_connects_at_import_gets_one_line_at_collection(
    sqlite_project: Project,
) -> None:
    precious_file(sqlite_project.pytester.path / f"{sqlite_project.name}.db")
    sqlite_project.pytester.makepyfile(
        test_it=f"""
        from sqlalchemy import create_engine, text

        with create_engine("sqlite:///{sqlite_project.name}.db").begin() as connection:
            connection.execute(text("DELETE FROM precious"))

        def test_never_runs():
            pass
        """
    )
    result = sqlite_project.run()
    assert result.ret == 2  # a collection error
    line = one_refusal(result)
    assert "its URL is database_url (from pyproject.toml), opened at test_it.py:3)" in line


def test_a_bad_allow_databases_entry_is_one_line_exit_4(sqlite_project: Project) -> None:
    sqlite_project.write_settings('allow_databases = ["mysql://db/x"]')
    sqlite_project.pytester.makepyfile(test_it="def test_it(): pass")
    result = sqlite_project.run()
    assert result.ret == 4
    result.stderr.fnmatch_lines(
        ["*setting allow_databases entry 'mysql://db/x' (from pyproject.toml) is not a database*"]
    )


def test_a_project_without_aksara_settings_is_not_guarded(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_it="""
        from sqlalchemy import create_engine, text

        def test_writes_its_own_file():
            with create_engine("sqlite:///mine.db").begin() as connection:
                connection.execute(text("CREATE TABLE t (id int)"))
        """
    )
    result = pytester.runpytest(
        "-p", "no:randomly", "-o", "asyncio_default_fixture_loop_scope=function"
    )
    result.assert_outcomes(passed=1)


def test_the_drivers_are_put_back_after_a_configured_run(sqlite_project: Project) -> None:
    originals = (psycopg2.connect, psycopg.connect, psycopg.Connection.__dict__["connect"])
    sqlite_project.pytester.makepyfile(
        test_it="""
        import psycopg, psycopg2

        def test_wrapped_meanwhile():
            assert psycopg2.connect.__aksara_wrapped__
            assert psycopg.connect.__func__.__aksara_wrapped__
        """
    )
    sqlite_project.run().assert_outcomes(passed=1)
    assert (psycopg2.connect, psycopg.connect, psycopg.Connection.__dict__["connect"]) == originals


@pytest.mark.postgres
def test_refusals_read_the_same_under_xdist(
    pg: Project, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg.pytester.makepyfile(
        test_it=connect_test(pg, "psycopg2 engine", pg.name),
        test_other="""
        async def test_fine(db_session):
            await db_session.connection()
        """,
    )

    result = pg.run("-n", "2")

    result.assert_outcomes(failed=1, passed=1)
    line = one_refusal(result)
    assert f"database '{pg.name}' on 127.0.0.1:5432 (psycopg2; its URL is database_url" in line
    assert tables_of(postgres_url, pg.name) == ["precious"]
