"""Where ``aksara init`` puts conftest.py: pytest's ``testpaths``, from the file pytest reads."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from textwrap import dedent

import pytest

from aksara_cli._testpaths import read_layout


def folder(root: Path, files: Mapping[str, str], dirs: tuple[str, ...] = ()) -> str:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text).lstrip())
    for name in dirs:
        (root / name).mkdir(parents=True, exist_ok=True)
    return read_layout(root).folder


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pyproject.toml", '[tool.pytest.ini_options]\ntestpaths = ["app/tests"]\n'),
        ("pyproject.toml", '[tool.pytest]\ntestpaths = ["app/tests"]\n'),
        ("pytest.ini", "[pytest]\ntestpaths = app/tests\n"),
        ("pytest.toml", '[pytest]\ntestpaths = ["app/tests"]\n'),
        ("tox.ini", "[tox]\nenvlist = py311\n\n[pytest]\ntestpaths =\n    app/tests\n"),
        ("setup.cfg", "[metadata]\nname = x\n\n[tool:pytest]\ntestpaths = app/tests\n"),
    ],
    ids=["pyproject-ini-options", "pyproject-native", "pytest.ini", "pytest.toml", "tox", "setup"],
)
def test_testpaths_is_read_from_each_file_pytest_reads(
    tmp_path: Path, name: str, text: str
) -> None:
    assert folder(tmp_path, {name: text}, dirs=("app/tests", "tests")) == "app/tests"


def test_the_first_file_with_a_pytest_section_wins_even_without_testpaths(tmp_path: Path) -> None:
    files = {
        "pytest.ini": "[pytest]\naddopts = -q\n",
        "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["app/tests"]\n',
    }

    assert folder(tmp_path, files, dirs=("app/tests", "tests")) == "tests"


def test_a_file_without_a_pytest_section_is_passed_over(tmp_path: Path) -> None:
    files = {
        "tox.ini": "[tox]\nenvlist = py311\n",
        "setup.cfg": "[tool:pytest]\ntestpaths = src/app/tests\n",
        "pyproject.toml": "[project]\nname = 'x'\n",
    }

    assert folder(tmp_path, files, dirs=("src/app/tests",)) == "src/app/tests"


def test_several_testpaths_share_their_common_folder(tmp_path: Path) -> None:
    pyproject = '[tool.pytest.ini_options]\ntestpaths = ["tests/unit", "tests/integration"]\n'
    dirs = ("tests/unit", "tests/integration")

    assert folder(tmp_path, {"pyproject.toml": pyproject}, dirs) == "tests"


def test_testpaths_in_two_packages_get_the_projects_own_conftest(tmp_path: Path) -> None:
    pyproject = '[tool.pytest.ini_options]\ntestpaths = ["shop/tests", "billing/tests"]\n'
    dirs = ("shop/tests", "billing/tests")

    layout_folder = folder(tmp_path, {"pyproject.toml": pyproject}, dirs)

    assert layout_folder == "."


def test_globs_and_a_folder_still_to_create(tmp_path: Path) -> None:
    globbed = '[tool.pytest.ini_options]\ntestpaths = ["src/*/tests"]\n'
    assert folder(tmp_path / "a", {"pyproject.toml": globbed}, ("src/shop/tests",)) == (
        "src/shop/tests"
    )
    missing = '[tool.pytest.ini_options]\ntestpaths = ["app/tests"]\n'
    assert folder(tmp_path / "b", {"pyproject.toml": missing}) == "app/tests"


def test_without_testpaths_the_test_folder_is_found(tmp_path: Path) -> None:
    assert folder(tmp_path / "a", {}, dirs=("test",)) == "test"
    assert folder(tmp_path / "b", {}, dirs=("app/tests", ".venv/lib/tests")) == "app/tests"
    assert folder(tmp_path / "c", {}) == "tests"


def test_an_unreadable_config_file_leaves_the_default(tmp_path: Path) -> None:
    assert folder(tmp_path, {"pyproject.toml": "[tool.pytest.ini_options\n"}) == "tests"
