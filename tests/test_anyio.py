"""``@pytest.mark.anyio`` tests use aksara's fixtures on the run's one event loop."""

from __future__ import annotations

import pytest
from conftest import Project

WEBAPP = """
from fastapi import FastAPI
from sqlalchemy import func, select

from appdb import SessionLocal
from models import Author

app = FastAPI()


@app.post("/authors", status_code=201)
async def create_author(body: dict):
    async with SessionLocal() as session:
        session.add(Author(name=body["name"]))
        await session.commit()
    return body


@app.get("/authors/count")
async def count_authors():
    async with SessionLocal() as session:
        return {"count": await session.scalar(select(func.count()).select_from(Author))}
"""

# Loops seen by fixtures and tests, checked by the last test of the run.
LOOPS = """
import asyncio

SEEN = set()


def note():
    SEEN.add(asyncio.get_running_loop())
"""

FACTORIES = """
from aksara_testing import Factory
from models import Author


class AuthorFactory(Factory):
    class Meta:
        model = Author

    name = Factory.Sequence(lambda n: f"author{n}")
"""

ANYIO_TESTS = """
import pytest
from sqlalchemy import text

import loops
from factories import AuthorFactory
from helpers import count, names
from models import Author

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
async def module_author():
    loops.note()
    return await AuthorFactory.create(name="module")


async def test_db_session(db_session, module_author):
    loops.note()
    db_session.add(Author(name="a"))
    await db_session.commit()
    assert await names(db_session) == ["a", "module"]


async def test_factories_write_in_the_test_and_roll_back(db_session, module_author):
    await AuthorFactory.create()
    assert await count(db_session) == 2


async def test_db_sessionmaker(db_sessionmaker, module_author):
    async with db_sessionmaker() as session:
        session.add(Author(name="b"))
        await session.commit()
    async with db_sessionmaker() as session:
        assert await count(session) == 2


async def test_db_connection(db_connection, module_author):
    loops.note()
    rows = await db_connection.execute(text("SELECT count(*) FROM authors"))
    assert rows.scalar() == 1


async def test_client(client, db_session, module_author):
    response = await client.post("/authors", json={"name": "c"})
    assert response.status_code == 201
    assert (await client.get("/authors/count")).json() == {"count": 2}
    assert await count(db_session) == 2


class TestClassScopedData:
    @pytest.fixture(scope="class")
    async def class_author(self, module_author):
        loops.note()
        return await AuthorFactory.create(name="class")

    async def test_sees_class_and_module_data(self, db_session, class_author):
        assert await names(db_session) == ["class", "module"]

    async def test_still_sees_them(self, db_session, class_author):
        assert await count(db_session) == 2


async def test_class_data_is_gone(db_session, module_author):
    assert await names(db_session) == ["module"]
"""

ASYNCIO_TESTS = """
import pytest

import loops
from factories import AuthorFactory
from helpers import count

pytestmark = pytest.mark.asyncio  # for strict mode


async def test_plain_asyncio_test_sees_an_empty_database(db_session):
    loops.note()
    assert await count(db_session) == 0


async def test_plain_asyncio_test_with_a_factory(db_session):
    await AuthorFactory.create()
    assert await count(db_session) == 1
"""

TRANSACTIONAL_TESTS = """
import pytest

import loops
from aksara_testing import setup_test_database
from helpers import app_creates, count
from sqlalchemy import text


@pytest.mark.anyio
@pytest.mark.transactional
async def test_transactional_commits_for_real(db_session):
    loops.note()
    await app_creates("committed")
    handle = await setup_test_database()
    async with handle.engine.connect() as other:
        assert (await other.execute(text("SELECT count(*) FROM authors"))).scalar() == 1


@pytest.mark.anyio
async def test_the_next_test_starts_empty(db_session):
    assert await count(db_session) == 0
"""

LAST_TEST = """
import loops


def test_everything_ran_on_one_loop():
    assert len(loops.SEEN) == 1
"""

SESSION_BACKEND = """
import pytest


@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"
"""


def write_suite(project: Project, backend: str) -> None:
    project.write_settings('app = "webapp:app"')
    files = {
        "webapp": WEBAPP,
        "loops": LOOPS,
        "factories": FACTORIES,
        "test_a_anyio": ANYIO_TESTS,
        "test_b_asyncio": ASYNCIO_TESTS,
        "test_c_transactional": TRANSACTIONAL_TESTS,
        "test_z_last": LAST_TEST,
    }
    if backend == "session":
        files["conftest"] = SESSION_BACKEND
    project.pytester.makepyfile(**files)


@pytest.mark.parametrize("backend", ["session", "default"])
def test_anyio_tests_use_every_fixture_on_the_loop_of_the_asyncio_tests(
    project: Project, backend: str
) -> None:
    write_suite(project, backend)

    result = project.run("-W", "error")

    result.assert_outcomes(passed=13)


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_anyio_tests_share_the_loop_whatever_the_asyncio_mode(
    sqlite_project: Project, mode: str
) -> None:
    write_suite(sqlite_project, "session")
    sqlite_project.write_settings(
        f'app = "webapp:app"\n\n[tool.pytest.ini_options]\nasyncio_mode = "{mode}"'
    )

    result = sqlite_project.run("-W", "error")

    result.assert_outcomes(passed=13)


