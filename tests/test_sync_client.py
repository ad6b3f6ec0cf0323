"""The sync client, in projects shaped like real sync suites: def tests, module-scoped clients."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import Project

APP = """
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI, Header, Request
from sqlalchemy import func, select

from appdb import SessionLocal
from models import Author

EVENTS = []


@asynccontextmanager
async def lifespan(app):
    EVENTS.append("startup")
    app.state.greeting = "hello"
    yield
    EVENTS.append("shutdown")


app = FastAPI(lifespan=lifespan)


def on_main_thread():
    return threading.current_thread() is threading.main_thread()


@app.get("/sync")
def sync_endpoint(request: Request):
    return {"greeting": request.app.state.greeting, "main_thread": on_main_thread()}


@app.get("/async")
async def async_endpoint(request: Request):
    return {"greeting": request.app.state.greeting, "main_thread": on_main_thread()}


@app.post("/echo")
async def echo(request: Request):
    return {"body": (await request.body()).decode(), "query": dict(request.query_params)}


@app.get("/whoami")
def whoami(authorization: str | None = Header(None), x_user: str | None = Header(None)):
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


@app.get("/boom/sync")
def boom_sync():
    raise RuntimeError("the sync endpoint broke")


@app.get("/boom/async")
async def boom_async():
    raise RuntimeError("the async endpoint broke")


@app.get("/missing")
def missing():
    return {"detail": "nothing here", "hint": "x" * 2000}
"""

AUTH = """
def token(user):
    return f"token-{user}"


async def async_headers(user):
    return {"X-User": str(user)}
"""

MODULE_CLIENT = """
import pytest

from aksara_testing import sync_client


@pytest.fixture(scope="module")
def client(app):
    with sync_client(app) as client:
        yield client
"""


def run_unconfigured(pytester: pytest.Pytester) -> pytest.RunResult:
    """A project without [tool.aksara]: pytest-asyncio's options are its own to set."""
    return pytester.runpytest(
        "-p", "no:randomly", "-o", "asyncio_default_fixture_loop_scope=function"
    )


def make_app(project: Project, auth: str = "auth:token") -> None:
    project.write_settings(f'app = "webapp:app"\nauth = "{auth}"')
    project.pytester.makepyfile(webapp=APP, auth=AUTH)


def test_a_sync_test_gets_a_sync_client_and_the_lifespan_runs_once(sqlite_project: Project) -> None:
    make_app(sqlite_project)
    sqlite_project.pytester.makepyfile(
        test_it="""
        import httpx
        import webapp

        def test_first(client):
            assert type(client).__name__ == "AksaraSyncClient"
            assert isinstance(client, httpx.Client)
            assert client.get("/async").json() == {"greeting": "hello", "main_thread": True}
            # A sync endpoint runs in anyio's thread pool, as in production.
            assert client.get("/sync").json() == {"greeting": "hello", "main_thread": False}
            assert webapp.EVENTS == ["startup"]

        def test_second(client):
            client.get("/sync")
            assert webapp.EVENTS == ["startup", "shutdown", "startup"]

        def test_after():
            assert webapp.EVENTS == ["startup", "shutdown", "startup", "shutdown"]
        """
    )
    sqlite_project.run().assert_outcomes(passed=3)


def test_request_bodies_and_queries_reach_the_app(sqlite_project: Project) -> None:
    make_app(sqlite_project)
    sqlite_project.pytester.makepyfile(
        test_it="""
        def test_bodies(client):
            json = client.post("/echo", json={"a": 1}, params={"q": "x"}).json()
            # httpx 0.28 sends compact JSON, 0.27 puts a space after the colon.
            assert json["body"].replace(" ", "") == '{"a":1}' and json["query"] == {"q": "x"}
            assert client.post("/echo", data={"b": "2"}).json()["body"] == "b=2"
            streamed = client.post("/echo", content=iter([b"one ", b"two"]))
            assert streamed.json()["body"] == "one two"
        """
    )
    sqlite_project.run().assert_outcomes(passed=1)


