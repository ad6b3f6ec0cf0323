"""The minimum-versions run installs exactly the floors that pyproject.toml declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / ".ci" / "minimum.txt"


def declared_floors() -> dict[str, Version]:
    """Each runtime dependency (the postgres extra's included) and its ``>=`` floor."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors: dict[str, Version] = {}
    for line in [*project["dependencies"], *project["optional-dependencies"]["postgres"]]:
        requirement = Requirement(line)
        lower = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        assert len(lower) == 1, f"{line!r} in pyproject.toml needs one >= floor"
        floors[canonicalize_name(requirement.name)] = Version(lower[0])
    return floors


def pinned_versions() -> dict[str, Version]:
    """The ``name==version`` lines of the constraints file the minimum run installs with."""
    pins: dict[str, Version] = {}
    for line in PINS.read_text().splitlines():
        text = line.partition("#")[0].strip()
        if text:
            requirement = Requirement(text)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"{line!r} in {PINS.name} is not an exact pin"
            pins[canonicalize_name(requirement.name)] = Version(spec.version)
    return pins


def test_every_declared_floor_is_pinned_to_exactly_that_version() -> None:
    floors, pins = declared_floors(), pinned_versions()

    assert {name: pins.get(name) for name in floors} == floors


def test_the_documented_floors_are_the_declared_ones() -> None:
    text = (ROOT / "docs" / "index.md").read_text()
    rows = re.findall(r"^\| ([a-z-]+)[^|]* \| ([\d.]+) \|$", text, flags=re.MULTILINE)
    documented = {canonicalize_name(name): Version(floor) for name, floor in rows}

    assert documented == declared_floors()
