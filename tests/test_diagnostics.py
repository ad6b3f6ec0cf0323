"""A run that cannot work stops at once: one line, exit code 4, no traceback, no repeats.

The database server (unreachable, silent, wrong password, no such role, no
CREATEDB, no ``postgres`` database), settings whose modules cannot be found
or raise on import, and a misspelt ``[tool.aksara]``. Through the real
``aksara`` executable, plain ``pytest`` and ``aksara test -n 2`` in a
subprocess (timed), and through pytester for the variations.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent

import pytest
from app_process import AKSARA, clean_env
from fake_postgres import free_port, rejecting, silent, without_createdb

RUNNERS = {
    "aksara": [str(AKSARA), "test"],
    "pytest": [sys.executable, "-m", "pytest"],
    "aksara -n 2": [str(AKSARA), "test", "-n", "2"],
}
# Bounds that catch a run going on after the first failure (a connection attempt
# per test, asyncpg's 60 s connect timeout), not targets. Measured on a two-core
# machine at load 7: 2-4 s in one process, 7-9 s with -n 2, whose workers alone
# took 8 s to start there.
SECONDS = {"aksara": 20.0, "pytest": 20.0, "aksara -n 2": 40.0}
DOCTOR = "then run `aksara doctor`"
_NAMES = itertools.count()

MODELS = """
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


    class Base(DeclarativeBase):
        pass


    class Author(Base):
        __tablename__ = "authors"
        id: Mapped[int] = mapped_column(primary_key=True)
"""

DB_TESTS = """
    import pytest
    from sqlalchemy import text


    @pytest.mark.parametrize("n", range(6))
    async def test_uses_the_database(db_session, n):
        assert await db_session.scalar(text("SELECT 1")) == 1


    def test_needs_no_database():
        pass
"""


@dataclass(frozen=True)
class Run:
    """What a user sees from one run: exit code, everything printed, how long it took."""

    code: int
    output: str
    seconds: float

    def the_line(self, fragment: str) -> str:
        """The one line that carries ``fragment`` (there must be exactly one)."""
        lines = [line for line in self.output.splitlines() if fragment in line]
        assert len(lines) == 1, f"{len(lines)} lines with {fragment!r} in:\n{self.output}"
        return lines[0]


def run(project: Path, runner: str, *args: str) -> Run:
    start = time.monotonic()
    done = subprocess.run(
        [*RUNNERS[runner], *args],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Run(done.returncode, done.stdout + done.stderr, time.monotonic() - start)


def run_in_process(pytester: pytest.Pytester, *args: str) -> Run:
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", *args)
    output = "\n".join([*result.outlines, *result.errlines])
    return Run(int(result.ret), output, result.duration)


def assert_stopped(result: Run, fragment: str) -> str:
    """Exit code 4 and one line with ``fragment``: no traceback, no test reported one by one."""
    assert result.code == 4, result.output
    line = result.the_line(fragment)
    for noise in ("Traceback", "INTERNALERROR", "FAILED ", "ERROR at ", "During handling"):
        assert noise not in result.output, result.output
    return line


def write(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text).lstrip())
    return root


def db_project(root: Path, url: str) -> Path:
    """A project whose tests use the database at ``url``'s server."""
    settings = f'[tool.aksara]\ndatabase_url = "{url}"\nmodels = "models:Base"\n'
    return write(root, {"pyproject.toml": settings, "models.py": MODELS, "test_db.py": DB_TESTS})


def database_name() -> str:
    return f"diag_{os.getpid()}_{next(_NAMES)}"


def on_server(postgres_url: str, **parts: object) -> str:
    """``postgres_url`` with another database (and user, password, port) as a string."""
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url).set(database=database_name(), **parts)  # type: ignore[arg-type]
    return url.render_as_string(hide_password=False)


# --- the database server -------------------------------------------------------------------------


@pytest.mark.parametrize("runner", RUNNERS)
def test_a_port_where_nothing_listens_stops_the_run_with_one_line(
    tmp_path: Path, runner: str
) -> None:
    pytest.importorskip("asyncpg")
    port = free_port()
    project = db_project(tmp_path, f"postgresql://app:s3cret-pw@127.0.0.1:{port}/shop")

    result = run(project, runner)

    line = assert_stopped(result, "refused the connection")
    assert (
        f"PostgreSQL at 127.0.0.1:{port} refused the connection (nothing listens on that "
        "port); start the server, or fix the host and port in database_url (from "
        f"pyproject.toml), {DOCTOR}"
    ) in line
    assert "s3cret-pw" not in result.output
    assert result.seconds < SECONDS[runner]


