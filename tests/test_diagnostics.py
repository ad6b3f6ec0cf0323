"""A run that cannot work stops at once: one line, exit code 4, no traceback, no repeats.

The database server (unreachable, silent, wrong password, no such role, no
CREATEDB, no ``postgres`` database). Through the real
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
# per test, asyncpg's 60 s connect timeout), not targets: on a quiet machine these
# runs take 2-5 s (see the report in the branch), on a loaded two-core CI machine
# two xdist workers alone can take 8 s to start.
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
