"""A test that leaves a session or connection open fails by name; the run never hangs.

Before, a transactional test that kept a session open made PostgreSQL's
TRUNCATE wait forever after it, and gave every later SQLite write "database
is locked". These runs happen in a subprocess with a timeout, so a hang
fails the test instead of stopping the suite.
"""

from __future__ import annotations

import asyncio
from textwrap import dedent

import pytest
from conftest import Project
from sqlalchemy.engine import make_url

from aksara_testing._db.postgres import drop

# Generous: a healthy run takes a few seconds; a hang never ends.
TIMEOUT = 120
LEFT_OPEN = "this test left the test database in use, so aksara closed what it left open"


def run(project: Project, culprit: str) -> pytest.RunResult:
    """Run ``culprit`` (a test module's start) followed by :data:`LATER_TESTS`."""
    project.pytester.makepyfile(test_it=dedent(culprit) + LATER_TESTS)
    try:
        return project.pytester.runpytest_subprocess(
            "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:faker", timeout=TIMEOUT
        )
    finally:
        if project.backend == "postgres":  # a run killed by the timeout leaves its database
            server = make_url(project.database_url).set(drivername="postgresql+asyncpg")
            asyncio.run(drop(server.set(database=f"test_{project.name}")))


@pytest.fixture
def postgres_project(pytester: pytest.Pytester, postgres_url: str) -> Project:
    return Project(pytester, "postgres", postgres_url)


def left_open_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if LEFT_OPEN in line]


# Later tests, after the culprit: an ordinary one, then a transactional one, then one more.
LATER_TESTS = """

async def test_later_tests_start_empty(db_session):
    from helpers import count
    db_session.add(Author(name="left"))  # the culprit's row, were it still there or locked
    await db_session.flush()
    assert await count(db_session) == 1


@pytest.mark.transactional
async def test_later_transactional_tests_commit():
    from helpers import app_count, app_creates
    await app_creates("left")
    assert await app_count() == 1


async def test_and_the_run_goes_on(db_session):
    from helpers import count
    assert await count(db_session) == 0
"""


def test_a_transactional_test_that_leaves_an_app_session_open_fails_by_name(
    project: Project,
) -> None:
    result = run(
        project,
        """
        import pytest
        from appdb import SessionLocal
        from models import Author

        kept = []

        @pytest.mark.transactional
        async def test_leaves_a_session_open():
            session = SessionLocal()
            kept.append(session)  # never closed: its transaction holds the new row's locks
            session.add(Author(name="left"))
            await session.flush()
        """,
    )
    result.assert_outcomes(passed=4, errors=1)
    [line] = left_open_lines(result)
    assert "a session of appdb:SessionLocal (in a transaction)" in line
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_leaves_a_session_open*"])


def test_a_transactional_test_that_leaves_a_raw_connection_open_fails_by_name(
    project: Project,
) -> None:
    result = run(
        project,
        """
        import pytest
        from sqlalchemy import text
        from aksara_testing import setup_test_database
        from models import Author

        kept = []

        @pytest.mark.transactional
        async def test_leaves_a_connection_open():
            handle = await setup_test_database()
            connection = await handle.engine.connect()
            kept.append(connection)
            await connection.execute(text("INSERT INTO authors (name) VALUES ('left')"))
        """,
    )
    result.assert_outcomes(passed=4, errors=1)
    [line] = left_open_lines(result)
    assert "a connection of engine " in line
    assert f"test_{project.name}" in line
    assert "(in a transaction)" in line


@pytest.mark.postgres
def test_a_server_session_left_in_a_transaction_is_ended_and_named(
    postgres_project: Project,
) -> None:
    result = run(
        postgres_project,
        """
        import asyncpg
        import pytest
        from aksara_testing import setup_test_database
        from models import Author

        kept = []

        @pytest.mark.transactional
        async def test_leaves_a_driver_connection_open():
            handle = await setup_test_database()
            dsn = handle.url.set(drivername="postgresql").render_as_string(hide_password=False)
            connection = await asyncpg.connect(dsn)  # not SQLAlchemy: only the server sees it
            kept.append(connection)
            await connection.execute("BEGIN")
            await connection.execute("INSERT INTO authors (name) VALUES ('left')")
        """,
    )
    result.assert_outcomes(passed=4, errors=1)
    [line] = left_open_lines(result)
    assert "PostgreSQL session " in line
    assert '(idle in transaction, last query "INSERT INTO authors' in line
    assert "ended with pg_terminate_backend" in line


def test_an_ordinary_test_that_leaves_a_connection_open_fails_by_name(project: Project) -> None:
    result = run(
        project,
        """
        import pytest
        from sqlalchemy import text
        from aksara_testing import setup_test_database
        from models import Author

        kept = []

        async def test_leaves_a_connection_open():
            handle = await setup_test_database()
            connection = await handle.engine.connect()
            kept.append(connection)  # outside the test transaction: its own, with locks
            await connection.execute(text("INSERT INTO authors (name) VALUES ('left')"))
        """,
    )
    result.assert_outcomes(passed=4, errors=1)
    [line] = left_open_lines(result)
    assert "a connection of engine " in line


def test_an_ordinary_test_that_leaves_an_app_session_open_harms_nobody(project: Project) -> None:
    # Its session works on the shared test connection: the test's rollback ends it.
    result = run(
        project,
        """
        import pytest
        from appdb import SessionLocal
        from models import Author

        kept = []

        async def test_leaves_a_session_open():
            session = SessionLocal()
            kept.append(session)
            session.add(Author(name="left"))
            await session.flush()
        """,
    )
    result.assert_outcomes(passed=4)
    assert not left_open_lines(result)


def test_closed_sessions_and_connections_are_not_leftovers(project: Project) -> None:
    result = run(
        project,
        """
        import pytest
        from sqlalchemy import text
        from aksara_testing import setup_test_database
        from appdb import SessionLocal
        from models import Author

        @pytest.mark.transactional
        async def test_closes_everything():
            async with SessionLocal() as session:
                session.add(Author(name="a"))
                await session.commit()
            handle = await setup_test_database()
            async with handle.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))

        async def test_also_closes(db_session):
            handle = await setup_test_database()
            async with handle.engine.begin() as connection:
                await connection.execute(text("SELECT 1"))
        """,
    )
    result.assert_outcomes(passed=5)
    assert not left_open_lines(result)


def test_a_lock_aksara_may_not_release_fails_emptying_with_one_line_not_a_hang(
    sqlite_project: Project,
) -> None:
    # A module-scoped connection is the module's to keep; its write lock outlives the test.
    sqlite_project.pytester.makepyfile(
        test_it="""
        import pytest
        from sqlalchemy import text
        from aksara_testing import setup_test_database

        @pytest.fixture(scope="module")
        async def holder():
            handle = await setup_test_database()
            async with handle.engine.connect() as connection:
                await connection.execute(text("INSERT INTO authors (name) VALUES ('held')"))
                yield connection

        @pytest.mark.transactional
        async def test_commits(holder):
            pass

        async def test_still_holding(holder):
            pass
        """
    )
    result = sqlite_project.pytester.runpytest_subprocess(
        "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:faker", timeout=TIMEOUT
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*could not empty the test database after a transactional test: "
            "OperationalError: database is locked; a connection aksara did not open*"
        ]
    )