def test_a_server_that_never_answers_fails_within_the_connect_timeout(tmp_path: Path) -> None:
    pytest.importorskip("asyncpg")
    with silent() as port:
        project = db_project(tmp_path, f"postgresql://app@127.0.0.1:{port}/shop")

        result = run(project, "aksara")

    line = assert_stopped(result, "did not answer")
    assert f"PostgreSQL at 127.0.0.1:{port} did not answer within 5 s; start the server" in line
    assert result.seconds < 30  # the 5 s connect timeout, not asyncpg's 60 s


@pytest.mark.postgres
@pytest.mark.parametrize("runner", ["aksara", "aksara -n 2"])
def test_a_wrong_password_stops_the_run_with_one_line(
    tmp_path: Path, postgres_url: str, runner: str
) -> None:
    project = db_project(tmp_path, on_server(postgres_url, password="wr0ng-pw"))

    result = run(project, runner)

    line = assert_stopped(result, "rejected the password")
    assert "rejected the password of user 'aksara' (a wrong password, or no such role)" in line
    assert line.rstrip(" !").endswith(DOCTOR)
    assert "wr0ng-pw" not in result.output
    assert result.seconds < SECONDS[runner]


@pytest.mark.postgres
def test_a_missing_role_stops_the_run_with_one_line(tmp_path: Path, postgres_url: str) -> None:
    project = db_project(tmp_path, on_server(postgres_url, username="no_such_role"))

    result = run(project, "pytest")

    # Password authentication does not tell a missing role from a wrong password.
    line = assert_stopped(result, "rejected the password")
    assert "of user 'no_such_role' (a wrong password, or no such role)" in line


@pytest.mark.postgres
def test_a_role_that_may_not_create_databases_stops_the_run_with_one_line(
    tmp_path: Path, postgres_url: str
) -> None:
    from sqlalchemy.engine import make_url

    server = make_url(postgres_url)
    # The real server behind a proxy that refuses CREATE DATABASE as for a role
    # without CREATEDB: the suite's role may not create roles to make a real one.
    with without_createdb(server.port or 5432) as port:
        project = db_project(tmp_path, on_server(postgres_url, port=port))

        result = run(project, "aksara")

    line = assert_stopped(result, "may not create databases")
    assert (
        f"user '{server.username}' may not create databases on PostgreSQL at 127.0.0.1:{port}; "
        f"run ALTER ROLE {server.username} CREATEDB as a superuser"
    ) in line
    assert "keine Berechtigung" not in result.output


SERVER_SAYS = {
    "28000": ("Rolle »app« existiert nicht", "does not let user 'app' in (no such role"),
    "3D000": ("Datenbank »postgres« existiert nicht", "has no database 'postgres', where aksara"),
    "28P01": ("Passwort-Authentifizierung für Benutzer »app« fehlgeschlagen", "the password of"),
    "53300": ("tut mir leid, schon zu viele Verbindungen", "has no connection slot left"),
    "57P03": ("das Datenbanksystem fährt gerade hoch", "is starting up, shutting down or in"),
}


@pytest.mark.parametrize("sqlstate", SERVER_SAYS)
def test_a_server_refusal_is_told_by_its_sqlstate_in_any_language(
    pytester: pytest.Pytester, sqlstate: str
) -> None:
    pytest.importorskip("asyncpg")
    words, expected = SERVER_SAYS[sqlstate]
    with rejecting(sqlstate, words) as port:
        db_project(pytester.path, f"postgresql://app:pw@127.0.0.1:{port}/shop")

        result = run_in_process(pytester)

    line = assert_stopped(result, expected)
    assert f"PostgreSQL at 127.0.0.1:{port} " in line
    assert words not in result.output


