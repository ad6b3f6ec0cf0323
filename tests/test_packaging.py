"""The release artefacts: the wheel and sdist that ``nox -s build`` makes, checked the same way."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from aksara_testing import __version__

ROOT = Path(__file__).resolve().parents[1]
CHECK_DIST = ROOT / "tools" / "check_dist.py"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and wheel built from this checkout's tracked files, as a clean clone has them.

    Built from a copy: other tests write into tests/ and examples/ while this runs.
    No network either: the dev extra has hatchling, so no isolated build environment.
    """
    source = tmp_path_factory.mktemp("source")
    for name in tracked_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


# Never part of a release: virtualenvs, caches and build output.
_NOT_SOURCE = frozenset(
    {".git", ".venv", ".nox", "__pycache__", ".mypy_cache", ".ruff_cache", "dist", "build", "site"}
)


def tracked_files() -> list[str]:
    """Git's tracked files; outside a checkout (an unpacked sdist), the source tree itself."""
    if not (ROOT / ".git").exists():
        return [
            str(path.relative_to(ROOT))
            for path in sorted(ROOT.rglob("*"))
            if path.is_file()
            and _NOT_SOURCE.isdisjoint(path.relative_to(ROOT).parts)
            and not path.name.endswith(".egg-info")
        ]
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def check_dist(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK_DIST), str(folder)], capture_output=True, text=True, timeout=60
    )


def test_the_wheel_is_typed_versioned_and_holds_no_tests(dist: Path) -> None:
    [wheel] = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()

    assert wheel.name == f"aksara_testing-{__version__}-py3-none-any.whl"
    assert "aksara_testing/py.typed" in names
    assert {name.split("/")[0] for name in names} == {
        "aksara_cli",
        "aksara_testing",
        f"aksara_testing-{__version__}.dist-info",
    }
    assert check_dist(dist).returncode == 0, check_dist(dist).stdout


def test_the_release_check_rejects_a_wheel_with_tests_and_without_py_typed(
    dist: Path, tmp_path: Path
) -> None:
    [wheel] = dist.glob("*.whl")
    shutil.copy(next(dist.glob("*.tar.gz")), tmp_path)
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(tmp_path / wheel.name, "w") as bad:
        for item in source.infolist():
            if item.filename != "aksara_testing/py.typed":
                bad.writestr(item, source.read(item))
        bad.writestr("tests/test_x.py", "def test(): pass\n")

    done = check_dist(tmp_path)

    assert done.returncode == 1
    assert "check_dist: wheel lacks aksara_testing/py.typed" in done.stdout
    assert "check_dist: wheel holds tests/test_x.py, outside" in done.stdout
