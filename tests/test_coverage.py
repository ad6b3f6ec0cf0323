"""``aksara test --cov``: coverage reports really produced, through the installed command."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from textwrap import dedent

import pytest

AKSARA = Path(sys.executable).with_name("aksara")

# Half of ``pkg`` runs under the test: 6 statements, 3 missed (lines 6-8).
PACKAGE = """
    def used(x: int) -> int:
        return x + 1


    def unused(x: int) -> int:
        if x:
            return x - 1
        return 0
"""
TESTS = """
    from pkg import used


    def test_used():
        assert used(1) == 2
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A tiny package, half covered by its one test."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text(dedent(PACKAGE).lstrip())
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_pkg.py").write_text(dedent(TESTS).lstrip())
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    return tmp_path


def aksara_test(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name != "CI" and not name.startswith(("AKSARA_", "PYTEST_", "COV_CORE_"))
    }
    env["PYTEST_ADDOPTS"] = "-p no:randomly -p no:cacheprovider -p no:faker"
    return subprocess.run(
        [str(AKSARA), "test", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_html_report_writes_htmlcov_index(project: Path) -> None:
    done = aksara_test(project, "--cov=pkg", "--cov-report=html")

    assert done.returncode == 0, done.stdout + done.stderr
    index = project / "htmlcov" / "index.html"
    assert index.is_file()
    page = index.read_text()
    assert "__init__.py</a>" in page
    assert '<span class="pc_cov">50%</span>' in page


def test_an_empty_cov_report_writes_the_data_and_no_report(project: Path) -> None:
    done = aksara_test(project, "--cov=pkg", "--cov-report=")

    assert done.returncode == 0, done.stdout + done.stderr
    assert (project / ".coverage").is_file()
    assert "coverage: platform" not in done.stdout and "TOTAL" not in done.stdout
    assert "1 passed" in done.stdout


def test_term_missing_report_prints_the_missing_lines(project: Path) -> None:
    done = aksara_test(project, "--cov=pkg", "--cov-report=term-missing")

    assert done.returncode == 0, done.stdout + done.stderr
    header = next(line for line in done.stdout.splitlines() if line.startswith("Name "))
    assert header.split() == ["Name", "Stmts", "Miss", "Cover", "Missing"]
    row = next(line for line in done.stdout.splitlines() if line.startswith("pkg/__init__.py"))
    assert row.split() == ["pkg/__init__.py", "6", "3", "50%", "6-8"]


def test_xml_report_is_written_to_the_given_destination(project: Path) -> None:
    done = aksara_test(project, "--cov=pkg", "--cov-report=xml:cov.xml")

    assert done.returncode == 0, done.stdout + done.stderr
    root = ET.parse(project / "cov.xml").getroot()
    assert root.tag == "coverage"
    assert float(root.attrib["line-rate"]) == pytest.approx(0.5)
    assert not (project / "coverage.xml").exists()


def test_several_reports_are_produced_in_one_run(project: Path) -> None:
    done = aksara_test(
        project,
        "--cov=pkg",
        "--cov-report=html:report",
        "--cov-report=xml:cov.xml",
        "--cov-report=term",
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert (project / "report" / "index.html").is_file()
    assert (project / "cov.xml").is_file()
    assert any(line.startswith("TOTAL ") for line in done.stdout.splitlines())


def test_cov_fail_under_fails_the_run_as_pytest_cov_does(project: Path) -> None:
    done = aksara_test(project, "--cov=pkg", "--cov-report=term", "--cov-fail-under=100")

    assert done.returncode == 1
    assert "1 passed" in done.stdout
    assert "Required test coverage of 100% not reached. Total coverage: 50.00%" in done.stdout


def test_cov_fail_under_passes_when_coverage_is_enough(project: Path) -> None:
    done = aksara_test(project, "--cov=pkg", "--cov-fail-under=50")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Required test coverage of 50% reached" in done.stdout