def test_sync_tests_reach_the_apps_async_database_and_are_rolled_back(project: Project) -> None:
    make_app(project)
    project.pytester.makepyfile(
        test_it="""
        import pytest
        from helpers import count
        from models import Author

        def test_post(client):
            assert client.post("/authors", json={"name": "via http"}).status_code == 201
            assert client.get("/authors/count").json() == {"count": 1}

        def test_gone(client):
            assert client.get("/authors/count").json() == {"count": 0}

        async def test_async_tests_keep_the_async_client(client, db_session):
            assert type(client).__name__ == "AksaraClient"
            assert (await client.post("/authors", json={"name": "async"})).status_code == 201
            assert await count(db_session) == 1

        def test_gone_again(client):
            assert client.get("/authors/count").json() == {"count": 0}

        @pytest.fixture
        async def author(db_session):
            db_session.add(Author(name="from a fixture"))
            await db_session.commit()

        def test_an_async_fixtures_rows_reach_the_app(author, client):
            assert client.get("/authors/count").json() == {"count": 1}

        def test_and_are_gone_after_it(client):
            assert client.get("/authors/count").json() == {"count": 0}
        """
    )
    project.run().assert_outcomes(passed=6)


def test_a_module_scoped_client_from_sync_client(project: Project) -> None:
    make_app(project)
    project.pytester.makepyfile(
        test_one=MODULE_CLIENT
        + """
import webapp


def test_writes(client):
    assert client.post("/authors", json={"name": "ann"}).status_code == 201
    assert client.get("/authors/count").json() == {"count": 1}


def test_rolled_back_and_one_lifespan(client):
    assert client.get("/authors/count").json() == {"count": 0}
    assert webapp.EVENTS == ["startup"]
""",
        test_two="""
import webapp


def test_the_module_client_shut_down():
    assert webapp.EVENTS == ["startup", "shutdown"]
""",
    )
    project.run().assert_outcomes(passed=3)


def test_public_names_stay_one_class_across_in_process_runs(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytester drops the modules a run imported; the next run must not mix old and new classes."""
    # Whatever ran before in this process: the first run imports the client module itself.
    monkeypatch.delitem(sys.modules, "aksara_testing._sync_client", raising=False)
    make_app(sqlite_project)
    sqlite_project.pytester.makepyfile(
        test_it="""
        from aksara_testing import sync_client

        def test_it():
            with sync_client() as client:
                assert client.get("/async").status_code == 200
        """
    )
    sqlite_project.run().assert_outcomes(passed=1)
    sqlite_project.pytester.makepyfile(
        test_it="""
        from aksara_testing import AksaraSyncClient, sync_client

        def test_it():
            with sync_client() as client:
                assert isinstance(client, AksaraSyncClient)
        """
    )
    sqlite_project.run().assert_outcomes(passed=1)


def test_sync_client_without_an_app_uses_the_app_setting(sqlite_project: Project) -> None:
    make_app(sqlite_project)
    sqlite_project.pytester.makepyfile(
        test_it="""
        import pytest

        from aksara_testing import AksaraSyncClient, sync_client

        @pytest.fixture(scope="session")
        def api():
            with sync_client() as client:
                yield client

        def test_it(api):
            assert isinstance(api, AksaraSyncClient)
            assert api.get("/async").json()["greeting"] == "hello"
        """
    )
    sqlite_project.run().assert_outcomes(passed=1)


def test_an_async_app_factory_is_built_on_the_session_loop(sqlite_project: Project) -> None:
    sqlite_project.write_settings('app = "factory:create_app"')
    sqlite_project.pytester.makepyfile(
        factory="""
        import asyncio

        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def create_app():
            loop = asyncio.get_running_loop()

            async def same_loop(request):
                return JSONResponse(asyncio.get_running_loop() is loop)

            return Starlette(routes=[Route("/", same_loop)])
        """
    )
    sqlite_project.pytester.makepyfile(
        test_it="""
        def test_it(client):
            assert client.get("/").json() is True
        """
    )
    sqlite_project.run().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("auth", "header", "expected"),
    [
        ("auth:token", "authorization", "Bearer token-ann"),
        ("auth:async_headers", "x_user", "ann"),
    ],
    ids=["sync-auth-function", "async-auth-function"],
)
def test_authenticate_and_logout(
    sqlite_project: Project, auth: str, header: str, expected: str
) -> None:
    make_app(sqlite_project, auth=auth)
    sqlite_project.pytester.makepyfile(
        test_it=MODULE_CLIENT.replace("def client(app)", "def module_client(app)")
        + f"""

@pytest.mark.parametrize("fixture", ["client", "module_client"])
def test_it(request, fixture):
    client = request.getfixturevalue(fixture)
    client.authenticate("ann")
    assert client.get("/whoami").json()["{header}"] == "{expected}"
    assert client.get("/whoami").json()["{header}"] == "{expected}"
    client.logout()
    assert client.get("/whoami").json()["{header}"] is None
"""
    )
    sqlite_project.run().assert_outcomes(passed=2)


def test_authenticate_without_the_auth_setting_says_what_to_set(sqlite_project: Project) -> None:
    sqlite_project.write_settings('app = "webapp:app"')
    sqlite_project.pytester.makepyfile(webapp=APP)
    sqlite_project.pytester.makepyfile(
        test_it="""
        def test_it(client):
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
        def test_status(client):
            response = client.get("/missing")
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


def test_a_module_scoped_client_reports_the_tests_own_last_response(
    sqlite_project: Project,
) -> None:
    make_app(sqlite_project)
    sqlite_project.pytester.makepyfile(
        test_it=MODULE_CLIENT
        + """

def test_passes(client):
    client.get("/sync")


def test_fails(client):
    assert client.get("/missing").status_code == 201
"""
    )
    result = sqlite_project.run()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*aksara client: last response (of 1 in this test)*", "GET http://testserver/missing *"]
    )


