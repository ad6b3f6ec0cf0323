"""Developer sessions: ``nox -s tests lint types`` (the default), ``postgres``, ``minimum``,
``newest``, ``docs``, ``bench`` and ``build``."""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "types"]
nox.options.default_venv_backend = "venv"

POSTGRES_URL_VAR = "AKSARA_TEST_POSTGRES_URL"
# Every runtime dependency pinned to its declared floor (tests/test_dependency_floors.py).
MINIMUM_PINS = ".ci/minimum.txt"
# The README's test command, run by .ci/run as well.
README_TEST = ("aksara", "test", "-n", "auto")


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole suite (PostgreSQL tests run when AKSARA_TEST_POSTGRES_URL is set)."""
    session.install("-e", ".[dev,postgres]")
    session.run("aksara", "test", *session.posargs)


@nox.session(python="3.11")
def postgres(session: nox.Session) -> None:
    """Only the PostgreSQL tests; needs AKSARA_TEST_POSTGRES_URL."""
    if not os.environ.get(POSTGRES_URL_VAR):
        session.error(
            f"{POSTGRES_URL_VAR} is not set; point it at a server, e.g. "
            f"{POSTGRES_URL_VAR}=postgresql://aksara:aksara@127.0.0.1:5432/postgres"
        )
    session.install("-e", ".[dev,postgres]")
    session.run("aksara", "test", "-m", "postgres", *session.posargs)


@nox.session(python="3.11")
def minimum(session: nox.Session) -> None:
    """The suite at the declared floors: each runtime dependency at its lowest allowed version."""
    session.install("-c", MINIMUM_PINS, "-e", ".[dev,postgres]")
    session.run(*README_TEST, *session.posargs)


@nox.session(python="3.11")
def newest(session: nox.Session) -> None:
    """The suite on the newest release of every dependency, even in a reused environment."""
    session.install("--upgrade", "--upgrade-strategy", "eager", "-e", ".[dev,postgres]")
    session.run(*README_TEST, *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting (Python files; docs code blocks are checked by their tests)."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", "--extend-exclude", "*.md", ".")


@nox.session(python="3.11")
def types(session: nox.Session) -> None:
    """mypy, strict, on both packages."""
    session.install("-e", ".[dev,postgres]")
    session.run("mypy")


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """The documentation site, built strictly (skipped until mkdocs.yml exists)."""
    if not Path("mkdocs.yml").is_file():
        session.skip("no mkdocs.yml yet: the docs are plain Markdown under docs/")
    session.install("-e", ".[dev]", "mkdocs-material", "mkdocstrings[python]")
    session.run("mkdocs", "build", "--strict")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Benchmarks; results go to benchmarks/RESULTS.md."""
    session.install("-e", ".[dev,postgres,bench]")
    session.run("python", "benchmarks/run.py", "--write", *session.posargs)


@nox.session(python="3.11")
def build(session: nox.Session) -> None:
    """The sdist and wheel in dist/, checked by twine and tools/check_dist.py."""
    session.install("build", "twine")
    shutil.rmtree("dist", ignore_errors=True)
    session.run("python", "-m", "build")
    session.run("twine", "check", "--strict", *sorted(glob.glob("dist/*")))
    session.run("python", "tools/check_dist.py", "dist")