def test_anyio_tests_stay_anyios_when_aksara_fills_auto_mode(sqlite_project: Project) -> None:
    # pytest-asyncio's auto mode would run them itself: on asyncio even for trio, and in
    # another task than their fixtures. anyio runs a test in its fixtures' task.
    sqlite_project.pytester.makepyfile(
        test_it="""
        import asyncio
        import contextvars

        import pytest
        from helpers import count

        USER = contextvars.ContextVar("user")

        @pytest.fixture
        async def logged_in(db_session):
            USER.set("alice")
            return asyncio.current_task()

        @pytest.mark.anyio
        async def test_runs_in_its_fixtures_task(logged_in, db_session):
            assert asyncio.current_task() is logged_in
            assert USER.get() == "alice"
            assert await count(db_session) == 0

        async def test_a_plain_async_test_still_runs(db_session):
            assert await count(db_session) == 0
        """
    )

    result = sqlite_project.run("-W", "error")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["aksara: asyncio_mode=auto, *"])


def test_anyio_auto_mode_with_warnings_as_errors_uses_the_fixtures(
    sqlite_project: Project,
) -> None:
    sqlite_project.write_settings(
        '\n[tool.pytest.ini_options]\nanyio_mode = "auto"\nfilterwarnings = ["error"]'
    )
    sqlite_project.pytester.makepyfile(
        loops=LOOPS,
        test_it="""
        import loops
        from helpers import app_creates, count


        async def test_writes(db_session):
            loops.note()
            await app_creates("x")
            assert await count(db_session) == 1


        async def test_rolled_back(db_session):
            loops.note()
            assert await count(db_session) == 0
            assert len(loops.SEEN) == 1
        """,
    )

    result = sqlite_project.run("-p", "no:randomly")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["aksara: *asyncio_mode left strict*anyio_mode*"])


# --- trio and backend options ---------------------------------------------------------------


def test_a_trio_backend_fails_the_database_test_with_one_line(sqlite_project: Project) -> None:
    sqlite_project.pytester.makepyfile(
        test_it="""
        import pytest

        @pytest.fixture
        def anyio_backend():
            return "trio"

        @pytest.mark.anyio
        async def test_uses_the_database(db_session):
            pass
        """
    )

    result = sqlite_project.run()

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*aksara: test_it.py::test_uses_the_database runs on anyio's trio backend, but "
            "aksara's database fixtures run on asyncio;*anyio_backend*'asyncio'*"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_the_trio_variant_of_a_parametrized_backend_is_skipped(sqlite_project: Project) -> None:
    sqlite_project.pytester.makepyfile(
        test_it="""
        import pytest
        from helpers import count

        @pytest.fixture(params=["asyncio", "trio"])
        def anyio_backend(request):
            return request.param

        @pytest.mark.anyio
        async def test_uses_the_database(db_session):
            assert await count(db_session) == 0
        """
    )

    result = sqlite_project.run("-rs")

    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED * aksara's database fixtures run on asyncio*"])


def test_backend_options_for_a_loop_of_its_own_fail_with_one_line(
    sqlite_project: Project,
) -> None:
    sqlite_project.pytester.makepyfile(
        test_it="""
        import pytest

        @pytest.fixture
        def anyio_backend():
            return ("asyncio", {"debug": True})

        @pytest.mark.anyio
        async def test_uses_the_database(db_session):
            pass

        @pytest.mark.anyio
        async def test_without_the_database():
            pass
        """
    )

    result = sqlite_project.run()

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*aksara: *anyio_backend*debug*loop of its own*"])


# --- a hand-written conftest, ported ----------------------------------------------------------

PORTED_APP = """
from fastapi import Depends, FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from appdb import SessionLocal
from models import Author

app = FastAPI()


async def get_session():
    async with SessionLocal() as session:
        yield session


@app.post("/authors", status_code=201)
async def create(body: dict, session: AsyncSession = Depends(get_session)):
    session.add(Author(name=body["name"]))
    await session.commit()
    return body


@app.get("/authors/count")
async def count(session: AsyncSession = Depends(get_session)):
    return {"count": await session.scalar(select(func.count()).select_from(Author))}
"""

# What was an engine, a savepoint connection fixture and an override is now the
# test's connection from aksara, the same session and the same override.
PORTED_CONFTEST = """
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from webapp import app, get_session


@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def session(db_connection):
    import loops

    loops.note()
    async with AsyncSession(bind=db_connection, join_transaction_mode="create_savepoint") as s:
        yield s


@pytest.fixture
async def api(session):
    app.dependency_overrides[get_session] = lambda: session
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
        yield api
    app.dependency_overrides.clear()
"""

PORTED_TESTS = """
import pytest

import loops
from helpers import count

pytestmark = pytest.mark.anyio


async def test_create(api, session):
    loops.note()
    assert (await api.post("/authors", json={"name": "a"})).status_code == 201
    assert (await api.get("/authors/count")).json() == {"count": 1}
    assert await count(session) == 1


async def test_rolled_back(api, session):
    loops.note()
    assert (await api.get("/authors/count")).json() == {"count": 0}
    assert len(loops.SEEN) == 1
"""


def test_a_ported_savepoint_conftest_works_with_anyio(project: Project) -> None:
    project.write_settings("")
    project.pytester.makeconftest(PORTED_CONFTEST)
    project.pytester.makepyfile(webapp=PORTED_APP, loops=LOOPS, test_it=PORTED_TESTS)

    result = project.run("-W", "error")

    result.assert_outcomes(passed=2)
