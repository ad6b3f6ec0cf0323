"""Reliability of parallel runs: consecutive ``aksara test -n 2`` runs, counting failures.

    python benchmarks/parallel_reliability.py [--runs 20] [--backend sqlite|postgres|all]
        [--write]

A generated project (40 tests: plain tests that write and count, a
module-scoped fixture with data, factories, and two ``transactional`` tests
that commit for real) is run ``--runs`` times in a row per backend with
``-n 2``, the backends alternating. A run counts as failed when it does not
exit 0 with every test passed, or when it leaves a database behind (on
PostgreSQL any ``test_<name>...`` database in ``pg_database``; on SQLite any
``.db`` file in the runs' temporary directory) — the create/clone/drop races
issue 9 asks about would show up as one or the other. Failures are listed
with their exit code and first error line.

``--write`` replaces the section between ``<!-- parallel-reliability:start -->``
and ``<!-- parallel-reliability:end -->`` in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from textwrap import dedent

from _results import machine_line, replace_section  # benchmarks/ is on sys.path

START_MARKER = "<!-- parallel-reliability:start -->"
END_MARKER = "<!-- parallel-reliability:end -->"
AKSARA = str(Path(sys.executable).with_name("aksara"))
POSTGRES_VAR = "AKSARA_TEST_POSTGRES_URL"
TESTS = 40
FAILURE_LINES = ("E ", "FAILED", "ERROR", "INTERNALERROR", "timed out")

MODELS = """
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))
    author: Mapped[Author] = relationship()
"""

TEST_PLAIN = """
import pytest
from sqlalchemy import func, select

from models import Author


@pytest.mark.parametrize("i", range(16))
async def test_writes_and_counts(db_session, i):
    db_session.add_all([Author(name=f"{i}-{k}") for k in range(i % 4 + 1)])
    await db_session.commit()
    assert await db_session.scalar(select(func.count()).select_from(Author)) == i % 4 + 1
"""

TEST_SCOPED = """
import pytest
from sqlalchemy import func, select

from models import Author


@pytest.fixture(scope="module")
async def module_author(db_session):
    db_session.add(Author(name="module"))
    await db_session.commit()


@pytest.mark.parametrize("i", range(12))
async def test_sees_the_module_row(module_author, db_session, i):
    assert await db_session.scalar(select(func.count()).select_from(Author)) == 1
"""

TEST_FACTORIES = """
import pytest
from sqlalchemy import func, select

from aksara_testing import Factory, Faker
from models import Author, Book


class AuthorFactory(Factory):
    class Meta:
        model = Author

    name = Faker("name")


class BookFactory(Factory):
    class Meta:
        model = Book

    title = Faker("sentence")
    author = Factory.SubFactory(AuthorFactory)


@pytest.mark.parametrize("i", range(10))
async def test_a_batch(db_session, i):
    await BookFactory.create_batch(5)
    assert await db_session.scalar(select(func.count()).select_from(Book)) == 5
"""

TEST_TRANSACTIONAL = """
import pytest

from models import Author


@pytest.mark.transactional
@pytest.mark.parametrize("i", range(2))
async def test_commits_for_real(db_session, i):
    db_session.add(Author(name=f"real {i}"))
    await db_session.commit()
"""


def database_url(backend: str, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{name}.db"
    return os.environ[POSTGRES_VAR].rsplit("/", 1)[0] + f"/{name}"


def write_project(root: Path, backend: str) -> tuple[Path, str]:
    """The project and its test database's name (``test_<name>``)."""
    name = f"rel_{backend[:2]}_{os.getpid()}"
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f'[tool.aksara]\ndatabase_url = "{database_url(backend, name)}"\nmodels = "models:Base"\n'
    )
    files = {
        "models.py": MODELS,
        "test_plain.py": TEST_PLAIN,
        "test_scoped.py": TEST_SCOPED,
        "test_factories.py": TEST_FACTORIES,
        "test_transactional.py": TEST_TRANSACTIONAL,
    }
    for filename, text in files.items():
        (root / filename).write_text(dedent(text).lstrip())
    return root, f"test_{name}"


