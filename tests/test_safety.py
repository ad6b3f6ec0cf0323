"""The safety rule: only ``test_`` databases that are not the app's own are ever written.

Every refusal is checked through a real pytest run of a project whose tests use
``db_session``: exit code 4, one line naming the URL (password masked), the
rule and the fix, and the target left exactly as it was.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import os
import sqlite3
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Project
from sqlalchemy.engine import make_url

import aksara_testing
from aksara_testing._db import lifecycle, urls
from aksara_testing._db.urls import SafeTarget
from aksara_testing._settings import Settings

USES_THE_DATABASE = """
from helpers import count

async def test_uses_the_database(db_session):
    assert await count(db_session) == 0
"""

RULE = "the test database must be a separate database whose name starts with 'test_'"
FIX = "(fix database_url or test_database_url)"
NOT_PREFIXED = "does not start with 'test_'"
APPS_OWN = "it is the app's own database (database_url)"
SYSTEM = "is a PostgreSQL system database"


def run(project: Project, *args: str) -> pytest.RunResult:
    project.pytester.makepyfile(test_it=USES_THE_DATABASE)
    return project.run(*args)


def refusal(result: pytest.RunResult, shown: str, problem: str) -> str:
    """The one refusal line of a run that exited 4; checks it names URL, problem, rule, fix."""
    output = result.outlines + result.errlines
    text = "\n".join(output)
    assert result.ret == 4, text
    lines = [line for line in output if "refusing to create, migrate, empty or drop" in line]
    assert len(lines) == 1, text
    line = lines[0]
    assert shown in line, line
    assert problem in line, line
    assert RULE in line, line
    assert FIX in line, line
    assert "Traceback" not in text
    assert result.parseoutcomes().get("passed", 0) == 0
    return line


# --- SQLite: a precious file that must stay byte-identical -------------------------------------


def precious_file(path: Path) -> bytes:
    """Create a SQLite file with a table and a row; return its bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE precious (id INTEGER PRIMARY KEY, note TEXT)")
        connection.execute("INSERT INTO precious (note) VALUES ('keep me')")
        connection.commit()
    return path.read_bytes()


def assert_untouched(path: Path, before: bytes) -> None:
    assert path.read_bytes() == before
    for leftover in (".aksara", "-journal", "-wal", "-shm"):
        assert not path.with_name(path.name + leftover).exists(), leftover
    with contextlib.closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT note FROM precious").fetchall() == [("keep me",)]


