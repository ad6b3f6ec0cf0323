"""A configured run keeps start-up objects out of the garbage collector's way, then thaws them."""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator

import pytest

FREEZE_COUNT_TESTS = """
    import gc

    def test_first():
        print("freeze count:", gc.get_freeze_count())

    def test_second():
        pass
"""


SEEN = re.compile(r"freeze count: (\d+)")


@pytest.fixture(autouse=True)
def nothing_frozen() -> Iterator[None]:
    """Each test starts and ends with nothing frozen in this process."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def freeze_count_seen(result: pytest.RunResult) -> int:
    [count] = [int(found[1]) for line in result.outlines if (found := SEEN.search(line))]
    return count


def test_a_configured_run_freezes_start_up_during_the_tests_and_thaws_after(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyprojecttoml("[tool.aksara]\n")
    pytester.makepyfile(FREEZE_COUNT_TESTS)

    result = pytester.runpytest("-p", "no:randomly", "-s")

    result.assert_outcomes(passed=2)
    assert freeze_count_seen(result) > 10_000  # the modules, classes and items of start-up
    assert gc.get_freeze_count() == 0  # the in-process run handed them back


def test_a_project_without_aksara_settings_is_not_frozen(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(FREEZE_COUNT_TESTS)

    # In a fresh interpreter: pytest-asyncio's own warning about its unset fixture loop
    # scope would otherwise land in this run's warnings.
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-s")

    result.assert_outcomes(passed=2)
    assert freeze_count_seen(result) == 0


def test_a_project_that_froze_itself_keeps_its_own_freeze(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aksara]\n")
    pytester.makeconftest("import gc\n\ngc.freeze()\nFROZEN = gc.get_freeze_count()\n")
    pytester.makepyfile(
        """
        import gc

        from conftest import FROZEN

        def test_nothing_added():
            # Frozen objects freed since leave the count; a freeze of ours would add thousands.
            assert gc.get_freeze_count() <= FROZEN
        """
    )

    result = pytester.runpytest("-p", "no:randomly")

    result.assert_outcomes(passed=1)
    assert gc.get_freeze_count() > 0  # the project's freeze, left as it was


def test_a_run_that_collects_nothing_freezes_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aksara]\n")
    pytester.makepyfile("def helper(): pass")
    seen: list[int] = []

    class Watch:
        def pytest_sessionfinish(self) -> None:
            seen.append(gc.get_freeze_count())

    result = pytester.runpytest("-p", "no:randomly", plugins=[Watch()])

    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert seen == [0]
