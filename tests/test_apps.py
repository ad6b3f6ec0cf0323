"""The ``app`` setting names an ASGI app, or a factory called with no arguments."""

from __future__ import annotations

import pytest
from conftest import Project

FACTORIES = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

built = []


async def ping(request):
    return JSONResponse({"built": len(built)})


def create_app():
    built.append(1)
    return Starlette(routes=[Route("/ping", ping)])


async def build_app():
    built.append(1)
    return Starlette(routes=[Route("/ping", ping)])


def needs_settings(settings, debug=False):
    return create_app()


def returns_nothing():
    return None


VERSION = "1.0"
"""

TWO_TESTS = """
async def test_one(client):
    response = await client.get("/ping")
    assert response.json() == {"built": 1}

async def test_two(client):
    response = await client.get("/ping")
    assert response.json() == {"built": 1}  # built once for the run
"""


@pytest.mark.parametrize("factory", ["create_app", "build_app"])
def test_a_factory_without_arguments_is_called_once_for_the_run(
    sqlite_project: Project, factory: str
) -> None:
    sqlite_project.pytester.makepyfile(factories=FACTORIES, test_it=TWO_TESTS)
    sqlite_project.write_settings(f'app = "factories:{factory}"')

    sqlite_project.run().assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "needs_settings",
            "setting app = 'factories:needs_settings' (from pyproject.toml) takes arguments "
            "(settings): it is neither an ASGI app (scope, receive, send) nor a factory that "
            "takes no arguments; point app at the app, or override the app fixture in "
            "tests/conftest.py to call your factory",
        ),
        (
            "VERSION",
            "setting app = 'factories:VERSION' (from pyproject.toml) is a str, not an ASGI app; "
            "point app at the app instance, or at a function that takes no arguments and "
            "returns it",
        ),
        (
            "returns_nothing",
            "setting app = 'factories:returns_nothing' (from pyproject.toml) is a factory, and "
            "it returned a NoneType, not an ASGI app; return the app from it",
        ),
    ],
)
def test_anything_else_stops_the_run_with_one_line(
    sqlite_project: Project, target: str, message: str
) -> None:
    sqlite_project.pytester.makepyfile(factories=FACTORIES, test_it=TWO_TESTS)
    sqlite_project.write_settings(f'app = "factories:{target}"')

    result = sqlite_project.run()

    assert result.ret == 4
    output = result.outlines + result.errlines
    assert sum(message in line for line in output) == 1, "\n".join(output)
    assert "Traceback" not in "\n".join(output)
