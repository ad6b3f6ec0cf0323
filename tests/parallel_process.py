"""A throwaway project run through the real ``aksara test -n 2``, on one backend.

Builds on :class:`app_process.AppProject`: the same ``[tool.aksara]`` project,
plus what parallel runs need to be checked from outside: the worker lines of
``-v`` output, every database the run's name family left on the server or in
the temporary directory, runs started in the background and killed, and a
second checkout of the same project (same database URL, another folder).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from app_process import AKSARA, AppProject, Outcome

__all__ = ["BARRIER", "MODELS", "ParallelProject", "kill_group", "once", "worker_notes"]

MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
"""

# Test modules import this to wait for each other across workers.
BARRIER = """
import asyncio
import os
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent / "barriers"  # emptied before every run
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


async def arrive(name, count=2):
    \"\"\"Leave name-WORKER in barriers/, then wait until ``count`` workers have.\"\"\"
    (HERE / f"{name}-{WORKER}").write_text(WORKER)
    if WORKER == "main":  # no workers (-n 0): nobody to wait for
        return
    deadline = time.monotonic() + 90
    while len(list(HERE.glob(f"{name}-*"))) < count:
        assert time.monotonic() < deadline, f"only one worker reached {name}"
        await asyncio.sleep(0.05)


async def wait_for(name):
    deadline = time.monotonic() + 90
    while not (HERE / name).exists():
        assert time.monotonic() < deadline, f"{name} never appeared"
        await asyncio.sleep(0.05)
"""

# ``aksara: gw0: test database URL NOTE`` (the summary with -v).
WORKER_NOTE = re.compile(r"^aksara: (gw\d+): test database (\S+) (.+)$", re.MULTILINE)
RUN_TIMEOUT = 240


def worker_notes(outcome: Outcome) -> dict[str, tuple[str, str]]:
    """``{"gw0": (url, note), ...}`` from the ``-v`` summary of a parallel run."""
    return {
        m.group(1): (m.group(2), m.group(3).strip()) for m in WORKER_NOTE.finditer(outcome.stdout)
    }


class ParallelProject(AppProject):
    """An ``[tool.aksara]`` project (models only, no tests yet) for runs with workers."""

    def __init__(self, base: Path, backend: str, server: str | None) -> None:
        super().__init__(base, backend, server)
        for generated in ("conftest.py", "test_app.py"):
            (self.path / generated).unlink()
        self.write("models.py", MODELS)
        self.write("barrier.py", BARRIER)

    def checkout(self, base: Path) -> ParallelProject:
        """A copy of this project in another folder: another checkout, same database URL."""
        other = ParallelProject.__new__(ParallelProject)
        other.__dict__.update(self.__dict__)
        other.path, other.temp = base / "project", base / "tmp"
        shutil.copytree(self.path, other.path)
        other.temp.mkdir()
        return other

    @property
    def barriers(self) -> Path:
        """Where the project's tests leave files for each other and for us."""
        return self.path / "barriers"

    def _reset_barriers(self) -> None:
        shutil.rmtree(self.barriers, ignore_errors=True)
        self.barriers.mkdir()

    def run(self, *args: str, **env: str) -> Outcome:
        """``aksara test ARGS`` in the project, with ``env`` added; waits for it."""
        self._reset_barriers()
        done = subprocess.run(
            [str(AKSARA), "test", *args],
            cwd=self.path,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        return Outcome(done.returncode, done.stdout, done.stderr)

    def start(self, *args: str, log: str = "background.log", **env: str) -> subprocess.Popen[str]:
        """``aksara test ARGS`` in the background, in a process group of its own."""
        self._reset_barriers()
        with (self.path / log).open("w") as output:
            return subprocess.Popen(
                [str(AKSARA), "test", *args],
                cwd=self.path,
                env=self.env(**env),
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )

    def wait_for_files(
        self, pattern: str, count: int, process: subprocess.Popen[str], log: str
    ) -> None:
        """Until ``count`` files in barriers/ match ``pattern``: the run is where we want it."""
        deadline = time.monotonic() + 120
        while len(list(self.barriers.glob(pattern))) < count:
            if process.poll() is not None or time.monotonic() > deadline:
                kill_group(process)
                raise AssertionError(f"the run never got to {pattern}:\n{self.read(log)}")
            time.sleep(0.05)

    # -- what the runs left, seen from outside --------------------------------------------------

    def databases(self) -> list[str]:
        """The test databases of this project that exist: ``test_<name>``, ``_template``..."""
        if self.backend == "sqlite":
            names = [p.stem for p in self.temp.rglob("*.db")]
        else:
            assert self.server is not None
            found = asyncio.run(_names(self.server, self.test_name))
            names = [str(name) for name in found]
        return sorted(n for n in names if n == self.test_name or n.startswith(self.test_name + "_"))

    def aksara_leftovers(self) -> list[str]:
        """Files and folders under the runs' ``aksara-<uid>`` temporary folders."""
        found = [p for top in self.temp.glob("aksara-*") for p in (top, *top.rglob("*"))]
        return sorted(str(p.relative_to(self.temp)) for p in found)

    def blocked_statements(self, prefix: str, seconds: float) -> list[str]:
        """Statements starting with ``prefix`` that have waited on a lock in our databases."""
        assert self.server is not None
        found = asyncio.run(_blocked(self.server, self.test_name, prefix, seconds))
        return [str(query) for query in found]

    def drop_databases(self) -> None:
        """Drop whatever PostgreSQL databases the runs kept or left (SQLite files go with tmp)."""
        if self.backend != "postgres":
            return
        for name in self.databases():
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _names(server: str, prefix: str) -> list[object]:
    import asyncpg

    connection = await asyncpg.connect(server)
    try:
        rows = await connection.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix
        )
    finally:
        await connection.close()
    return [row["datname"] for row in rows]


async def _blocked(server: str, database: str, prefix: str, seconds: float) -> list[object]:
    import asyncpg

    connection = await asyncpg.connect(server)
    try:
        rows = await connection.fetch(
            "SELECT query FROM pg_stat_activity WHERE starts_with(datname, $1) "
            "AND wait_event_type = 'Lock' AND starts_with(query, $2) "
            "AND now() - state_change > make_interval(secs => $3)",
            database,
            prefix,
            seconds,
        )
    finally:
        await connection.close()
    return [row["query"] for row in rows]


def kill_group(process: subprocess.Popen[str]) -> None:
    """kill -9 the run and its workers (its whole process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def once(factory: pytest.TempPathFactory, key: str, compute: Callable[[Path], Any]) -> Any:
    """``compute(folder)``'s JSON result, computed once per run of this suite.

    Under our own ``-n 2`` a module-scoped fixture runs in every worker that
    gets one of its tests; its scenario (several ``aksara test`` runs) is
    worth doing once: the first worker computes, the other reads the result
    (pytest-xdist's documented recipe, with ``flock``).
    """
    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by this suite run's workers
    result = root / f"once-{key}.json"
    with (root / f"once-{key}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if result.exists():
            return json.loads(result.read_text())
        value = compute(Path(tempfile.mkdtemp(prefix=f"{key}-", dir=root)))
        result.write_text(json.dumps(value))
        return value
