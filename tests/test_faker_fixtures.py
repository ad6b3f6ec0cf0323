"""``aksara test`` replaces Faker's pytest plugin with a lazy copy: same ``faker`` fixture, no cost.

Faker's plugin imports Faker at every start; ``aksara test`` runs pytest with
``-p no:faker`` and ``aksara_testing._faker_fixtures`` instead. A project that
uses the ``faker`` fixture (with its own ``faker_seed``, ``faker_locale`` and
``faker_session_locale``) must get the same values as under Faker's plugin,
and plain ``pytest`` must not change at all.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app_process import clean_env

AKSARA = Path(sys.executable).with_name("aksara")

CONFTEST = """
import pytest


# One locale: with several, Faker < 40 picks the locale of each value from its module-level
# random (never seeded by seed_instance), so even two runs of its own plugin differ.
@pytest.fixture(scope="session", autouse=True)
def faker_session_locale():
    return ["it_IT"]
"""

TEST_SESSION = """
import sys


def test_plugin():
    print("PLUGIN", "faker.contrib.pytest.plugin" in sys.modules)


def test_default(faker):
    print("FAKE default", faker.locales, faker.name(), faker.random_int())


def test_unique_is_cleared(faker):
    print("FAKE unique", faker.unique.random_int(min=1, max=3))
    print("FAKE unique", faker.unique.random_int(min=1, max=3))


class TestSeeded:
    import pytest

    @pytest.fixture(autouse=True)
    def faker_seed(self):
        return 12345

    def test_seeded(self, faker):
        print("FAKE seeded", faker.name(), faker.email())
"""

# As Faker's documentation writes them: autouse, so ``faker`` sees them in fixturenames.
TEST_LOCALE = """
import pytest


@pytest.fixture(autouse=True)
def faker_locale():
    return ["ja_JP"]


@pytest.fixture(autouse=True)
def faker_seed():
    return 7


def test_locale(faker):
    print("FAKE locale", faker.locales, faker.name(), faker.address())
"""

NO_FAKER = """
import sys


def test_without_faker():
    print("IMPORTED", "faker" in sys.modules)
"""


def _project(root: Path) -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (root / "conftest.py").write_text(CONFTEST)
    (root / "test_session.py").write_text(TEST_SESSION)
    (root / "test_locale.py").write_text(TEST_LOCALE)
    return root


def _run(argv: list[str], cwd: Path) -> str:
    done = subprocess.run(
        argv, cwd=cwd, env=clean_env(PYTEST_ADDOPTS=""), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _lines(output: str, prefix: str) -> list[str]:
    """The printed lines that start with ``prefix`` (after any progress dots of ``-q``)."""
    return [line[line.index(prefix) :] for line in output.splitlines() if prefix in line]


QUIET = ["-s", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]


def test_the_faker_fixture_gives_what_fakers_own_plugin_gives(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")

    plain = _run([sys.executable, "-m", "pytest", *QUIET], project)
    ours = _run([str(AKSARA), "test", *QUIET], project)

    assert _lines(plain, "PLUGIN") == ["PLUGIN True"]  # plain pytest: Faker's plugin
    assert _lines(ours, "PLUGIN") == ["PLUGIN False"]  # aksara test: ours instead
    fakes = _lines(plain, "FAKE")
    assert len(fakes) == 5
    assert "ja_JP" in next(line for line in fakes if line.startswith("FAKE locale"))
    assert "it_IT" in next(line for line in fakes if line.startswith("FAKE default"))
    assert _lines(ours, "FAKE") == fakes


def test_aksara_test_imports_faker_only_for_a_test_that_uses_it(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_plain.py").write_text(NO_FAKER)

    assert _lines(_run([str(AKSARA), "test", *QUIET], project), "IMPORTED") == ["IMPORTED False"]
    plain = _run([sys.executable, "-m", "pytest", *QUIET], project)
    assert _lines(plain, "IMPORTED") == ["IMPORTED True"]  # Faker's plugin, as before


def test_plain_pytest_keeps_fakers_own_plugin(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")

    listing = _run([sys.executable, "-m", "pytest", "--fixtures", "-p", "no:randomly"], project)

    assert "fixtures defined from faker.contrib.pytest.plugin" in listing
    assert "_faker_fixtures" not in listing


def test_a_later_p_faker_brings_fakers_plugin_back(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")

    ours = _run([str(AKSARA), "test", *QUIET, "-p", "faker"], project)

    assert _lines(ours, "PLUGIN") == ["PLUGIN True"]
