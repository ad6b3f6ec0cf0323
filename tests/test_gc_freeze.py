"""A configured run keeps start-up objects out of the garbage collector's way, then thaws them."""

from __future__ import annotations

import gc
import re
import sys
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


def test_a_configured_run_freezes_start_up_during_the_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aksara]\n")
    pytester.makepyfile(FREEZE_COUNT_TESTS)

    result = pytester.runpytest_subprocess("-p", "no:randomly", "-s")

    result.assert_outcomes(passed=2)
    assert freeze_count_seen(result) > 10_000  # the modules, classes and items of start-up


def test_a_run_inside_another_run_does_not_freeze(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aksara]\n")
    pytester.makepyfile(FREEZE_COUNT_TESTS)

    result = pytester.runpytest("-p", "no:randomly", "-s")  # in this test's process

    result.assert_outcomes(passed=2)
    # Frozen, its start-up would meet the outer run's collector late, in the middle of
    # whatever the outer run does next.
    assert freeze_count_seen(result) == 0
    assert gc.get_freeze_count() == 0


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


def test_a_run_in_its_own_process_keeps_the_freeze_to_exit(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aksara]\n")
    pytester.makeconftest(
        """
        import atexit
        import gc

        atexit.register(lambda: print("at exit, frozen:", gc.get_freeze_count()))
        """
    )
    pytester.makepyfile("def test_ok(): pass")

    result = pytester.runpytest_subprocess("-p", "no:randomly")

    result.assert_outcomes(passed=1)
    [line] = [line for line in result.outlines if line.startswith("at exit, frozen:")]
    assert int(line.split(":")[1]) > 10_000  # the exit's collections skip start-up


SECOND_RUN = """
import builtins
import gc

import pytest

args = ["-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
assert pytest.main(args) == 0
gc.collect()
print("after the first run, frozen:", gc.get_freeze_count() > 0)
first_runs = builtins.PROBE  # the second run makes its own
print("start-up cycle alive:", first_runs() is not None)
assert pytest.main(args) == 0
print("after the second, the first run's start-up cycle alive:", first_runs() is not None)
"""

START_UP_CYCLE = """
import builtins
import weakref


class Node:
    pass


node = Node()
node.me = node  # a reference cycle: only a collection frees it
builtins.PROBE = weakref.ref(node)
HOLD = [node]
del node
"""


def test_a_second_run_in_one_process_frees_the_first_runs_garbage(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyprojecttoml("[tool.aksara]\n")
    pytester.makeconftest(START_UP_CYCLE)
    pytester.makepyfile(
        test_drop="def test_drop():\n    import conftest\n    conftest.HOLD.clear()\n"
    )
    script = pytester.makepyfile(twice=SECOND_RUN)

    result = pytester.run(sys.executable, str(script))

    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    seen = [line for line in result.outlines if ":" in line and not line.startswith(".")]
    assert seen == [
        "after the first run, frozen: True",
        "start-up cycle alive: True",  # garbage since the test, but frozen with start-up
        "after the second, the first run's start-up cycle alive: False",
    ]


FILE_IN_A_CYCLE = """
class Holder:
    pass


HOLDER = Holder()
HOLDER.me = HOLDER  # only a collection would free it, and flush its file
HOLDER.file = open("left_open.txt", "w")
"""


def test_files_left_open_in_frozen_cycles_are_flushed_at_exit(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aksara]\n")
    pytester.makeconftest(FILE_IN_A_CYCLE)
    pytester.makepyfile(
        "from conftest import HOLDER\n\ndef test_write():\n    HOLDER.file.write('written')\n"
    )

    result = pytester.runpytest_subprocess("-p", "no:randomly")

    result.assert_outcomes(passed=1)
    assert (pytester.path / "left_open.txt").read_text() == "written"
