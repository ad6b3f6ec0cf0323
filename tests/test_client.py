"""The test client, through real requests to small apps run by pytester."""

from __future__ import annotations

import pytest
from conftest import Project

APP = """
from contextlib import asynccontextmanager

from fastapi import FastAPI, Header, Request
from sqlalchemy import func, select

from appdb import SessionLocal
from models import Author

EVENTS = []


@asynccontextmanager
async def lifespan(app):
    EVENTS.append("startup")
    yield {"greeting": "hello"}
    EVENTS.append("shutdown")


app = FastAPI(lifespan=lifespan)


@app.get("/state")
async def state(request: Request):
    return {"greeting": request.state.greeting}


@app.get("/whoami")
async def whoami(authorization: str | None = Header(None), x_user: str | None = Header(None)):
    return {"authorization": authorization, "x_user": x_user}


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


@app.get("/boom")
async def boom():
    raise RuntimeError("the app broke")


@app.get("/missing")
async def missing():
    return {"detail": "nothing here", "hint": "x" * 2000}
"""

AUTH = """
def token(user):
    return f"token-{user}"


async def async_headers(user):
    return {"X-User": str(user)}
"""


def make_app(project: Project, auth: str = "auth:token") -> None:
    project.write_settings(f'app = "webapp:app"\nauth = "{auth}"')
    project.pytester.makepyfile(webapp=APP, auth=AUTH)


def test_lifespan_runs_once_per_client_and_shuts_down(project: Project) -> None:
    make_app(project)
    project.pytester.makepyfile(
        test_it="""
        import webapp

        async def test_first(client):
            assert (await client.get("/state")).json() == {"greeting": "hello"}
            await client.get("/state")
            assert webapp.EVENTS == ["startup"]

        async def test_second(client):
            await client.get("/state")
            assert webapp.EVENTS == ["startup", "shutdown", "startup"]

        def test_after():
            assert webapp.EVENTS == ["startup", "shutdown", "startup", "shutdown"]
        """
    )
    project.run().assert_outcomes(passed=3)


def test_concurrent_first_requests_start_the_lifespan_once(project: Project) -> None:
    make_app(project)
    project.pytester.makepyfile(
        test_it="""
        import asyncio
        import gc

        import webapp

        async def test_gathered(client):
            first, second = await asyncio.gather(client.get("/state"), client.get("/state"))
            assert first.status_code == second.status_code == 200
            assert webapp.EVENTS == ["startup"]

        def test_after(caplog):
            gc.collect()  # a leaked lifespan task is logged as destroyed here
            assert "Task was destroyed" not in caplog.text
            assert webapp.EVENTS == ["startup", "shutdown"]
        """
    )
    project.run().assert_outcomes(passed=2)