@dataclass
class Tally:
    backend: str
    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def leftovers(backend: str, temp: Path, test_name: str) -> list[str]:
    if backend == "sqlite":
        return sorted(p.name for p in temp.rglob("*.db"))

    async def names() -> list[str]:
        import asyncpg

        connection = await asyncpg.connect(os.environ[POSTGRES_VAR])
        try:
            rows = await connection.fetch(
                "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", test_name
            )
        finally:
            await connection.close()
        return sorted(str(row["datname"]) for row in rows)

    found = asyncio.run(names())
    return [n for n in found if n == test_name or n.startswith(test_name + "_")]


def run_once(project: Path, test_name: str, tally: Tally, number: int) -> None:
    temp = project.parent / f"{project.name}-tmp"
    temp.mkdir(exist_ok=True)
    env = {
        name: value
        for name, value in os.environ.items()
        if name != "CI" and not name.startswith(("AKSARA_", "PYTEST_", "COV_CORE_"))
    }
    env |= {"PYTEST_ADDOPTS": "-p no:randomly -p no:cacheprovider -p no:faker", "TMPDIR": str(temp)}
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [AKSARA, "test", "-q", "-n", "2"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        code, output = -1, "timed out after 300 s"
    tally.seconds.append(time.perf_counter() - start)
    problems = []
    if code != 0 or f"{TESTS} passed" not in output:
        first = [line for line in output.splitlines() if line.startswith(FAILURE_LINES)]
        problems.append(f"exit {code}: {(first or output.splitlines()[-1:] or [''])[0][:200]}")
    left = leftovers(tally.backend, temp, test_name)
    if left:
        problems.append(f"left behind: {', '.join(left)}")
    if problems:
        tally.failures.append(f"run {number}: {'; '.join(problems)}")
        print(f"  {tally.backend} run {number}: FAILED {problems}", file=sys.stderr)


def section(tallies: Sequence[Tally], runs: int, backend: str) -> str:
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        START_MARKER,
        "## Reliability of parallel runs",
        "",
        f"`python benchmarks/parallel_reliability.py --runs {runs} --backend {backend}` on "
        f"{today}; {machine_line()}; load average at the end {load}.",
        "",
        f"{runs} consecutive `aksara test -q -n 2` runs per backend (backends alternating) of a "
        f"{TESTS}-test project: writes and counts, a module-scoped fixture with data, "
        "factories, two transactional tests. A run fails if it does not pass every test or "
        "leaves a database behind.",
        "",
        "| backend | runs | failed | median run (s) |",
        "|---|---:|---:|---:|",
    ]
    for t in tallies:
        median = sorted(t.seconds)[len(t.seconds) // 2]
        lines.append(f"| {t.backend} | {len(t.seconds)} | {len(t.failures)} | {median:.1f} |")
    failures = [f"- {t.backend} {failure}" for t in tallies for failure in t.failures]
    if failures:
        lines += ["", "Failures:", "", *failures]
    lines.append(END_MARKER)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per backend (default 20)")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="all")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    options = parser.parse_args(argv)
    backends = ["sqlite", "postgres"] if options.backend == "all" else [options.backend]
    if "postgres" in backends and not os.environ.get(POSTGRES_VAR):
        if options.backend == "postgres":
            parser.error(f"{POSTGRES_VAR} is not set")
        print(f"{POSTGRES_VAR} is not set: SQLite only", file=sys.stderr)
        backends = ["sqlite"]

    with tempfile.TemporaryDirectory(prefix="aksara-reliability-") as tmp:
        projects = {b: write_project(Path(tmp) / b, b) for b in backends}
        tallies = {b: Tally(b) for b in backends}
        for number in range(1, options.runs + 1):
            for backend in backends:
                project, test_name = projects[backend]
                run_once(project, test_name, tallies[backend], number)
            print(f"  run {number}/{options.runs}", file=sys.stderr)

    text = section(list(tallies.values()), options.runs, options.backend)
    print(text)
    if options.write:
        replace_section(text, START_MARKER, END_MARKER)
        print("wrote benchmarks/RESULTS.md", file=sys.stderr)
    return 1 if any(t.failures for t in tallies.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
