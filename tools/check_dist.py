"""Check built distributions before a release: ``python tools/check_dist.py dist``.

The wheel must carry ``py.typed``, both packages and their entry points, and
nothing else (no tests, examples or benchmarks); its version must be the one
in ``aksara_testing/_version.py`` and have an entry in ``CHANGELOG.md``.
Prints one line per problem and exits 1 if there is any.
"""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("aksara_cli", "aksara_testing")
REQUIRED_IN_WHEEL = (
    "aksara_testing/py.typed",
    "aksara_testing/plugin.py",
    "aksara_cli/__init__.py",
)
REQUIRED_IN_SDIST = ("pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", "tests/conftest.py")
ENTRY_POINTS = (
    "[console_scripts]\naksara = aksara_cli:main",
    "[pytest11]\naksara = aksara_testing.plugin",
)


def source_version() -> str:
    text = (ROOT / "aksara_testing" / "_version.py").read_text()
    match = re.search(r'__version__ = "([^"]+)"', text)
    assert match, "aksara_testing/_version.py has no __version__"
    return match.group(1)


def wheel_problems(path: Path, version: str) -> list[str]:
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(wheel.read(f"{info}/METADATA").decode())
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    problems = [f"wheel lacks {name}" for name in REQUIRED_IN_WHEEL if name not in names]
    for name in names:
        top = name.split("/")[0]
        if top not in PACKAGES and top != info:
            problems.append(f"wheel holds {name}, outside {' and '.join(PACKAGES)}")
        elif re.search(r"(^|/)(tests?/|test_[^/]*\.py$|conftest\.py$)", name):
            problems.append(f"wheel holds a test file: {name}")
    if metadata["Version"] != version:
        problems.append(f"wheel version {metadata['Version']} is not _version.py's {version}")
    for field in ("Project-URL", "Classifier", "Requires-Python", "License-Expression"):
        if not metadata.get_all(field):
            problems.append(f"wheel metadata has no {field}")
    problems += [f"wheel lacks entry point {e!r}" for e in ENTRY_POINTS if e not in entry_points]
    return problems


def sdist_problems(path: Path) -> list[str]:
    with tarfile.open(path) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    return [f"sdist lacks {name}" for name in REQUIRED_IN_SDIST if name not in names]


def changelog_problems(version: str) -> list[str]:
    text = (ROOT / "CHANGELOG.md").read_text()
    if not re.search(rf"^## {re.escape(version)}\b", text, re.MULTILINE):
        return [f"CHANGELOG.md has no '## {version}' section"]
    return []


def problems(dist: Path) -> list[str]:
    version = source_version()
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        return [f"{dist} must hold one wheel and one sdist, not {len(wheels)} and {len(sdists)}"]
    return (
        wheel_problems(wheels[0], version) + sdist_problems(sdists[0]) + changelog_problems(version)
    )


def main(argv: list[str]) -> int:
    dist = Path(argv[0]) if argv else ROOT / "dist"
    found = problems(dist)
    for problem in found:
        print(f"check_dist: {problem}")
    if not found:
        print(f"check_dist: {', '.join(p.name for p in sorted(dist.iterdir()))} look right")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