def test_concurrent_first_requests_start_once_without_aksara_settings(
    pytester: pytest.Pytester,
) -> None:
    """Plugin installed, project not configured: strict pytest-asyncio, and anyio marks."""
    pytester.makeini(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(
        test_it="""
        import asyncio
        from contextlib import asynccontextmanager

        import pytest
        from starlette.applications import Starlette
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route

        from aksara_testing import AksaraClient

        def make_app(events):
            @asynccontextmanager
            async def lifespan(app):
                events.append("startup")
                yield
                events.append("shutdown")

            return Starlette(
                routes=[Route("/", lambda request: PlainTextResponse("ok"))], lifespan=lifespan
            )

        async def gathered(events):
            async with AksaraClient(make_app(events)) as client:
                await asyncio.gather(client.get("/"), client.get("/"), client.get("/"))

        @pytest.mark.asyncio
        async def test_strict_asyncio():
            events = []
            await gathered(events)
            assert events == ["startup", "shutdown"]

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.mark.anyio
        async def test_anyio():
            events = []
            await gathered(events)
            assert events == ["startup", "shutdown"]
        """
    )

    pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_a_client_used_as_a_context_manager_shuts_the_lifespan_down(
    sqlite_project: Project,
) -> None:
    make_app(sqlite_project)
    sqlite_project.pytester.makepyfile(
        test_it="""
        import webapp
        from aksara_testing import AksaraClient

        async def test_it():
            async with AksaraClient(webapp.app) as client:
                await client.get("/state")
            assert webapp.EVENTS == ["startup", "shutdown"]
        """
    )
    sqlite_project.run().assert_outcomes(passed=1)


def test_rows_created_through_the_app_are_visible_then_rolled_back(project: Project) -> None:
    make_app(project)
    project.pytester.makepyfile(
        test_it="""
        from helpers import count

        async def test_post(client, db_session):
            response = await client.post("/authors", json={"name": "via http"})
            assert response.status_code == 201
            assert await count(db_session) == 1
            assert (await client.get("/authors/count")).json() == {"count": 1}

        async def test_gone(client, db_session):
            assert await count(db_session) == 0
            assert (await client.get("/authors/count")).json() == {"count": 0}
        """
    )
    project.run().assert_outcomes(passed=2)


def test_app_exceptions_propagate_unless_turned_off(sqlite_project: Project) -> None:
    make_app(sqlite_project)
    sqlite_project.pytester.makepyfile(
        test_it="""
        import pytest

        async def test_raises(client):
            with pytest.raises(RuntimeError, match="the app broke"):
                await client.get("/boom")

        async def test_500(client):
            client.raise_app_exceptions = False
            assert (await client.get("/boom")).status_code == 500
        """
    )
    sqlite_project.run().assert_outcomes(passed=2)


def test_authenticate_adds_credentials_and_logout_removes_them(sqlite_project: Project) -> None:
    make_app(sqlite_project)
    sqlite_project.pytester.makepyfile(
        test_it="""
        from aksara_testing import AksaraTestCase

        async def test_token(client):
            client.authenticate("ann")
            assert (await client.get("/whoami")).json()["authorization"] == "Bearer token-ann"
            client.logout()
            assert (await client.get("/whoami")).json()["authorization"] is None

        class TestCase(AksaraTestCase):
            async def asyncSetUp(self):
                self.authenticate("bob")      # a plain call, as in the guide

            async def test_it(self):
                response = await self.client.get("/whoami")
                assert response.json()["authorization"] == "Bearer token-bob"
                self.logout()
                assert (await self.client.get("/whoami")).json()["authorization"] is None
        """
    )
    sqlite_project.run().assert_outcomes(passed=2)


def test_an_async_auth_function_may_return_headers(sqlite_project: Project) -> None:
    make_app(sqlite_project, auth="auth:async_headers")
    sqlite_project.pytester.makepyfile(
        test_it="""
        async def test_headers(client):
            client.authenticate(7)
            assert (await client.get("/whoami")).json()["x_user"] == "7"
        """
    )
    sqlite_project.run().assert_outcomes(passed=1)


def test_authenticate_without_the_auth_setting_says_what_to_set(sqlite_project: Project) -> None:
    sqlite_project.write_settings('app = "webapp:app"')
    sqlite_project.pytester.makepyfile(webapp=APP)
    sqlite_project.pytester.makepyfile(
        test_it="""
        async def test_it(client):
            client.authenticate("ann")
        """
    )
    result = sqlite_project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*authenticate() needs the auth setting: set auth = *"])


def test_a_failed_status_assertion_shows_the_request_and_the_body(sqlite_project: Project) -> None:
    make_app(sqlite_project)
    sqlite_project.pytester.makepyfile(
        test_it="""
        async def test_status(client):
            response = await client.get("/missing")
            assert response.status_code == 201
        """
    )
    result = sqlite_project.run()
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert '<Response [200 OK] GET /missing {"detail": "nothing here"' in output
    result.stdout.fnmatch_lines(
        [
            "*aksara client: last response (of 1 in this test)*",
            "GET http://testserver/missing -> 200 OK",
            "{",
            '  "detail": "nothing here",',
        ]
    )
    assert "... (2035 bytes)" in output  # the long body is cut, with its size


def test_missing_app_setting_fails_with_one_line(sqlite_project: Project) -> None:
    sqlite_project.pytester.makepyfile(
        test_it="""
        async def test_it(client):
            pass
        """
    )
    result = sqlite_project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the test client needs the app setting: set app = *"])
    assert "Traceback" not in result.stdout.str()


def test_the_app_fixture_can_be_overridden_for_an_app_factory(sqlite_project: Project) -> None:
    sqlite_project.pytester.makeconftest(
        """
        import pytest
        from starlette.applications import Starlette
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route

        def create_app(name):
            async def hello(request):
                return PlainTextResponse(f"hello {name}")
            return Starlette(routes=[Route("/", hello)])

        @pytest.fixture(scope="session")
        def app():
            return create_app("factory")
        """
    )
    sqlite_project.pytester.makepyfile(
        test_it="""
        async def test_it(client):
            assert (await client.get("/")).text == "hello factory"
        """
    )
    sqlite_project.run().assert_outcomes(passed=1)


def test_pytest_django_no_longer_hides_our_client_in_a_configured_project(
    sqlite_project: Project,
) -> None:
    """pytest-django's ``client`` may register after ours: in a configured project ours wins."""
    sqlite_project.pytester.makeconftest(
        """
        import pytest

        class Django:  # what pytest-django registers, as far as the name goes
            @pytest.fixture
            def client(self):
                pytest.skip("no Django settings")

        def pytest_configure(config):  # before ours: conftests register after entry points
            config.pluginmanager.register(Django(), "django")
        """
    )
    sqlite_project.pytester.makepyfile(
        webapp="""
        from starlette.applications import Starlette

        app = Starlette()
        """,
        test_it="""
        async def test_the_client_is_aksaras(client):
            assert type(client).__name__ == "AksaraClient"
            assert (await client.get("/missing")).status_code == 404

        def test_a_sync_test_gets_aksaras_sync_client(client):
            assert type(client).__name__ == "AksaraSyncClient"
            assert client.get("/missing").status_code == 404
        """,
    )
    sqlite_project.write_settings('app = "webapp:app"')

    result = sqlite_project.run()

    result.assert_outcomes(passed=2)
    assert "pytest-django" not in result.stdout.str()
    listed = sqlite_project.run("--fixtures")
    assert listed.ret == 0, listed.stdout.str()
    assert "INTERNALERROR" not in listed.stdout.str() + listed.stderr.str()