def test_doctor_and_aksara_test_say_the_same_sentence(tmp_path: Path) -> None:
    pytest.importorskip("asyncpg")
    with rejecting("28000", "Rolle »app« existiert nicht") as port:
        project = db_project(tmp_path, f"postgresql://app:pw@127.0.0.1:{port}/shop")

        tested = run(project, "aksara")
        doctor = subprocess.run(
            [str(AKSARA), "doctor"], cwd=project, env=clean_env(), capture_output=True, text=True
        )

    line = assert_stopped(tested, "does not let user")
    sentence = line.removeprefix("! _pytest.outcomes.Exit: ").rstrip(" !")
    assert sentence.endswith(f", {DOCTOR}")
    [server_line] = [s for s in doctor.stdout.splitlines() if s.startswith("FAIL  server")]
    assert server_line.split(None, 2)[2] == sentence.removesuffix(f", {DOCTOR}")


# --- settings that name a module -----------------------------------------------------------------

SHOP = {
    "shop/__init__.py": "",
    "shop/main.py": """
        async def app(scope, receive, send):
            pass
    """,
    "shop/db.py": """
        from sqlalchemy.ext.asyncio import async_sessionmaker

        SessionLocal = async_sessionmaker()
    """,
    "shop/models.py": MODELS,
    "shop/auth.py": """
        def token(user):
            return f"token-{user}"
    """,
    "shop/broken.py": """
        import os

        SECRET = os.environ["SHOP_SECRET"]
    """,
    "tests/test_shop.py": """
        import pytest
        from sqlalchemy import text


        @pytest.mark.parametrize("n", range(4))
        async def test_everything(client, db_session, n):
            client.authenticate("ann")
            await db_session.execute(text("SELECT 1"))


        def test_nothing():
            pass
    """,
}
SETTINGS = {
    "app": "shop.main:app",
    "models": "shop.models:Base",
    "session": "shop.db:SessionLocal",
    "auth": "shop.auth:token",
}
TYPOS = {
    "app": ("shop.mian:app", "No module named 'shop.mian' (did you mean 'shop.main'?)"),
    "models": ("shop.model:Base", "No module named 'shop.model' (did you mean 'shop.models'?)"),
    "session": ("shop.bd:SessionLocal", "No module named 'shop.bd' (did you mean 'shop.db'?)"),
    "auth": ("shpo.auth:token", "No module named 'shpo' (did you mean 'shop.auth'?)"),
}


def shop(root: Path, **changes: str) -> Path:
    """The shop project on SQLite, with some settings changed."""
    values = {**SETTINGS, **changes}
    lines = [f'{key} = "{value}"' for key, value in values.items()]
    settings = "\n".join(["[tool.aksara]", 'database_url = "sqlite:///shop.db"', *lines, ""])
    return write(root, {**SHOP, "pyproject.toml": settings})


@pytest.mark.parametrize("runner", RUNNERS)
def test_a_misspelt_app_module_stops_the_run_before_any_test(tmp_path: Path, runner: str) -> None:
    result = run(shop(tmp_path, app="shop.mian:app"), runner)

    line = assert_stopped(result, "cannot be imported")
    assert (
        "setting app = 'shop.mian:app' (from pyproject.toml) cannot be imported: "
        "No module named 'shop.mian' (did you mean 'shop.main'?); check the module path"
    ) in line
    assert "PASSED" not in result.output and " passed" not in result.output
    assert result.seconds < SECONDS[runner]


@pytest.mark.parametrize("key", ["models", "session", "auth"])
def test_a_misspelt_module_of_any_setting_stops_the_run_before_any_test(
    pytester: pytest.Pytester, key: str
) -> None:
    spec, message = TYPOS[key]
    shop(pytester.path, **{key: spec})

    result = run_in_process(pytester)

    line = assert_stopped(result, "cannot be imported")
    assert line.startswith(f"ERROR: setting {key} = '{spec}' (from pyproject.toml) cannot be")
    assert message in line


def test_a_misspelt_attribute_under_workers_is_one_line_not_an_internal_error(
    tmp_path: Path,
) -> None:
    result = run(shop(tmp_path, session="shop.db:SessionLocl"), "aksara -n 2")

    line = assert_stopped(result, "cannot be imported")
    assert "module 'shop.db' has no attribute 'SessionLocl'; check the name after the colon" in line


@pytest.mark.parametrize("runner", ["aksara", "aksara -n 2"])
def test_an_app_module_that_raises_names_the_line_that_raised(tmp_path: Path, runner: str) -> None:
    result = run(shop(tmp_path, app="shop.broken:app"), runner)

    line = assert_stopped(result, "cannot be imported")
    assert (
        "setting app = 'shop.broken:app' (from pyproject.toml) cannot be imported: importing "
        "it raised KeyError: 'SHOP_SECRET' at shop/broken.py:3; fix that line"
    ) in line


