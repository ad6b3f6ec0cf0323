"""Running the project's env.py: Ctrl-C, its logging set-up, its warnings."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import Project
from migration_project import (
    HEAD,
    add_migrations,
    pg_databases,
    revision_file,
    write_revision,
)
from sqlalchemy.engine import make_url

from aksara_testing._db.postgres import drop

AKSARA = Path(sys.executable).with_name("aksara")
INTERRUPTED = 2  # pytest's exit code for a run stopped by KeyboardInterrupt

# A revision that signals it started, then runs far longer than any test waits.
HANGING = """
from pathlib import Path
import time

Path("started").write_text("migrating")
time.sleep(300)
"""

USES_THE_DATABASE = """
from sqlalchemy import text

async def test_uses_the_database(db_session):
    await db_session.execute(text("SELECT 1"))
"""


def project_databases(project: Project) -> list[str]:
    """PostgreSQL: the project's test databases on the server (SQLite: not looked for)."""
    if project.backend != "postgres":
        return []
    server = project.database_url.rsplit("/", 1)[0] + "/postgres"
    return [name for name in pg_databases(server, "test_") if project.name in name]


def drop_test_database(project: Project) -> None:
    if project.backend == "postgres":
        server = make_url(project.database_url).set(drivername="postgresql+asyncpg")
        asyncio.run(drop(server.set(database=f"test_{project.name}")))


def start_aksara(path: Path) -> subprocess.Popen[str]:
    """``aksara test`` in ``path``, Ctrl-C-able; returns once a migration has started."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AKSARA_", "PYTEST_"))}
    env["PYTEST_ADDOPTS"] = "-p no:randomly -p no:cacheprovider -p no:faker"
    process = subprocess.Popen(
        [str(AKSARA), "test"],
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


def test_ctrl_c_during_a_migration_stops_the_run_at_once_without_logging_errors(
    project: Project,
) -> None:
    root = add_migrations(project, env="sync")  # fileConfig(): a StreamHandler on stderr
    write_revision(root, "dd04", revision_file("dd04", HEAD, "slow", HANGING, "pass"))
    write_revision(root, "ee05", revision_file("ee05", "dd04", "after", "pass", "pass"))
    project.pytester.makepyfile(test_it=USES_THE_DATABASE)
    process = start_aksara(project.pytester.path)
    try:
        process.send_signal(signal.SIGINT)
        # Generous: an interrupted run ends in a few seconds; the revision lasts 300.
        output, _ = process.communicate(timeout=60)
        left = project_databases(project)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        drop_test_database(project)
    assert process.returncode == INTERRUPTED, output
    assert "KeyboardInterrupt" in output
    assert left == [], "the half-built test database was left behind"
    assert "Logging error" not in output, output
    assert "I/O operation on closed file" not in output, output


LOGGING_CHECKED = """
import logging

from sqlalchemy import text

app_logger = logging.getLogger("shop.orders")  # exists before env.py runs


async def test_env_py_logging_set_up_is_undone(db_session, caplog):
    await db_session.execute(text("SELECT 1"))  # builds the database: runs env.py
    assert not app_logger.disabled
    root = logging.getLogger()
    assert not [h for h in root.handlers if type(h) is logging.StreamHandler]
    app_logger.warning("order placed")
    assert "order placed" in caplog.text
"""


def test_env_py_logging_config_does_not_outlive_the_migrations(sqlite_project: Project) -> None:
    add_migrations(sqlite_project, env="sync")
    sqlite_project.pytester.makepyfile(test_it=LOGGING_CHECKED)
    # In a subprocess: were the logging set-up kept, it would be this process's too.
    result = sqlite_project.pytester.runpytest_subprocess(
        "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:faker", timeout=120
    )
    result.assert_outcomes(passed=1)


def test_a_sync_env_py_raises_no_warning_in_projects_that_make_warnings_errors(
    project: Project,
) -> None:
    add_migrations(project, env="sync")
    project.write_settings(
        'migrations = "alembic.ini"\n\n[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n'
    )
    project.pytester.makepyfile(test_it=USES_THE_DATABASE)
    result = project.run()
    result.assert_outcomes(passed=1)
    assert "warning" not in result.outlines[-1], result.outlines[-1]
