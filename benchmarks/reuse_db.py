"""Test database set-up time: a fresh build vs ``--reuse-db`` with an unchanged schema.

    python benchmarks/reuse_db.py [--repeats N] [--backend sqlite|postgres|all] [--write]

A generated project with a 30-table schema (``models`` metadata, create_all)
and one test; its conftest imports SQLAlchemy, the driver and the models
(costs every database suite pays) and then times ``await setup_test_database()`` (creating
the database and its schema, or checking the kept one's fingerprint, and
opening the shared connection). Each repeat runs ``aksara test`` in a fresh
subprocess three ways: without ``--reuse-db`` (build, drop at the end), then
``--reuse-db`` twice (the first builds and keeps, the second is timed: it
reuses). Reported: medians of the timed set-ups; the issue's target is a
reused set-up of at most 0.1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_line, replace_section

TABLES = 30
START, END = "<!-- reuse-db:start -->", "<!-- reuse-db:end -->"

# Imports any database suite pays anyway (SQLAlchemy, the driver, the models) happen
# before the clock starts: what is timed is the test database's own set-up.
CONFTEST = """
import time
from pathlib import Path

import pytest
import sqlalchemy.ext.asyncio  # noqa: F401
import sqlalchemy.dialects.sqlite.aiosqlite  # noqa: F401

import models  # noqa: F401
from aksara_testing import setup_test_database

try:
    import sqlalchemy.dialects.postgresql.asyncpg  # noqa: F401
except ImportError:
    pass


@pytest.fixture(scope="session", autouse=True)
async def timed_setup():
    start = time.perf_counter()
    await setup_test_database()
    Path("setup_seconds.txt").write_text(str(time.perf_counter() - start))
"""


def models() -> str:
    lines = [
        "from sqlalchemy import ForeignKey, String",
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column",
        "",
        "class Base(DeclarativeBase):",
        "    pass",
    ]
    for n in range(TABLES):
        parent = f'\n    parent_id: Mapped[int | None] = mapped_column(ForeignKey("t{n - 1}.id"))'
        lines.append(
            f"\nclass T{n}(Base):\n    __tablename__ = 't{n}'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    name: Mapped[str] = mapped_column(String(50), index=True)\n"
            "    note: Mapped[str | None]" + (parent if n else "")
        )
    return "\n".join(lines) + "\n"


def project(folder: Path, database_url: str) -> None:
    (folder / "models.py").write_text(models())
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "test_one.py").write_text("def test_one(db_session):\n    assert db_session\n")
    (folder / "pyproject.toml").write_text(
        f'[tool.aksara]\ndatabase_url = "{database_url}"\nmodels = "models:Base"\n'
    )


def timed_run(folder: Path, *flags: str) -> float:
    aksara = Path(sys.executable).with_name("aksara")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKSARA_")}
    result = subprocess.run(
        [str(aksara), "test", "-q", *flags, "--", "-p", "no:randomly", "-p", "no:cacheprovider"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"run failed in {folder}:\n{result.stdout}\n{result.stderr}")
    return float((folder / "setup_seconds.txt").read_text())


def measure(backend: str, repeats: int) -> tuple[list[float], list[float]]:
    fresh: list[float] = []
    reused: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if backend == "sqlite":
            url = "sqlite:///bench_reuse.db"
        else:
            server = os.environ["AKSARA_TEST_POSTGRES_URL"]
            url = server.rsplit("/", 1)[0] + f"/bench_reuse_{os.getpid()}"
        project(folder, url)
        try:
            timed_run(folder)  # warm-up: bytecode caches
            for _ in range(repeats):
                fresh.append(timed_run(folder))
                timed_run(folder, "--reuse-db", "--create-db")
                reused.append(timed_run(folder, "--reuse-db"))
        finally:
            timed_run(folder)  # without --reuse-db: drops what the reuse runs kept
    return fresh, reused


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--write", action="store_true")
    options = parser.parse_args()
    backends = ["sqlite", "postgres"] if options.backend == "all" else [options.backend]
    if "postgres" in backends and not os.environ.get("AKSARA_TEST_POSTGRES_URL"):
        print("skipping postgres: AKSARA_TEST_POSTGRES_URL is not set")
        backends.remove("postgres")
    rows = []
    for backend in backends:
        fresh, reused = measure(backend, options.repeats)
        f, r = statistics.median(fresh), statistics.median(reused)
        verdict = "yes" if r <= 0.1 else "no"
        rows.append(
            f"| {backend} | {f * 1000:.0f} ms | {r * 1000:.0f} ms "
            f"({min(reused) * 1000:.0f}-{max(reused) * 1000:.0f}) | {f / r:.1f}x | "
            f"<= 100 ms | {verdict} |"
        )
        print(rows[-1], flush=True)
    text = "\n".join(
        [
            START,
            "## Test database set-up: fresh vs `--reuse-db`",
            "",
            f"`python benchmarks/reuse_db.py --repeats {options.repeats}`; {machine_line()}, "
            f"Python {sys.version.split()[0]}. {TABLES}-table schema (create_all), set-up "
            "timed around `await setup_test_database()` in a session fixture after SQLAlchemy, "
            "the driver and the models are imported; medians.",
            "",
            "| backend | fresh build | reused (min-max) | speed-up | target | met |",
            "|---|---|---|---|---|---|",
            *rows,
            END,
        ]
    )
    if options.write:
        replace_section(text, START, END)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
