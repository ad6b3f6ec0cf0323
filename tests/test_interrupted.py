"""A run killed mid-test (kill -9, Ctrl-C) never breaks the next run.

The project's one test commits and flushes rows, then hangs; the run is
interrupted there. The rerun's test first checks the table is empty: nothing
the interrupted test wrote may survive, with or without ``--reuse-db``.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_process import AppProject, Outcome

REUSE = {"fresh": (), "reuse_db": ("--reuse-db",)}
# pytest's exit code for a run stopped by KeyboardInterrupt.
INTERRUPTED = 2


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AppProject]:
    """A project on SQLite and, when a server is configured, on PostgreSQL."""
    server = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    project = AppProject(tmp_path, request.param, server)
    yield project
    project.drop_test_database()


def rerun_passes(app: AppProject, *args: str) -> Outcome:
    outcome = app.run(*args)
    assert outcome.code == 0, str(outcome)
    assert "1 passed" in outcome.stdout, str(outcome)
    assert app.read("seen.txt") == "0"  # the interrupted test's rows are gone
    return outcome


@pytest.mark.parametrize("rerun", REUSE)
@pytest.mark.parametrize("killed", REUSE)
def test_a_clean_rerun_passes_after_kill_9_mid_test(
    app: AppProject, killed: str, rerun: str
) -> None:
    process = app.start_hanging(*REUSE[killed])
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL

    outcome = rerun_passes(app, *REUSE[rerun])
    if killed == rerun == "reuse_db":
        # The killed run had finished building: its database is still good to reuse.
        assert outcome.note == "reused (schema unchanged)"
    # Twice: the rerun itself left a usable state.
    rerun_passes(app, *REUSE[rerun])


@pytest.mark.parametrize("flags", REUSE)
def test_a_clean_rerun_passes_after_ctrl_c_mid_test(app: AppProject, flags: str) -> None:
    process = app.start_hanging(*REUSE[flags])
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == INTERRUPTED, app.read("hanging.log")
    assert "KeyboardInterrupt" in app.read("hanging.log")

    # Ctrl-C still tears down: the database is kept only with --reuse-db.
    assert app.test_database_exists() == (flags == "reuse_db")
    if flags == "fresh":
        assert app.leftovers() == []

    outcome = rerun_passes(app, *REUSE[flags])
    if flags == "reuse_db":
        assert outcome.note == "reused (schema unchanged)"