def sqlite_shown(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def app_file(project: Project) -> Path:
    return project.pytester.path / project.database_url.removeprefix("sqlite:///")


def named_test_app(project: Project) -> Path:
    """Rename the project's own database to ``test_app.db``: the prefix rule alone lets it by."""
    project.database_url = "sqlite:///test_app.db"
    project.write_settings()
    return project.pytester.path / "test_app.db"


def test_sqlite_refuses_the_apps_own_file_given_as_test_database_url(
    sqlite_project: Project,
) -> None:
    target = app_file(sqlite_project)
    before = precious_file(target)
    sqlite_project.write_settings(f'test_database_url = "{sqlite_project.database_url}"')

    refusal(run(sqlite_project), sqlite_shown(target), NOT_PREFIXED)
    assert_untouched(target, before)


def test_sqlite_refuses_the_apps_own_file_even_when_it_is_named_test(
    sqlite_project: Project,
) -> None:
    target = named_test_app(sqlite_project)
    before = precious_file(target)
    sqlite_project.write_settings('test_database_url = "sqlite:///test_app.db"')

    refusal(run(sqlite_project), sqlite_shown(target), APPS_OWN)
    assert_untouched(target, before)


def test_sqlite_refuses_the_apps_own_file_by_absolute_path(sqlite_project: Project) -> None:
    target = named_test_app(sqlite_project)
    before = precious_file(target)
    sqlite_project.write_settings(f'test_database_url = "sqlite:///{target}"')

    refusal(run(sqlite_project), sqlite_shown(target), APPS_OWN)
    assert_untouched(target, before)


def test_sqlite_refuses_a_path_that_climbs_back_to_the_apps_own_file(
    sqlite_project: Project,
) -> None:
    target = named_test_app(sqlite_project)
    before = precious_file(target)
    (sqlite_project.pytester.path / "sub").mkdir()
    sqlite_project.write_settings('test_database_url = "sqlite:///sub/../test_app.db"')

    shown = sqlite_shown(sqlite_project.pytester.path / "sub" / ".." / "test_app.db")
    refusal(run(sqlite_project), shown, APPS_OWN)
    assert_untouched(target, before)


def test_sqlite_refuses_a_test_named_symlink_to_the_apps_own_file(
    sqlite_project: Project,
) -> None:
    target = app_file(sqlite_project)
    before = precious_file(target)
    link = sqlite_project.pytester.path / "test_link.db"
    link.symlink_to(target)
    sqlite_project.write_settings('test_database_url = "sqlite:///test_link.db"')

    refusal(run(sqlite_project), sqlite_shown(link), APPS_OWN)
    assert_untouched(target, before)
    assert link.is_symlink()


def test_sqlite_refuses_the_apps_own_file_through_a_symlinked_directory(
    sqlite_project: Project,
) -> None:
    target = named_test_app(sqlite_project)
    before = precious_file(target)
    (sqlite_project.pytester.path / "linked").symlink_to(sqlite_project.pytester.path)
    sqlite_project.write_settings('test_database_url = "sqlite:///linked/test_app.db"')

    shown = sqlite_shown(sqlite_project.pytester.path / "linked" / "test_app.db")
    refusal(run(sqlite_project), shown, APPS_OWN)
    assert_untouched(target, before)


@pytest.mark.parametrize("name", ["production", "mytest_app", "testapp", "TEST_app", "test-app"])
def test_sqlite_refuses_a_file_whose_name_does_not_start_with_test_(
    sqlite_project: Project, name: str
) -> None:
    target = sqlite_project.pytester.path / "data" / f"{name}.db"
    before = precious_file(target)
    sqlite_project.write_settings(f'test_database_url = "sqlite:///data/{name}.db"')

    line = refusal(run(sqlite_project), sqlite_shown(target), NOT_PREFIXED)
    assert f"its name {name!r}" in line
    assert_untouched(target, before)


def test_sqlite_refusal_creates_no_file_where_there_was_none(sqlite_project: Project) -> None:
    target = sqlite_project.pytester.path / "production.db"
    sqlite_project.write_settings('test_database_url = "sqlite:///production.db"')

    refusal(run(sqlite_project), sqlite_shown(target), NOT_PREFIXED)
    assert not target.exists()


def test_sqlite_refuses_the_apps_own_file_given_by_environment_variable(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = app_file(sqlite_project)
    before = precious_file(target)
    monkeypatch.setenv("AKSARA_TEST_DATABASE_URL", sqlite_project.database_url)

    refusal(run(sqlite_project), sqlite_shown(target), NOT_PREFIXED)
    assert_untouched(target, before)


def test_sqlite_refuses_the_apps_own_file_given_on_the_command_line(
    sqlite_project: Project,
) -> None:
    target = named_test_app(sqlite_project)
    before = precious_file(target)
    sqlite_project.database_url = "sqlite:///elsewhere.db"
    sqlite_project.write_settings('test_database_url = "sqlite:///test_app.db"')

    result = run(sqlite_project, "--aksara-database-url", "sqlite:///test_app.db")
    refusal(result, sqlite_shown(target), APPS_OWN)
    assert_untouched(target, before)


def test_sqlite_refuses_the_apps_own_file_from_a_test_settings_override(
    sqlite_project: Project,
) -> None:
    target = app_file(sqlite_project)
    before = precious_file(target)
    sqlite_project.pytester.makeconftest(
        f"""
        import pytest

        @pytest.fixture(scope="session")
        def test_settings():
            return {{"TEST_DATABASE_URL": "{sqlite_project.database_url}", "DEBUG": True}}
        """
    )

    refusal(run(sqlite_project), sqlite_shown(target), NOT_PREFIXED)
    assert_untouched(target, before)


def test_sqlite_refuses_the_apps_own_file_passed_to_setup_test_database(
    sqlite_project: Project,
) -> None:
    target = named_test_app(sqlite_project)
    before = precious_file(target)
    sqlite_project.pytester.makeconftest(
        """
        import pytest
        from aksara_testing import setup_test_database

        @pytest.fixture(scope="session", autouse=True)
        async def setup_database():
            await setup_test_database({"test_database_url": "sqlite:///test_app.db"})
        """
    )

    refusal(run(sqlite_project), sqlite_shown(target), APPS_OWN)
    assert_untouched(target, before)


def test_sqlite_refuses_the_apps_own_file_with_reuse_db(sqlite_project: Project) -> None:
    target = named_test_app(sqlite_project)
    before = precious_file(target)
    sqlite_project.write_settings('test_database_url = "sqlite:///test_app.db"')

    refusal(run(sqlite_project, "--aksara-reuse-db"), sqlite_shown(target), APPS_OWN)
    assert_untouched(target, before)


def test_sqlite_app_file_named_test_is_allowed_and_its_test_database_is_test_test(
    sqlite_project: Project,
) -> None:
    target = named_test_app(sqlite_project)
    before = precious_file(target)
    sqlite_project.pytester.makepyfile(
        test_it="""
        from pathlib import Path

        from aksara_testing import setup_test_database
        from helpers import count

        async def test_runs_on_test_test_app(db_session):
            handle = await setup_test_database()
            assert Path(handle.url.database).name == "test_test_app.db"
            assert Path(handle.url.database).parent != Path.cwd()
            assert await count(db_session) == 0
        """
    )

    sqlite_project.run().assert_outcomes(passed=1)
    assert_untouched(target, before)


# --- configuration errors on the way to the database -------------------------------------------


def test_a_database_url_that_is_not_a_url_is_one_clean_line_and_exit_4(
    sqlite_project: Project,
) -> None:
    sqlite_project.database_url = "my app database"
    sqlite_project.write_settings()

    result = run(sqlite_project)

    assert result.ret == 4
    output = result.outlines + result.errlines
    lines = [line for line in output if "is not a database URL" in line]
    assert len(lines) == 1, "\n".join(output)
    assert "setting database_url = 'my app database'" in lines[0]
    assert "sqlite:///app.db" in lines[0]
    assert "Traceback" not in "\n".join(output)


def test_a_bad_database_url_error_names_the_file_it_came_from(sqlite_project: Project) -> None:
    sqlite_project.database_url = "my app database"
    sqlite_project.write_settings()

    result = run(sqlite_project)

    assert result.ret == 4
    result.stdout.fnmatch_lines(["*database_url = 'my app database' (from pyproject.toml)*"])


def test_no_database_url_at_all_is_one_clean_line_and_exit_4(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aksara]\n")
    pytester.makepyfile(
        """
        from sqlalchemy import text

        async def test_uses_the_database(db_session):
            await db_session.execute(text("SELECT 1"))
        """
    )

    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")

    assert result.ret == 4
    output = result.outlines + result.errlines
    lines = [line for line in output if "no database is configured" in line]
    assert len(lines) == 1, "\n".join(output)
    assert "set database_url in [tool.aksara]" in lines[0]
    assert "Traceback" not in "\n".join(output)


# --- check_safe is the only way to a SafeTarget ------------------------------------------------


@pytest.mark.parametrize(
    "function",
    [
        lifecycle.build_database,
        lifecycle.drop_database,
        lifecycle.empty_tables,
        lifecycle.recreate_database,
    ],
)
def test_destructive_functions_take_a_target_first(function: typing.Any) -> None:
    first = next(iter(inspect.signature(function).parameters))

    assert first == "target"
    assert typing.get_type_hints(function)["target"] is SafeTarget


def test_only_check_safe_constructs_a_target() -> None:
    package = Path(aksara_testing.__file__).parent
    makers: list[str] = []
    for module in sorted(package.rglob("*.py")):
        tree = ast.parse(module.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name | ast.Attribute)
                    and (getattr(node.func, "id", None) or getattr(node.func, "attr", None))
                    == "SafeTarget"
                ):
                    makers.append(f"{module.name}:{function.name}")

    assert makers
    assert set(makers) == {"urls.py:check_safe"}


def test_check_safe_hands_out_a_target_for_a_derived_test_database(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path, database_url="sqlite:///app.db")
    url = urls.derive_test_url(settings, tmp_path / "run")

    target = urls.check_safe(url, settings)

    assert isinstance(target, SafeTarget)
    assert target.url == url


# --- PostgreSQL: a precious database that must keep its row ------------------------------------


class Server:
    """Admin access to the PostgreSQL server under test, with cleanup of what it creates."""

    def __init__(self, admin_url: str) -> None:
        self.admin = make_url(admin_url).set(drivername="postgresql")
        self.created: list[str] = []

    def url(self, database: str | None, **changes: typing.Any) -> str:
        url = self.admin._replace(database=database, **changes)  # set() ignores None
        return url.render_as_string(hide_password=False)

    def shown(self, database: str | None) -> str:
        """How a refusal shows ``database``: asyncpg driver, password masked."""
        url = self.admin._replace(drivername="postgresql+asyncpg", database=database)
        return url.render_as_string(hide_password=True)

    def assert_password_hidden(self, result: pytest.RunResult) -> None:
        if self.admin.password:
            secret = make_url(self.url(None)).render_as_string(hide_password=False)
            secret = secret.split("://", 1)[1].split("@", 1)[0]
            assert secret not in "\n".join(result.outlines + result.errlines)

    def _run(self, database: str, *statements: str) -> list[typing.Any]:
        import asyncpg  # the postgres extra; only PostgreSQL tests get here

        async def go() -> list[typing.Any]:
            connection = await asyncpg.connect(self.url(database))
            try:
                rows: list[typing.Any] = []
                for statement in statements:
                    rows = await connection.fetch(statement)
                return rows
            finally:
                await connection.close()

        return asyncio.run(go())

    def precious(self, database: str) -> None:
        """Create ``database`` holding a table with one row."""
        self.created.append(database)
        self._run("postgres", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self._run("postgres", f'CREATE DATABASE "{database}"')
        self._run(
            database,
            "CREATE TABLE precious (id serial PRIMARY KEY, note text)",
            "INSERT INTO precious (note) VALUES ('keep me')",
        )

    def exists(self, database: str) -> bool:
        rows = self._run("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{database}'")
        return bool(rows)

    def assert_untouched(self, database: str) -> None:
        assert self.exists(database), f"{database} was dropped"
        rows = self._run(database, "SELECT note FROM precious")
        assert [r["note"] for r in rows] == ["keep me"]

    def system_state(self, database: str) -> tuple[object, ...]:
        """A system database's identity and flags: a drop and re-create changes its oid.

        Read from ``pg_database`` without connecting to it (a connection to
        template1 would make concurrent CREATE DATABASE fail), and without
        writing to it (the test role may not own it).
        """
        rows = self._run(
            "postgres",
            "SELECT oid, datistemplate, datallowconn, datdba "
            f"FROM pg_database WHERE datname = '{database}'",
        )
        return tuple(rows[0]) if rows else ()

    def cleanup(self) -> None:
        for database in self.created:
            self._run("postgres", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def server(postgres_url: str) -> Iterator[Server]:
    admin = Server(postgres_url)
    try:
        yield admin
    finally:
        admin.cleanup()


@pytest.fixture
def pg_project(pytester: pytest.Pytester, postgres_url: str) -> Project:
    return Project(pytester, "postgres", postgres_url)


def pg_refusal(server: Server, project: Project, database: str, problem: str) -> str:
    """Point test_database_url at ``database`` and check the run is refused."""
    project.write_settings(f'test_database_url = "{server.url(database)}"')
    result = run(project)
    line = refusal(result, server.shown(database), problem)
    server.assert_password_hidden(result)
    return line


def pid_name(name: str) -> str:
    return f"{name}_{os.getpid()}"


@pytest.mark.postgres
def test_postgres_refuses_the_apps_own_database_given_as_test_database_url(
    server: Server, pg_project: Project
) -> None:
    server.precious(pg_project.name)

    pg_refusal(server, pg_project, pg_project.name, NOT_PREFIXED)
    server.assert_untouched(pg_project.name)


@pytest.mark.postgres
def test_postgres_refuses_the_apps_own_database_even_when_it_is_named_test(
    server: Server, pg_project: Project
) -> None:
    own = pid_name("test_app")
    server.precious(own)
    pg_project.database_url = server.url(own)

    pg_refusal(server, pg_project, own, APPS_OWN)
    server.assert_untouched(own)


@pytest.mark.postgres
@pytest.mark.parametrize("system", ["postgres", "template1", "template0"])
def test_postgres_refuses_the_system_databases(
    server: Server, pg_project: Project, system: str
) -> None:
    before = server.system_state(system)

    line = pg_refusal(server, pg_project, system, SYSTEM)
    assert f"{system!r} {SYSTEM}" in line
    assert server.system_state(system) == before != ()


@pytest.mark.postgres
@pytest.mark.parametrize("name", ["production", "mytest_app", "testapp", "TEST_app", "Test_app"])
def test_postgres_refuses_a_database_whose_name_does_not_start_with_test_(
    server: Server, pg_project: Project, name: str
) -> None:
    database = pid_name(name)
    server.precious(database)

    line = pg_refusal(server, pg_project, database, NOT_PREFIXED)
    assert f"its name {database!r}" in line
    server.assert_untouched(database)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param({"drivername": "postgresql+asyncpg"}, id="explicit-driver"),
        pytest.param({"port": "toggle"}, id="default-port-spelt-out-or-left-out"),
        pytest.param({"username": "someone_else", "password": "wrong"}, id="other-user"),
    ],
)
def test_postgres_refuses_the_apps_own_database_spelt_another_way(
    server: Server, pg_project: Project, spelling: dict[str, typing.Any]
) -> None:
    own = pid_name("test_app_spelt")
    server.precious(own)
    pg_project.database_url = server.url(own)
    if spelling.get("port") == "toggle":
        spelling = {"port": None if server.admin.port == 5432 else 5432}
    other = server.url(own, **spelling)
    assert other != pg_project.database_url
    pg_project.write_settings(f'test_database_url = "{other}"')

    result = run(pg_project)

    refusal(result, f"/{own}", APPS_OWN)
    server.assert_password_hidden(result)
    server.assert_untouched(own)


@pytest.mark.postgres
def test_postgres_refuses_a_url_without_a_database_name(
    server: Server, pg_project: Project
) -> None:
    pg_project.write_settings(f'test_database_url = "{server.url(None)}"')

    result = run(pg_project)

    output = result.outlines + result.errlines
    assert result.ret == 4, "\n".join(output)
    lines = [line for line in output if "names no database" in line]
    assert len(lines) == 1, "\n".join(output)
    masked = server.url(None).replace(f":{server.admin.password}@", ":***@")
    assert f"setting test_database_url = '{masked}' (from pyproject.toml)" in lines[0]
    assert "like 'postgresql://user@host/test_app'" in lines[0]


@pytest.mark.postgres
def test_postgres_refusal_creates_no_database(server: Server, pg_project: Project) -> None:
    database = pid_name("production_missing")
    server.created.append(database)

    pg_refusal(server, pg_project, database, NOT_PREFIXED)
    assert not server.exists(database)


@pytest.mark.postgres
def test_postgres_app_database_named_test_is_allowed_and_its_test_database_is_test_test(
    server: Server, pg_project: Project
) -> None:
    own = pid_name("test_app")
    server.precious(own)
    server.created.append(f"test_{own}")
    pg_project.database_url = server.url(own)
    pg_project.write_settings()
    pg_project.pytester.makepyfile(
        test_it=f"""
        from aksara_testing import setup_test_database
        from helpers import count

        async def test_runs_on_test_test_app(db_session):
            handle = await setup_test_database()
            assert handle.url.database == "test_{own}"
            assert await count(db_session) == 0
        """
    )

    pg_project.run().assert_outcomes(passed=1)
    server.assert_untouched(own)
    assert not server.exists(f"test_{own}")


@pytest.mark.postgres
def test_postgres_refuses_the_apps_own_database_under_another_host_name(
    server: Server, pg_project: Project
) -> None:
    own = pid_name("test_app_alias")
    server.precious(own)
    pg_project.database_url = server.url(own)
    # The refusal comes before any connection, so the other spelling need not resolve.
    other_name = "127.0.0.1" if server.admin.host == "localhost" else "localhost"
    pg_project.write_settings(f'test_database_url = "{server.url(own, host=other_name)}"')

    result = run(pg_project)

    assert result.ret == 4
    server.assert_untouched(own)


@pytest.mark.postgres
def test_postgres_refuses_a_name_that_truncates_to_the_apps_own_database(
    server: Server, pg_project: Project
) -> None:
    own = pid_name("test_app").ljust(63, "x")
    server.precious(own)
    pg_project.database_url = server.url(own)

    pg_project.write_settings(f'test_database_url = "{server.url(own + "_copy")}"')
    result = run(pg_project)

    assert result.ret == 4
    server.assert_untouched(own)


@pytest.mark.postgres
def test_postgres_app_on_the_postgres_database_gets_test_postgres(
    server: Server, pg_project: Project
) -> None:
    pg_project.database_url = server.url("postgres")
    pg_project.write_settings()
    pg_project.pytester.makepyfile(test_it=USES_THE_DATABASE)

    result = run(pg_project)

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test database postgresql+asyncpg://*/test_postgres created*"])
