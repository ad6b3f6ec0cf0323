"""The run lock of a run killed on this machine: the next run waits for the server to drop it.

A ``kill -9`` leaves the dead run's lock connection to the server, which ends
it once it reads the closed socket: in moments, longer on a loaded machine. A
run started meanwhile must wait for that, not stop as if another run were
using the database; a live run (or one elsewhere) is still named at once.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from parallel_process import ParallelProject
from run_locks import lock_held_by

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
