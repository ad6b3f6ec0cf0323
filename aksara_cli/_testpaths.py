"""Where a project's tests live: pytest's ``testpaths``, read as pytest reads it.

pytest takes its configuration from the first file in a folder that has a
pytest section, in this order: ``pytest.toml``, ``.pytest.toml``,
``pytest.ini``, ``.pytest.ini`` (these two count even without a section),
``pyproject.toml`` (``[tool.pytest]`` or ``[tool.pytest.ini_options]``),
``tox.ini`` (``[pytest]``) and ``setup.cfg`` (``[tool:pytest]``). Only that
file's ``testpaths`` counts, even when a later one sets it too.
"""

from __future__ import annotations

import configparser
import glob
import os
import shlex
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._scan_source import folders_to_walk

__all__ = ["TestLayout", "read_layout"]

_Section = dict[str, Any] | None
_NOT_SOURCE = frozenset({"node_modules", "build", "dist", "site-packages", "__pycache__"})


@dataclass(frozen=True)
class TestLayout:
    """The folder for ``conftest.py``, and why it was chosen."""

    __test__ = False  # not a pytest test class

    folder: str  # relative to the project, "." for the project itself
    reason: str


def read_layout(root: Path) -> TestLayout:
    """Where ``aksara init`` puts ``conftest.py`` in the project at ``root``."""
    found = _pytest_config(root)
    if found is not None:
        name, section = found
        paths = _testpaths(section.get("testpaths"))
        if paths:
            return _from_testpaths(root, paths, f"testpaths in {name}")
    top = [f for f in ("tests", "test") if (root / f).is_dir()]
    folders = top[:1] or _test_folders(root)
    if not folders:
        return TestLayout("tests", "no testpaths set, no test folder yet")
    reason = f"no testpaths set; tests in {', '.join(folders)}"
    return TestLayout(_common(folders), reason)


def _from_testpaths(root: Path, paths: list[str], origin: str) -> TestLayout:
    folders = sorted({_folder_of(root, match) for path in paths for match in _matches(root, path)})
    if not folders:
        plain = [p for p in paths if not glob.has_magic(p)]
        if len(plain) != 1:  # nothing there yet, and no single folder to create
            return TestLayout("tests", f"{origin} names no existing folder")
        folders = [Path(plain[0]).as_posix().strip("/") or "."]
    return TestLayout(_common(folders), f"{origin}: {', '.join(paths)}")


def _common(folders: list[str]) -> str:
    """The folder whose conftest.py applies to all of ``folders``."""
    return Path(os.path.commonpath(folders)).as_posix() if len(folders) > 1 else folders[0]


def _test_folders(root: Path) -> list[str]:
    """The outermost folders named ``tests`` or ``test`` (virtualenvs and dot folders skipped)."""
    found = []
    for folder, dirs, _files in os.walk(root):
        here = Path(folder)
        if here != root and here.name in ("tests", "test"):
            found.append(here.relative_to(root).as_posix())
            dirs[:] = []
            continue
        dirs[:] = folders_to_walk(here, dirs, _NOT_SOURCE)
    return sorted(found)


def _matches(root: Path, path: str) -> list[str]:
    return sorted(glob.glob(path, root_dir=root, recursive=True))


def _folder_of(root: Path, match: str) -> str:
    path = root / match
    relative = (path if path.is_dir() else path.parent).relative_to(root)
    return relative.as_posix() or "."


def _testpaths(value: object) -> list[str]:
    if isinstance(value, str):
        return shlex.split(value)
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


# -- pytest's config file ------------------------------------------------------------


def _pytest_config(root: Path) -> tuple[str, dict[str, Any]] | None:
    """The name and pytest section of the file pytest would use in ``root``."""
    for name, load in _LOADERS:
        path = root / name
        if not path.is_file():
            continue
        try:
            section = load(path)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, configparser.Error):
            continue  # pytest will say what is wrong with it; init keeps its default
        if section is not None:
            return name, section
    return None


def _toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _pytest_toml(path: Path) -> _Section:
    section = _toml(path).get("pytest")
    return section if isinstance(section, dict) else {}


def _pyproject(path: Path) -> _Section:
    tool = _toml(path).get("tool")
    pytest_table = tool.get("pytest") if isinstance(tool, dict) else None
    if not isinstance(pytest_table, dict):
        return None
    native = {k: v for k, v in pytest_table.items() if k != "ini_options"}
    ini_options = pytest_table.get("ini_options")
    if native:
        return native
    return ini_options if isinstance(ini_options, dict) else None


def _ini(section: str, always: bool = False) -> Callable[[Path], _Section]:
    def load(path: Path) -> _Section:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read_string(path.read_text(encoding="utf-8"))
        if parser.has_section(section):
            return dict(parser.items(section))
        return {} if always else None

    return load


_LOADERS: tuple[tuple[str, Callable[[Path], _Section]], ...] = (
    ("pytest.toml", _pytest_toml),
    (".pytest.toml", _pytest_toml),
    ("pytest.ini", _ini("pytest", always=True)),
    (".pytest.ini", _ini("pytest", always=True)),
    ("pyproject.toml", _pyproject),
    ("tox.ini", _ini("pytest")),
    ("setup.cfg", _ini("tool:pytest")),
)
