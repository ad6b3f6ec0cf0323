"""The migration checks' PostgreSQL scratch database never outlives the run, whatever happens.

It is created in the background from the moment pytest is configured and
dropped in the background after the checks; these tests stop the run at the
awkward moments and look at the server afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Project
from migration_project import HEAD, add_migrations, pg_databases, revision_file, write_revision

pytestmark = pytest.mark.postgres

INTERRUPTED = 2  # pytest's exit code for a run stopped by KeyboardInterrupt

HANGING = """
from pathlib import Path
import time

Path("started").write_text("migrating")
time.sleep(300)
"""

# The owner may turn its database into a template, and a template cannot be dropped.
UNDROPPABLE = """
op.execute(
    "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I IS_TEMPLATE true', current_database()); "
    "END $$"
)
"""


def scratch_name(project: Project) -> str:
    return f"test_{project.name}_checks"


def server_of(project: Project) -> str:
    return project.database_url.rsplit("/", 1)[0] + "/postgres"


def leftovers(project: Project) -> list[str]:
    return pg_databases(server_of(project), f"test_{project.name}")


def admin(project: Project, *statements: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(server_of(project))
        try:
            for sql in statements:
                await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run())


@pytest.fixture
def pg_project(pytester: pytest.Pytester, postgres_url: str) -> Project:
    return Project(pytester, "postgres", postgres_url)


def test_a_scratch_database_that_cannot_be_dropped_fails_the_run_with_one_line(
    pg_project: Project,
) -> None:
    root = add_migrations(pg_project, "async")
    write_revision(root, "dd04", revision_file("dd04", HEAD, "template", UNDROPPABLE, "pass"))
    name = scratch_name(pg_project)
    try:
        result = pg_project.run("--aksara-migrations")
        left = leftovers(pg_project)
    finally:
        admin(
            pg_project,
            f'ALTER DATABASE "{name}" IS_TEMPLATE false',
            f'DROP DATABASE IF EXISTS "{name}"',
        )
    result.assert_outcomes(passed=11)  # every check passed: the drop came after them
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    [line] = [line for line in result.stdout.lines if "could not drop" in line]
    assert line.startswith(f"aksara: could not drop the migration checks' scratch database {name}")
    assert "cannot drop a template database" in line
    assert f'drop it (DROP DATABASE "{name}")' in line
    assert left == [name]  # said out loud, not left behind silently


def test_deselected_checks_leave_no_scratch_database(pg_project: Project) -> None:
    add_migrations(pg_project, "async")
    pg_project.pytester.makepyfile(test_it="def test_own():\n    pass\n")
    result = pg_project.run("--aksara-migrations", "-k", "test_own")
    result.assert_outcomes(passed=1, deselected=9)
    assert leftovers(pg_project) == []
    pg_project.run("--aksara-migrations", "--collect-only").assert_outcomes()
    assert leftovers(pg_project) == []


def test_under_xdist_the_worker_makes_and_drops_the_scratch_database(
    pg_project: Project,
) -> None:
    add_migrations(pg_project, "async")
    result = pg_project.run("--aksara-migrations", "-n", "1")
    result.assert_outcomes(passed=9)
    assert leftovers(pg_project) == []


def test_a_revision_that_does_not_load_leaves_no_scratch_database(pg_project: Project) -> None:
    root = add_migrations(pg_project, "async")
    write_revision(root, "dd04", revision_file("dd04", HEAD, "broken", "op.create_table(", "pass"))
    result = pg_project.run("--aksara-migrations")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*SyntaxError in dd04.py line 13: *never closed*"])
    assert leftovers(pg_project) == []


def start_checks(path: Path) -> subprocess.Popen[str]:
    """pytest --aksara-migrations in ``path``, Ctrl-C-able; returns once a revision started."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AKSARA_", "PYTEST_"))}
    env["PYTEST_ADDOPTS"] = "-p no:randomly -p no:cacheprovider -p no:faker"
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "--aksara-migrations"],
        cwd=path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # our own terminal signals never reach it
        # Python installs its KeyboardInterrupt handler only if SIGINT is not ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not (path / "started").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the migration never started:\n{process.communicate()[0]}")
        time.sleep(0.05)
    return process


@pytest.mark.parametrize("how", ["ctrl-c", "kill -9, then run again"])
def test_a_run_stopped_during_the_checks_leaves_no_scratch_database(
    pg_project: Project, how: str
) -> None:
    root = add_migrations(pg_project, "async")
    write_revision(root, "dd04", revision_file("dd04", HEAD, "slow", HANGING, "pass"))
    process = start_checks(pg_project.pytester.path)
    try:
        if how == "ctrl-c":
            process.send_signal(signal.SIGINT)
        else:
            process.kill()
        # Generous: an interrupted run ends in a few seconds; the revision lasts 300.
        output, _ = process.communicate(timeout=60)
        if how != "ctrl-c":
            assert leftovers(pg_project) == [scratch_name(pg_project)]
            write_revision(root, "dd04", revision_file("dd04", HEAD, "quick", "pass", "pass"))
            again = pg_project.run("--aksara-migrations")
            again.assert_outcomes(passed=11)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        left = leftovers(pg_project)
        admin(pg_project, *(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in left))
    if how == "ctrl-c":
        assert process.returncode == INTERRUPTED, output
        assert "KeyboardInterrupt" in output
    assert left == [], "the scratch database was left behind"