def test_app_exceptions_propagate_unless_turned_off(sqlite_project: Project) -> None:
    make_app(sqlite_project)
    sqlite_project.pytester.makepyfile(
        test_it="""
        import pytest

        @pytest.mark.parametrize("kind", ["sync", "async"])
        def test_raises(client, kind):
            with pytest.raises(RuntimeError, match=f"the {kind} endpoint broke"):
                client.get(f"/boom/{kind}")
            assert client.get("/sync").status_code == 200  # the client still works

        def test_500(client):
            client.raise_app_exceptions = False
            assert client.get("/boom/sync").status_code == 500
        """
    )
    sqlite_project.run().assert_outcomes(passed=3)


def test_the_sync_client_in_async_code_says_to_use_the_async_client(
    sqlite_project: Project,
) -> None:
    make_app(sqlite_project)
    sqlite_project.pytester.makepyfile(
        test_it=MODULE_CLIENT
        + """
import pytest_asyncio


async def test_module_client_in_an_async_test(client):
    client.get("/sync")


@pytest_asyncio.fixture
async def opened_in_async_fixture(app):
    with sync_client(app) as client:
        yield client


def test_sync_client_in_an_async_fixture(opened_in_async_fixture):
    pass
"""
    )
    result = sqlite_project.run()
    result.assert_outcomes(failed=1, errors=1)
    message = (
        "*AksaraError: the sync client was called from async code (an event loop is running "
        "in this thread); in async tests and fixtures use the async client: the client "
        "fixture, with await client.get(...)"
    )
    result.stdout.fnmatch_lines([message, message])
    assert "never awaited" not in result.stdout.str()


def test_an_unconfigured_project_gets_the_app_setting_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_it="""
        def test_it(client):
            pass
        """
    )
    result = run_unconfigured(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the test client needs the app setting: set app = *"])
    assert "Traceback" not in result.stdout.str()


def test_an_unconfigured_project_with_its_own_app_fixture_gets_a_working_client(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
        import pytest
        from starlette.applications import Starlette
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route

        async def hello(request):
            return PlainTextResponse("hello")

        @pytest.fixture(scope="session")
        def app():
            return Starlette(routes=[Route("/", hello)])
        """
    )
    pytester.makepyfile(
        test_it="""
        def test_it(client):
            assert client.get("/").text == "hello"
        """
    )
    run_unconfigured(pytester).assert_outcomes(passed=1)


def test_sync_client_without_the_session_loop_says_to_configure_the_project(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_it="""
        from starlette.applications import Starlette

        from aksara_testing import sync_client

        def test_it():
            with sync_client(Starlette()):
                pass
        """
    )
    result = run_unconfigured(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ConfigurationError: the sync client runs the app on aksara's session event loop, "
            "and this run has none open: use it in a test or fixture of a project configured "
            "for aksara ([[]tool.aksara] in pyproject.toml, with app = 'module:attr')"
        ]
    )


def test_sync_client_outside_a_pytest_run_says_where_to_call_it() -> None:
    code = "from aksara_testing import sync_client\nwith sync_client(object()): pass"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "aksara_testing.errors.AksaraError: sync_client() needs a pytest run with the aksara "
        "plugin; call it from a fixture or test, not at import time"
    )
