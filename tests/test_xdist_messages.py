"""``-n 2`` in a configured project: one message per test from each worker, same results.

Real pytest-xdist runs through pytester (the workers are real processes). The
project's conftest counts the messages that reach the controller from the
workers, and can switch the grouping off (``PLAIN_MESSAGES``): a run with it
and a run without must report the same outcomes, output and junitxml.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import Project

# The controller's view: every message a worker sends, before we take any apart.
COUNTING_CONFTEST = """
import os

import pytest

MESSAGES = []


@pytest.hookimpl(trylast=True)  # after aksara's: wrap what it wrapped
def pytest_configure_node(node):
    if os.environ.get("PLAIN_MESSAGES"):
        node.workerinput.pop("aksara_one_message_per_test", None)
    receive = node.process_from_remote

    def counted(eventcall):
        MESSAGES.append(eventcall)
        receive(eventcall)

    node.process_from_remote = counted


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"messages from workers: {len(MESSAGES)}")
"""

MIXED_OUTCOMES = """
import enum
import warnings

import pytest
from sqlalchemy import select

from models import Author


@pytest.fixture
def broken_setup():
    raise RuntimeError("setup broke")


@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown broke")


@pytest.mark.parametrize("n", range(6))
async def test_writes_its_row(db_session, n):
    db_session.add(Author(name=f"author {n}"))
    await db_session.commit()
    print(f"wrote author {n}")
    assert (await db_session.scalars(select(Author.name))).all() == [f"author {n}"]


async def test_fails(db_session):
    assert await db_session.scalar(select(Author.name)) == "nobody"


def test_skips():
    pytest.skip("not today")


@pytest.mark.xfail(reason="known bug")
def test_xfails():
    assert False


def test_errors_in_setup(broken_setup):
    pass


def test_errors_in_teardown(broken_teardown):
    pass


def test_warns():
    warnings.warn(UserWarning("careful with that"))


def test_records_properties(record_property):
    record_property("sizes", (1, 2.5, None, True, b"raw", frozenset({3})))
"""

TESTS = 14  # in MIXED_OUTCOMES


def messages(result: pytest.RunResult) -> int:
    match = re.search(r"messages from workers: (\d+)", result.stdout.str())
    assert match, result.stdout.str()
    return int(match.group(1))


def cases(report: Path) -> dict[str, str]:
    """junitxml, as ``{test name: its outcome elements, messages and properties}``."""
    found = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        parts = [
            f"{child.tag}:{child.get('message', '')}:{child.get('name', '')}"
            f":{child.get('value', '')}"
            for child in case.iter()
            if child is not case and child.tag not in ("system-out", "system-err")
        ]
        found[case.get("name", "")] = " ".join(sorted(parts))
    return found


def summary(result: pytest.RunResult) -> list[str]:
    """The short summary's lines, sorted (workers finish tests in any order)."""
    text = result.stdout.str()
    return sorted(text[text.index("short test summary info") :].splitlines()[1:-1])


