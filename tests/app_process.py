"""A throwaway app project driven through the real ``aksara`` executable, on one backend.

Used by the ``--reuse-db`` and interrupted-run tests, which need separate
processes: a database kept between runs, a process killed mid-test.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent

__all__ = ["AKSARA", "AppProject", "Outcome", "clean_env"]

AKSARA = Path(sys.executable).with_name("aksara")
# Faker's and pytest-randomly's plugins cost start-up time and none of these projects use them.
QUIET_PLUGINS = "-p no:randomly -p no:cacheprovider -p no:faker"
_COUNTER = itertools.count()

MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
"""

# The timed, explicit set-up: without it the database is built lazily inside the first test.
CONFTEST = """
import time
from pathlib import Path

import pytest

from aksara_testing import setup_test_database


@pytest.fixture(scope="session", autouse=True)
async def timed_setup():
    start = time.perf_counter()
    await setup_test_database()
    Path("setup_seconds.txt").write_text(str(time.perf_counter() - start))
"""

# Records how many rows it found (a reused database keeps rows written outside
# tests, a rebuilt one does not), then commits one of its own.
TEST_APP = """
import asyncio
import os
from pathlib import Path

from sqlalchemy import func, select

from models import Author


async def test_writes_and_commits(db_session):
    found = await db_session.scalar(select(func.count()).select_from(Author))
    Path("seen.txt").write_text(str(found))
    db_session.add(Author(name="committed"))
    await db_session.commit()
    db_session.add(Author(name="flushed"))
    await db_session.flush()
    if os.environ.get("HANG_AFTER_WRITING"):
        Path("started").write_text("written")  # the run under test waits for this file
        await asyncio.sleep(120)
"""

SUMMARY = re.compile(r"^aksara: test database (\S+) (.+)$", re.MULTILINE)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without CI flags, aksara settings or pytest options, plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name != "CI" and not name.startswith(("AKSARA_", "PYTEST_", "COV_CORE_"))
    }
    env["PYTEST_ADDOPTS"] = QUIET_PLUGINS
    env.update(extra)
    return env


@dataclass(frozen=True)
class Outcome:
    """What one ``aksara test`` run printed and returned."""

    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.code}\n{self.stdout}\n{self.stderr}"

    @property
    def database_url(self) -> str:
        """The test database URL from the summary line (password masked)."""
        return self._summary().group(1)

    @property
    def note(self) -> str:
        """What happened to the test database: created, reused, rebuilt."""
        return self._summary().group(2).strip()

    def _summary(self) -> re.Match[str]:
        match = SUMMARY.search(self.stdout)
        assert match is not None, f"no test database summary line in:\n{self}"
        return match


class AppProject:
    """An app with ``[tool.aksara]`` under ``base``, its database on SQLite or PostgreSQL.

    The project lives in ``base/project``; its runs get ``base/tmp`` as their
    temporary directory, so whatever a run leaves behind is found there.
    """

    def __init__(self, base: Path, backend: str, server: str | None) -> None:
        self.path = base / "project"
        self.temp = base / "tmp"
        self.path.mkdir()
        self.temp.mkdir()
        self.backend = backend
        self.server = server
        # Unique per process and project: parallel runs never share a database.
        self.name = f"app_{os.getpid()}_{next(_COUNTER)}"
        self.test_name = f"test_{self.name}"
        if backend == "sqlite":
            self.database_url = f"sqlite:///{self.name}.db"
        else:
            assert server is not None
            self.database_url = server.rsplit("/", 1)[0] + f"/{self.name}"
        self.write_settings()
        self.write("models.py", MODELS)
        self.write("conftest.py", CONFTEST)
        self.write("test_app.py", TEST_APP)

    def env(self, **extra: str) -> dict[str, str]:
        return clean_env(TMPDIR=str(self.temp), **extra)

    def leftovers(self) -> list[str]:
        """Everything runs left in the temporary directory, as relative paths."""
        return sorted(str(p.relative_to(self.temp)) for p in self.temp.rglob("*"))

    def write_settings(self, extra: str = "") -> None:
        self.write(
            "pyproject.toml",
            f"""
            [tool.aksara]
            database_url = "{self.database_url}"
            models = "models:Base"
            {extra}
            """,
        )

    def write(self, name: str, text: str) -> None:
        (self.path / name).write_text(dedent(text).lstrip())

    def read(self, name: str) -> str:
        return (self.path / name).read_text()

    def run(self, *args: str) -> Outcome:
        """``aksara test ARGS`` in the project; waits for it to finish."""
        for leftover in ("seen.txt", "setup_seconds.txt", "started"):
            (self.path / leftover).unlink(missing_ok=True)
        done = subprocess.run(
            [str(AKSARA), "test", *args],
            cwd=self.path,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Outcome(done.returncode, done.stdout, done.stderr)

    def start_hanging(self, *args: str) -> subprocess.Popen[str]:
        """``aksara test ARGS`` with the test hanging after its writes; returns once it hangs."""
        (self.path / "started").unlink(missing_ok=True)
        log = (self.path / "hanging.log").open("w")
        process = subprocess.Popen(
            [str(AKSARA), "test", *args],
            cwd=self.path,
            env=self.env(HANG_AFTER_WRITING="1"),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # our own terminal signals never reach it
            # Python installs its KeyboardInterrupt handler only if SIGINT is not ignored.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        log.close()
        deadline = time.monotonic() + 60
        while not (self.path / "started").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise AssertionError(f"the run never reached its hang:\n{self.read('hanging.log')}")
            time.sleep(0.05)
        return process

    # -- the test database, seen from outside the runs ----------------------------------------

    def sqlite_files(self) -> list[Path]:
        """The SQLite test database files in the runs' temporary directory."""
        return sorted(self.temp.rglob(f"{self.test_name}.db"))

    def test_database_exists(self) -> bool:
        if self.backend == "sqlite":
            return bool(self.sqlite_files())
        found = self._admin("SELECT count(*) FROM pg_database WHERE datname = $1", self.test_name)
        return found == 1

    def insert_outside_tests(self, name: str) -> None:
        """Commit a row into the kept test database through a connection of our own."""
        if self.backend == "sqlite":
            [path] = self.sqlite_files()
            with contextlib.closing(sqlite3.connect(path)) as connection:
                connection.execute("INSERT INTO authors (name) VALUES (?)", (name,))
                connection.commit()
            return
        assert self.server is not None
        url = self.server.rsplit("/", 1)[0] + f"/{self.test_name}"
        asyncio.run(_fetch(url, "INSERT INTO authors (name) VALUES ($1)", name))

    def drop_test_database(self) -> None:
        """Drop the PostgreSQL test database a run kept or a killed run left (SQLite: in tmp)."""
        if self.backend == "postgres":
            from sqlalchemy.engine import make_url

            from aksara_testing._db.postgres import drop
            from aksara_testing._db.urls import upgrade_driver

            url = upgrade_driver(make_url(self.server)).set(database=self.test_name)
            asyncio.run(drop(url))

    def _admin(self, sql: str, *args: object) -> object:
        assert self.server is not None
        return asyncio.run(_fetch(self.server, sql, *args))


async def _fetch(url: str, sql: str, *args: object) -> object:
    import asyncpg  # the postgres extra; only PostgreSQL tests get here

    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval(sql, *args)
    finally:
        await connection.close()
