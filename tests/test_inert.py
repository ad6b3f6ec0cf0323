"""A project that never asked for aksara runs as if the plugin were not installed."""

from __future__ import annotations

import re

import pytest

# Every suite records what the plugin could have changed: the loop each test and
# fixture ran on, markers, the AI-call safety net. Assertions make a change visible
# as an outcome; the output comparison catches the rest (header lines, warnings).
NO_SAFETY_NET = """
def test_http_pools_are_not_patched():
    import httpcore

    assert httpcore.ConnectionPool.handle_request.__module__.startswith("httpcore")
"""

STRICT_SUITE = (
    """
import asyncio

import pytest
import pytest_asyncio

LOOPS = []


@pytest_asyncio.fixture
async def fixture_loop():
    return asyncio.get_running_loop()


@pytest.mark.asyncio
async def test_fixture_and_test_share_a_loop(fixture_loop):
    LOOPS.append(asyncio.get_running_loop())
    assert fixture_loop is asyncio.get_running_loop()


@pytest.mark.asyncio
async def test_each_test_has_a_loop_of_its_own():
    assert LOOPS and LOOPS[0] is not asyncio.get_running_loop()


@pytest.mark.xfail(strict=True, reason="strict mode: nothing runs an unmarked coroutine")
async def test_unmarked_coroutine_is_not_run_in_strict_mode():
    pass


@pytest.mark.slow
def test_the_projects_own_slow_marker_does_not_skip():
    pass


@pytest.mark.ci_only
def test_a_ci_only_mark_is_just_a_mark():
    pass
"""
    + NO_SAFETY_NET
)

# The real project of FACTS.md: auto mode and a function fixture loop scope, no
# test loop scope. A future made by a fixture must be awaitable by the test.
AUTO_SUITE = (
    """
import asyncio

import pytest


@pytest.fixture
async def future():
    return asyncio.get_running_loop().create_future()


async def test_a_fixtures_future_can_be_awaited(future):
    asyncio.get_running_loop().call_soon(future.set_result, 1)
    assert await future == 1


@pytest.mark.slow
def test_the_projects_own_slow_marker_does_not_skip():
    pass
"""
    + NO_SAFETY_NET
)

# The other real project: nothing configured, anyio marks, plain async fixtures.
ANYIO_SUITE = (
    """
import asyncio

import pytest


@pytest.fixture
async def future():
    return asyncio.get_running_loop().create_future()


@pytest.mark.anyio
async def test_a_fixtures_future_can_be_awaited(future):
    asyncio.get_running_loop().call_soon(future.set_result, 1)
    assert await future == 1


@pytest.mark.anyio
async def test_runs_on_anyio(anyio_backend):
    import sniffio

    assert sniffio.current_async_library() == anyio_backend


@pytest.mark.slow
def test_the_projects_own_slow_marker_does_not_skip():
    pass
"""
    + NO_SAFETY_NET
)

# anyio's own auto mode: no marks at all. With pytest-asyncio's auto mode next to it
# anyio warns at configure time, and this project makes every warning an error.
ANYIO_AUTO_SUITE = (
    """
import asyncio

import pytest


@pytest.fixture
async def future():
    return asyncio.get_running_loop().create_future()


async def test_a_fixtures_future_can_be_awaited(future):
    asyncio.get_running_loop().call_soon(future.set_result, 1)
    assert await future == 1
"""
    + NO_SAFETY_NET
)

SUITES = {
    "strict": ('asyncio_default_fixture_loop_scope = "function"\n', STRICT_SUITE),
    "auto": (
        'asyncio_mode = "auto"\nasyncio_default_fixture_loop_scope = "function"\n',
        AUTO_SUITE,
    ),
    "anyio": ("", ANYIO_SUITE),
    "anyio-auto": (
        'anyio_mode = "auto"\nasyncio_default_fixture_loop_scope = "function"\n'
        'filterwarnings = ["error"]\n',
        ANYIO_AUTO_SUITE,
    ),
}

_TIMING = re.compile(r" in \d+\.\d+s")


def comparable(result: pytest.RunResult) -> list[str]:
    """The run's output without what differs between two identical runs."""
    return [
        _TIMING.sub(" in Ns", line) for line in result.outlines if not line.startswith("plugins:")
    ]


# Outcomes without the plugin, so that comparing two broken runs cannot pass. The
# anyio project sets nothing, so pytest-asyncio's own configure-time warning about
# its unset fixture loop scope stops the run under -W error, with or without us
# (from pytest 9.2 on: before, the warning is only shown).
CONFIGURE_WARNINGS_STOP = tuple(map(int, pytest.__version__.split(".")[:2])) >= (9, 2)
EXPECTED: dict[tuple[str, bool], dict[str, int] | None] = {
    ("strict", False): {"passed": 5, "xfailed": 1},
    ("strict", True): {"passed": 5, "xfailed": 1},
    ("auto", False): {"passed": 3},
    ("auto", True): {"passed": 3},
    ("anyio", False): {"passed": 4},
    ("anyio", True): None if CONFIGURE_WARNINGS_STOP else {"passed": 4},
    ("anyio-auto", False): {"passed": 2},
    ("anyio-auto", True): {"passed": 2},
}


@pytest.mark.parametrize("warnings_as_errors", [False, True], ids=["", "-W error"])
@pytest.mark.parametrize("suite", list(SUITES))
def test_a_project_without_settings_runs_as_without_the_plugin(
    pytester: pytest.Pytester, suite: str, warnings_as_errors: bool
) -> None:
    ini, tests = SUITES[suite]
    pytester.makepyprojecttoml(
        '[project]\nname = "plain"\nversion = "1"\n\n'
        "[tool.pytest.ini_options]\n"
        'markers = ["slow: the project\'s own slow tests", "ci_only: the project\'s own"]\n' + ini
    )
    pytester.makepyfile(test_suite=tests)
    args = ["-p", "no:randomly", "-p", "no:cacheprovider", "-rA"]
    args += ["-W", "error"] if warnings_as_errors else []

    # In fresh interpreters: the safety net, when installed, patches process-wide.
    without = pytester.runpytest_subprocess("-p", "no:aksara", *args)
    with_plugin = pytester.runpytest_subprocess(*args)

    expected = EXPECTED[suite, warnings_as_errors]
    if expected is None:
        assert without.ret == pytest.ExitCode.INTERNAL_ERROR
    else:
        assert without.parseoutcomes() == expected, without.outlines
        assert with_plugin.parseoutcomes() == expected, with_plugin.outlines
    assert comparable(with_plugin) == comparable(without)
    assert with_plugin.ret == without.ret


def test_the_plugin_loaded_by_name_with_warnings_as_errors_starts(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # -p with autoloading off is how a module imported by the plugin would meet pytest's
    # assertion rewriter late ("Module already imported so cannot be rewritten"). Our
    # plugin imports pytest-asyncio, so that one must come first.
    pytester.makepyfile("def test_ok(): pass")
    pytester.makepyprojecttoml(
        '[tool.aksara]\n\n[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n'
    )
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")

    result = pytester.runpytest_subprocess("-p", "pytest_asyncio.plugin", "-p", "aksara")

    result.assert_outcomes(passed=1)
    assert "Warning" not in result.stdout.str() + result.stderr.str()
