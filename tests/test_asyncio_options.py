"""A configured project gets pytest-asyncio values only for the options it left unset."""

from __future__ import annotations

import pytest

# Each test records its loop, each fixture its own: the last test checks that the
# loop scopes in force are the ones the header names.
LOOP_TESTS = """
import asyncio

import pytest
import pytest_asyncio

TESTS = []


@pytest_asyncio.fixture
async def fixture_loop():
    return asyncio.get_running_loop()


@pytest_asyncio.fixture
async def future():
    return asyncio.get_running_loop().create_future()


@pytest.mark.asyncio
async def test_first(fixture_loop):
    TESTS.append((asyncio.get_running_loop(), fixture_loop))


@pytest.mark.asyncio
async def test_second(fixture_loop):
    TESTS.append((asyncio.get_running_loop(), fixture_loop))


@pytest.mark.asyncio
async def test_a_fixtures_future_can_be_awaited(future):
    asyncio.get_running_loop().call_soon(future.set_result, 1)
    assert await future == 1


def test_loops(pytestconfig):
    (first, first_fixture), (second, second_fixture) = TESTS
    assert first is first_fixture and second is second_fixture  # scopes kept equal
    expected = pytestconfig.getini("asyncio_default_test_loop_scope")
    assert (first is second) == (expected != "function")
"""


def run(pytester: pytest.Pytester, ini: str, *args: str) -> pytest.RunResult:
    pytester.makepyprojecttoml(f"[tool.aksara]\n\n[tool.pytest.ini_options]\n{ini}\n")
    pytester.makepyfile(test_loops=LOOP_TESTS)
    return pytester.runpytest("-p", "no:randomly", "-W", "error", *args)


def aksara_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("aksara:")][1:]


def test_a_project_that_sets_nothing_gets_auto_mode_and_session_loops(
    pytester: pytest.Pytester,
) -> None:
    result = run(pytester, "")

    result.assert_outcomes(passed=4)
    assert aksara_lines(result) == [
        "aksara: asyncio_mode=auto, loop scopes session "
        "(set by aksara; the project left them unset)"
    ]
    result.stdout.fnmatch_lines(
        [
            "asyncio: mode=Mode.AUTO, *asyncio_default_fixture_loop_scope=session, "
            "asyncio_default_test_loop_scope=session"
        ]
    )


def test_a_fixture_loop_scope_set_by_the_project_is_followed_by_the_test_loop_scope(
    pytester: pytest.Pytester,
) -> None:
    # The real project: auto mode and function-scoped fixture loops, nothing more.
    result = run(pytester, 'asyncio_mode = "auto"\nasyncio_default_fixture_loop_scope = "function"')

    result.assert_outcomes(passed=4)
    assert aksara_lines(result) == [
        "aksara: asyncio_default_test_loop_scope=function (set by aksara; the project left it "
        "unset; the test loop scope follows the project's fixture loop scope)"
    ]


def test_a_test_loop_scope_set_by_the_project_is_followed_by_the_fixture_loop_scope(
    pytester: pytest.Pytester,
) -> None:
    result = run(pytester, 'asyncio_default_test_loop_scope = "module"')

    result.assert_outcomes(passed=4)
    assert aksara_lines(result) == [
        "aksara: asyncio_mode=auto, asyncio_default_fixture_loop_scope=module (set by aksara; "
        "the project left them unset; the fixture loop scope follows the project's test loop "
        "scope)"
    ]


def test_a_project_that_sets_everything_gets_no_asyncio_line(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        'asyncio_mode = "strict"\nasyncio_default_fixture_loop_scope = "function"\n'
        'asyncio_default_test_loop_scope = "function"',
    )

    result.assert_outcomes(passed=4)
    assert aksara_lines(result) == []


@pytest.mark.parametrize(
    "args",
    [["-o", "asyncio_mode=strict"], ["--asyncio-mode=strict"]],
    ids=["-o", "--asyncio-mode"],
)
def test_a_mode_given_on_the_command_line_counts_as_set(
    pytester: pytest.Pytester, args: list[str]
) -> None:
    result = run(pytester, "", *args)

    result.assert_outcomes(passed=4)
    assert aksara_lines(result) == [
        "aksara: loop scopes session (set by aksara; the project left them unset)"
    ]
    result.stdout.fnmatch_lines(["asyncio: mode=Mode.STRICT*"])


def test_scopes_given_with_o_count_as_set(pytester: pytest.Pytester) -> None:
    result = run(pytester, "", "-o", "asyncio_default_fixture_loop_scope=function")

    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*asyncio_default_test_loop_scope=function (set by aksara*"])


def test_anyio_auto_mode_keeps_pytest_asyncio_strict(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        '[tool.aksara]\n\n[tool.pytest.ini_options]\nanyio_mode = "auto"\n'
        'filterwarnings = ["error"]\n'
    )
    pytester.makepyfile("async def test_runs_on_anyio():\n    pass\n")

    result = pytester.runpytest("-p", "no:randomly")

    result.assert_outcomes(passed=1)
    assert aksara_lines(result) == [
        "aksara: loop scopes session (set by aksara; the project left them unset); "
        "asyncio_mode left strict: anyio_mode = auto runs the async tests"
    ]
