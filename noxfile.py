"""Developer sessions: ``nox -s tests lint types``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "types"]
nox.options.default_venv_backend = "venv"


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole suite (PostgreSQL tests run when AKSARA_TEST_POSTGRES_URL is set)."""
    session.install("-e", ".[dev,postgres]")
    session.run("aksara", "test", *session.posargs)


@nox.session(python="3.11")
def postgres(session: nox.Session) -> None:
    """Only the PostgreSQL tests; needs AKSARA_TEST_POSTGRES_URL."""
    session.install("-e", ".[dev,postgres]")
    session.run("aksara", "test", "-m", "postgres", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", "aksara_cli", "aksara_testing")


@nox.session(python="3.11")
def types(session: nox.Session) -> None:
    session.install("-e", ".[dev,postgres]")
    session.run("mypy")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Benchmarks; results go to benchmarks/RESULTS.md."""
    session.install("-e", ".[dev,postgres]", "pytest-django", "django", "psycopg[binary]")
    session.run("python", "benchmarks/run.py", "--write", *session.posargs)