@pytest.mark.parametrize("key", ["models", "session", "auth"])
def test_a_module_that_raises_stops_the_run_for_any_setting(
    pytester: pytest.Pytester, key: str
) -> None:
    shop(pytester.path, **{key: "shop.broken:thing"})

    result = run_in_process(pytester)

    line = assert_stopped(result, "cannot be imported")
    assert f"setting {key} = 'shop.broken:thing' (from pyproject.toml)" in line
    assert "raised KeyError: 'SHOP_SECRET' at shop/broken.py:3" in line


def test_a_missing_dependency_of_the_app_is_not_a_misspelt_setting(tmp_path: Path) -> None:
    project = shop(tmp_path)
    write(project, {"shop/main.py": "import shop_payments_sdk\n\napp = None\n"})

    result = run(project, "aksara")

    line = assert_stopped(result, "cannot be imported")
    assert (
        "importing it raised ModuleNotFoundError: No module named 'shop_payments_sdk' "
        "at shop/main.py:1; install what that line imports, or fix it"
    ) in line


def test_the_check_at_start_imports_nothing_of_the_project(tmp_path: Path) -> None:
    marker = """
        from pathlib import Path

        Path(__name__ + ".imported").write_text("")
    """
    project = write(
        tmp_path,
        {
            **SHOP,
            "pyproject.toml": '[tool.aksara]\napp = "shop.main:app"\n',
            "shop/__init__.py": marker,
            "shop/main.py": marker + "\n\nasync def app(scope, receive, send):\n    pass\n",
            "tests/test_shop.py": "def test_nothing():\n    pass\n",
        },
    )

    result = run(project, "aksara")

    assert result.code == 0, result.output
    assert sorted(p.name for p in project.glob("*.imported")) == []


# --- the settings table --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table", ["tool.aksra", "tools.aksara", "tool.Aksara", "tool.aksara-testing", "aksara"]
)
def test_a_misspelt_table_name_gets_a_did_you_mean(pytester: pytest.Pytester, table: str) -> None:
    pytester.makepyprojecttoml(f'[{table}]\ndatabase_url = "sqlite:///app.db"\n')
    pytester.makepyfile("def test_ok(): pass")

    result = run_in_process(pytester)

    line = assert_stopped(result, "did you mean [tool.aksara]?")
    assert line == (
        f"ERROR: {pytester.path / 'pyproject.toml'} has [{table}] but no [tool.aksara]; did you "
        "mean [tool.aksara]? rename the table (aksara reads only [tool.aksara])"
    )


def test_a_misspelt_table_next_to_the_real_one_is_an_error_too(tmp_path: Path) -> None:
    project = write(
        tmp_path,
        {
            "pyproject.toml": '[tool.aksara]\napp = "x:y"\n\n[tool.aksra]\nmodels = "m:Base"\n',
            "test_ok.py": "def test_ok():\n    pass\n",
        },
    )

    result = run(project, "aksara")

    line = assert_stopped(result, "did you mean [tool.aksara]?")
    assert "has [tool.aksra] next to [tool.aksara]; did you mean [tool.aksara]?" in line


def test_a_similar_table_of_another_tool_is_left_alone(pytester: pytest.Pytester) -> None:
    # Not configured for aksara: the project sets pytest-asyncio's options itself.
    pytester.makepyprojecttoml(
        '[tool.aksra]\ncolour = "blue"\n\n[tool.pytest.ini_options]\n'
        'asyncio_default_fixture_loop_scope = "function"\n'
    )
    pytester.makepyfile("def test_ok(): pass")

    result = run_in_process(pytester)

    assert result.code == 0, result.output


def test_the_header_says_where_it_looked_for_settings(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Configured by the environment alone: the header names the file it did not find.
    monkeypatch.setenv("AKSARA_DATABASE_URL", "sqlite:///app.db")
    pytester.makepyfile("def test_ok(): pass")
    without_file = run_in_process(pytester)
    pytester.makepyprojecttoml('[project]\nname = "plain"\nversion = "1"\n')
    without_table = run_in_process(pytester)

    assert f"aksara: settings none (no pyproject.toml in {pytester.path}), " in (
        without_file.output
    )
    assert (
        f"aksara: settings none (no [tool.aksara] in {pytester.path / 'pyproject.toml'}), "
    ) in without_table.output
