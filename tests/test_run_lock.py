"""The run lock of a run killed on this machine: the next run waits for the server to drop it.

A ``kill -9`` leaves the dead run's lock connection to the server, which ends
it once it reads the closed socket: in moments, longer on a loaded machine. A
run started meanwhile must wait for that, not stop as if another run were
using the database; a live run (or one elsewhere) is still named at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from parallel_process import ParallelProject

pytestmark = pytest.mark.postgres

TEST_ONE = """
from sqlalchemy import text


async def test_uses_its_database(db_session):
    assert await db_session.scalar(text("SELECT 1")) == 1
"""


def dead_pid() -> int:
    """The pid of a process of this machine that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@contextlib.contextmanager
def lock_held_by(server_url: str, name: str, pid: int, *, release: bool) -> Iterator[str]:
    """``name``'s run lock held on a connection labelled as a run of process ``pid``.

    With ``release``, let go one second after a run's own lock connection shows
    up on the server (it has found the lock taken by then), as the server ends a
    dead client's connection; otherwise when the block ends. Yields the label.
    """
    import asyncpg

    label = f"aksara admin: {name} pid {pid} /killed/checkout"
    ready, done = threading.Event(), threading.Event()

    async def hold() -> None:
        connection = await asyncpg.connect(server_url, server_settings={"application_name": label})
        await connection.execute("SELECT pg_advisory_lock(hashtext($1))", f"aksara:{name}")
        ready.set()
        while release and not done.is_set():
            others = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name LIKE $1 AND application_name <> $2",
                f"aksara admin: {name} pid %",
                label,
            )
            if others:
                await asyncio.sleep(1.0)
                break
            await asyncio.sleep(0.01)
        else:
            await asyncio.to_thread(done.wait)
        await connection.close()

    thread = threading.Thread(target=asyncio.run, args=(hold(),))
    thread.start()
    try:
        assert ready.wait(30), "the lock was never taken"
        yield label
    finally:
        done.set()
        thread.join(30)


@pytest.fixture
def project(postgres_url: str, tmp_path: Path) -> Iterator[ParallelProject]:
    made = ParallelProject(tmp_path, "postgres", postgres_url)
    made.write("test_one.py", TEST_ONE)
    yield made
    made.drop_databases()


def test_a_run_waits_for_the_lock_of_a_run_killed_on_this_machine(
    project: ParallelProject, postgres_url: str
) -> None:
    with lock_held_by(postgres_url, project.test_name, dead_pid(), release=True):
        outcome = project.run()

    assert outcome.code == 0, str(outcome)
    assert "1 passed" in outcome.stdout
    assert "in use by another run" not in outcome.stdout + outcome.stderr


def test_a_killed_runs_lock_that_stays_is_named_after_the_wait(
    project: ParallelProject, postgres_url: str
) -> None:
    with lock_held_by(postgres_url, project.test_name, dead_pid(), release=False) as label:
        outcome = project.run()

    assert outcome.code == 4, str(outcome)
    assert (
        f"test database {project.test_name} is in use by another run ({label})"
        in outcome.stdout + outcome.stderr
    )
    assert "Traceback" not in outcome.stdout + outcome.stderr


def test_a_live_runs_lock_is_named_at_once(project: ParallelProject, postgres_url: str) -> None:
    with lock_held_by(postgres_url, project.test_name, 1, release=False) as label:  # pid 1 lives
        outcome = project.run()

    assert outcome.code == 4, str(outcome)
    assert (
        f"test database {project.test_name} is in use by another run ({label})"
        in outcome.stdout + outcome.stderr
    )