@pytest.fixture
def counted(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(COUNTING_CONFTEST)
    pytester.makepyfile(test_mixed=MIXED_OUTCOMES)
    return pytester


def test_each_test_reaches_the_controller_in_one_message_with_the_same_results(
    project: Project, counted: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    grouped = project.run("-n", "2", "-rA", "--junitxml=grouped.xml")
    monkeypatch.setenv("PLAIN_MESSAGES", "1")
    plain = project.run("-n", "2", "-rA", "--junitxml=plain.xml")

    for result in (grouped, plain):
        result.assert_outcomes(passed=9, failed=1, skipped=1, xfailed=1, errors=2, warnings=1)
        out = result.stdout.str()
        assert "careful with that" in out
        assert "wrote author 3" in out  # -rA shows a passing test's captured output
        assert "setup broke" in out and "teardown broke" in out
    assert cases(counted.path / "grouped.xml") == cases(counted.path / "plain.xml")
    sizes = next(ET.parse(counted.path / "grouped.xml").getroot().iter("property"))
    assert sizes.get("value") == "(1, 2.5, None, True, b'raw', frozenset({3}))"
    assert summary(grouped) == summary(plain)
    # xdist sends six messages per test (start, three reports, finish, done); grouped: one.
    assert messages(plain) >= 6 * TESTS
    assert messages(grouped) < 2 * TESTS


def test_verbose_output_lists_every_test_with_its_outcome(
    sqlite_project: Project, counted: pytest.Pytester
) -> None:
    result = sqlite_project.run("-n", "2", "-v")
    lines = result.stdout.str().splitlines()
    for name, outcome in [
        ("test_writes_its_row[0]", "PASSED"),
        ("test_writes_its_row[5]", "PASSED"),
        ("test_fails", "FAILED"),
        ("test_skips", "SKIPPED"),
        ("test_xfails", "XFAIL"),
        ("test_errors_in_setup", "ERROR"),
        ("test_errors_in_teardown", "ERROR"),
    ]:
        assert any(outcome in line and f"::{name}" in line for line in lines), (name, lines)
    assert messages(result) < 2 * TESTS


def test_a_worker_that_dies_mid_test_is_reported_and_replaced(
    sqlite_project: Project, counted: pytest.Pytester
) -> None:
    counted.makepyfile(
        test_dies="""
        import os


        async def test_ends_its_process(db_session):
            os._exit(3)
        """
    )
    result = sqlite_project.run("-n", "2", "test_dies.py", "test_mixed.py")
    result.assert_outcomes(passed=9, failed=2, skipped=1, xfailed=1, errors=2, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*replacing crashed worker gw*",
            "*worker 'gw?' crashed while running 'test_dies.py::test_ends_its_process'*",
        ]
    )


def test_dash_x_stops_at_the_first_failure_as_without_aksara(
    sqlite_project: Project, counted: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted.makepyfile(
        test_many="""
        import pytest


        def test_fails_first():
            assert False


        @pytest.mark.parametrize("n", range(200))
        def test_later(n):
            pass
        """
    )
    grouped = sqlite_project.run("-n", "2", "-x", "test_many.py")
    monkeypatch.setenv("PLAIN_MESSAGES", "1")
    plain = sqlite_project.run("-n", "2", "-x", "test_many.py")
    assert grouped.ret == plain.ret == pytest.ExitCode.INTERRUPTED
    for result in (grouped, plain):
        outcomes = result.parseoutcomes()
        assert outcomes["failed"] == 1
        assert outcomes.get("passed", 0) < 200
        result.stdout.fnmatch_lines(["*stopping after 1 failures*"])


def test_a_value_no_worker_can_send_ends_the_run_as_without_aksara(
    sqlite_project: Project, counted: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted.makepyfile(
        test_enum="""
        import enum


        class Color(enum.IntEnum):
            RED = 1


        def test_records_an_enum(record_property):
            record_property("color", Color.RED)
        """
    )
    args = ("-p", "no:randomly", "-n", "2", "test_enum.py")
    grouped = counted.runpytest_subprocess(*args)
    monkeypatch.setenv("PLAIN_MESSAGES", "1")
    plain = counted.runpytest_subprocess(*args)
    # pytest-xdist 3.8 ends such a run with exit 0 and "no tests ran"; the same either way.
    assert grouped.ret == plain.ret
    for result in (grouped, plain):
        assert "can't serialize" in result.stdout.str() + result.stderr.str()


def test_a_project_without_aksara_settings_keeps_xdists_messages(
    pytester: pytest.Pytester, counted: pytest.Pytester
) -> None:
    counted.makepyfile(
        test_plain="""
        import pytest


        @pytest.mark.parametrize("n", range(10))
        def test_nothing(n):
            pass
        """
    )
    counted.makeini("[pytest]\nasyncio_mode = strict\n")
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly", "test_plain.py")
    result.assert_outcomes(passed=10)
    assert messages(result) >= 6 * 10
