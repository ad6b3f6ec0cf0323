"""Peak memory of a large run: ``aksara test`` against plain pytest + pytest-asyncio.

    python benchmarks/memory.py [--backend sqlite|postgres|all] [--repeats 3]
        [--tests 10000] [--small 1000] [--trace] [--write]

What it measures (issue 18, item 7)
-----------------------------------
Peak resident memory (RSS) of the process that runs the tests, for a suite of
``--tests`` tests (default 10,000) in modules of 100: half database tests
(add one row, ``commit``, count the rows, assert 1) and half plain async tests
(``await asyncio.sleep(0)``, an assert), under

(a) ``aksara test``: our plugin's ``db_session`` fixture, configured from
    ``[tool.aksara]`` (``database_url``, ``models``), no conftest;
(b) ``python -m pytest -p no:aksara`` + pytest-asyncio (``asyncio_mode =
    "auto"``, session-scoped loop) + the usual hand-written savepoint fixture
    (``benchmarks/isolation/templates/savepoint_fixture/conftest.py``: a
    session engine that runs ``create_all``, a connection + outer transaction
    + ``AsyncSession(join_transaction_mode="create_savepoint")`` per test).

Both run the same test modules with ``-q -p no:cacheprovider`` and block the
plugins a user of aksara does not have (``benchmarks/_plugins.py``:
pytest-django, pytest-randomly... of the dev extra); the others load in both
(Faker's, pytest-xdist, pytest-split...). Target: (a) <= 1.2x (b).

Method
------
Each run is a fresh wrapper process (``python -c``) that starts the runner as
its child, waits for it and prints ``getrusage(RUSAGE_CHILDREN).ru_maxrss``:
the peak RSS of the largest process it waited for (the test process; ``aksara
test`` runs pytest in its own process). Every run must report all its tests
passed. To see how memory grows with the suite, each variant also runs a
``--small`` suite (default 1,000 tests, same mix): (peak at N - peak at
small) / (N - small) is what one more test keeps, in KB/test, so a per-test
leak shows up there. One untimed warm-up pass (bytecode caches under
``PYTHONPYCACHEPREFIX`` in the temporary directory, first database creation),
then ``--repeats`` rounds in which every (backend, variant, size) job runs
once, in an order rotated every round. Reported: medians over the rounds, and
the ratio as the median of the per-round ratios (a)/(b).

``--trace`` adds two runs of ``aksara test`` on SQLite, of ``--small`` and
2 x ``--small`` tests, under ``tracemalloc`` (4 frames; started at
``pytest_configure``, snapshot after ``gc.collect()`` at
``pytest_unconfigure``, so it holds what is still allocated at the end) and
compares the snapshots: what one more test keeps, in all and in allocations
with a frame in ``aksara_testing`` (ours), with our largest ones listed.
Tracing slows a run about fivefold and costs memory of its own, so these
runs are not part of the RSS rows.

Databases: SQLite files in the temporary projects. PostgreSQL (when
``AKSARA_TEST_POSTGRES_URL`` is set): the baseline uses
``test_bench_memory_baseline``, created before and dropped after the run; our
plugin derives ``test_bench_memory_aksara`` from ``database_url`` and creates
and drops it itself. No other database is touched.

``--write`` replaces the section between ``<!-- memory:start -->`` and
``<!-- memory:end -->`` in ``benchmarks/RESULTS.md`` and nothing else.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from _plugins import foreign_plugins  # benchmarks/ is on sys.path
from _results import RESULTS_FILE, machine_line, replace_section

HERE = Path(__file__).resolve().parent
START_MARKER = "<!-- memory:start -->"
END_MARKER = "<!-- memory:end -->"
POSTGRES_ENV = "AKSARA_TEST_POSTGRES_URL"
PLUGIN_DB = "bench_memory_aksara"  # the plugin derives test_bench_memory_aksara
BASELINE_DB = "test_bench_memory_baseline"
DB_NAME_RE = re.compile(r"^test_bench_memory_[a-z0-9_]+$")
AKSARA = str(Path(sys.executable).with_name("aksara"))
COMMON_ARGS = (
    "-q",
    *(
        arg
        for name in sorted({"cacheprovider", *foreign_plugins()})
        for arg in ("-p", f"no:{name}")
    ),
)
PER_MODULE = 100
TARGET = 1.2
RUN_TIMEOUT_S = 1800
TIMES = "\u00d7"
ENV_TO_DROP = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONDONTWRITEBYTECODE", "CI")
VARIANTS = ("aksara", "baseline")
LABELS = {
    "aksara": "`aksara test` (`db_session` from the plugin)",
    "baseline": "`pytest -p no:aksara` + pytest-asyncio + savepoint fixture",
}

MODELS = '''
"""The one-table schema every database test writes to."""

from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
'''

MODULE_HEAD = '''
"""Half database tests (add, commit, count), half plain async tests."""

import asyncio

from models import Item
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
'''

DB_TEST = """

async def test_db_{i}(db_session: AsyncSession) -> None:
    db_session.add(Item(name="item {i}"))
    await db_session.commit()
    assert await db_session.scalar(select(func.count()).select_from(Item)) == 1
"""

PLAIN_TEST = """

async def test_plain_{i}() -> None:
    await asyncio.sleep(0)
    assert {i} + 1 == {j}
"""

BASELINE_PYPROJECT = """[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "session"
asyncio_default_test_loop_scope = "session"
"""

WRAPPER = """
import resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - start
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode, wall)
sys.stdout.write(done.stdout[-3000:])
sys.stdout.write(done.stderr[-3000:])
"""

TRACE_PLUGIN = '''
"""Loaded with -p benchtrace: a tracemalloc snapshot of what is still allocated at the end."""

import gc
import os
import tracemalloc


def pytest_configure(config):
    tracemalloc.start(4)


def pytest_unconfigure(config):
    gc.collect()
    tracemalloc.take_snapshot().dump(os.environ["BENCH_TRACE_OUT"])
    tracemalloc.stop()
'''


def savepoint_conftest(database_url: str) -> str:
    template = HERE / "isolation" / "templates" / "savepoint_fixture" / "conftest.py"
    return template.read_text().replace("@DATABASE_URL@", database_url)


@dataclass
class Job:
    backend: str
    variant: str
    tests: int
    root: Path

    @property
    def name(self) -> str:
        return f"{self.backend}/{self.variant}/{self.tests}"


def clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ENV_TO_DROP and not k.startswith(("AKSARA_", "PYTEST_", "COV_CORE_"))
    }


def write_project(root: Path, variant: str, tests: int, database_url: str) -> None:
    """``tests`` tests in modules of PER_MODULE, half database tests, half plain."""
    root.mkdir(parents=True)
    (root / "models.py").write_text(MODELS.lstrip())
    (root / "benchtrace.py").write_text(TRACE_PLUGIN.lstrip())
    if variant == "aksara":
        (root / "pyproject.toml").write_text(
            f'[tool.aksara]\ndatabase_url = "{database_url}"\nmodels = "models:Base"\n'
        )
    else:
        (root / "pyproject.toml").write_text(BASELINE_PYPROJECT)
        (root / "conftest.py").write_text(savepoint_conftest(database_url))
    for module, first in enumerate(range(0, tests, PER_MODULE)):
        body = [MODULE_HEAD.lstrip()]
        for i in range(first, min(first + PER_MODULE, tests)):
            body.append((DB_TEST if i % 2 == 0 else PLAIN_TEST).format(i=i, j=i + 1))
        (root / f"test_m{module:03d}.py").write_text("".join(body))


def argv(job: Job, trace: bool = False) -> list[str]:
    extra = ["-p", "benchtrace"] if trace else []
    if job.variant == "aksara":
        return [AKSARA, "test", *COMMON_ARGS, *extra]
    return [sys.executable, "-m", "pytest", *COMMON_ARGS, "-p", "no:aksara", *extra]


def run_job(job: Job, env: dict[str, str], trace_out: Path | None = None) -> dict[str, Any]:
    run_env = {**env, "PYTHONPATH": str(job.root)}
    if trace_out is not None:
        run_env["BENCH_TRACE_OUT"] = str(trace_out)
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *argv(job, trace=trace_out is not None)],
        cwd=job.root,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    first, _, output = done.stdout.partition("\n")
    try:
        peak_kb, returncode, wall = first.split()
    except ValueError:
        sys.exit(f"{job.name}: wrapper failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    if int(returncode) != 0 or f"{job.tests} passed" not in output:
        sys.exit(f"{job.name} failed (exit {returncode}):\n{output}")
    return {"job": job.name, "peak_kb": int(peak_kb), "wall": float(wall)}


# --------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------


def check_name(name: str) -> str:
    if not DB_NAME_RE.match(name):
        raise SystemExit(f"refusing to touch database {name!r}: not test_bench_memory_*")
    return name


def pg_admin(server_url: str, sql: str) -> Any:
    """Run ``sql`` on the server's admin database (autocommit); the first value, if any."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    with psycopg.connect(
        host=url.host or "localhost",
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database or "postgres",
        autocommit=True,
    ) as connection:
        cursor = connection.execute(sql)
        row = cursor.fetchone() if cursor.description else None
        return row[0] if row else None


def pg_url(server_url: str, database: str, driver: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(server_url).set(drivername=driver, database=database)
    return url.render_as_string(hide_password=False)


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def pkg(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def source_revision() -> str:
    try:

        def git(*args: str) -> str:
            return subprocess.run(
                ["git", *args], cwd=HERE, capture_output=True, text=True, check=True
            ).stdout.strip()

        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "aksara_testing")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" + uncommitted changes in aksara_testing/" if dirty else "")


def mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB"


def peaks(records: list[dict[str, Any]], name: str) -> dict[int, int]:
    return {r["round"]: r["peak_kb"] for r in records if r["job"] == name}


def section(
    records: list[dict[str, Any]],
    traces: list[str],
    backends: Sequence[str],
    options: argparse.Namespace,
    pg_version: str | None,
) -> str:
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    command = f"python benchmarks/memory.py --backend {options.backend} --repeats {options.repeats}"
    if options.tests != 10000:
        command += f" --tests {options.tests}"
    if options.small != 1000:
        command += f" --small {options.small}"
    if options.trace:
        command += " --trace"
    versions = ", ".join(
        f"{name} {pkg(name)}"
        for name in ("pytest", "pytest-asyncio", "sqlalchemy", "aiosqlite", "asyncpg")
    )
    machine = f"{machine_line()}, Python {platform.python_version()}, {versions}"
    if pg_version:
        machine += f", PostgreSQL {pg_version}"
    big, small = options.tests, options.small
    lines = [
        START_MARKER,
        "## Memory",
        "",
        f"`{command}` on {today}; {machine}; aksara-testing {pkg('aksara-testing')}, source "
        f"{source_revision()}; load average at the end {load}.",
        "",
        f"Peak RSS of the test process for a suite of {big:,} tests in modules of "
        f"{PER_MODULE} (half database tests: add a row, `commit`, count; half plain async "
        "tests), each run a fresh process whose peak is read by its parent wrapper "
        "(`getrusage(RUSAGE_CHILDREN).ru_maxrss`); every run must pass all its tests. "
        f"{options.repeats} rounds after a warm-up, the jobs' order rotated each round; "
        "medians over rounds; ratio = median of per-round ratios (aksara / baseline: below 1 "
        "means aksara uses less). Both run `-q -p no:cacheprovider` and block the plugins a "
        f"user of aksara does not have ({', '.join(f'`{n}`' for n in foreign_plugins())}); "
        "the other installed plugins load in both (Faker's, pytest-xdist, "
        f"pytest-split...). Growth = (peak at {big:,} - peak at {small:,}) / "
        f"{big - small:,}: what one more test keeps. See the module docstring of "
        "`benchmarks/memory.py`.",
        "",
        "| backend | tests | aksara test | baseline | ratio (per-round) | target | met |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    growth_lines = []
    for backend in backends:
        for size in (small, big):
            ours = peaks(records, f"{backend}/aksara/{size}")
            theirs = peaks(records, f"{backend}/baseline/{size}")
            per_round = sorted(ours[k] / theirs[k] for k in ours if k in theirs)
            r = statistics.median(per_round)
            spread = ", ".join(f"{x:.2f}" for x in per_round)
            target = f"≤ {TARGET}{TIMES}" if size == big else "—"
            met = ("yes" if r <= TARGET else "no") if size == big else "—"
            lines.append(
                f"| {backend} | {size:,} | {mb(statistics.median(ours.values()))} "
                f"| {mb(statistics.median(theirs.values()))} | {r:.2f}{TIMES} ({spread}) "
                f"| {target} | {met} |"
            )
        cells = []
        for variant in VARIANTS:
            at_big = statistics.median(peaks(records, f"{backend}/{variant}/{big}").values())
            at_small = statistics.median(peaks(records, f"{backend}/{variant}/{small}").values())
            walls = [r["wall"] for r in records if r["job"] == f"{backend}/{variant}/{big}"]
            cells.append(
                f"{variant} {(at_big - at_small) / (big - small):.2f} KB/test "
                f"(run of {big:,} tests: {statistics.median(walls):.0f} s)"
            )
        growth_lines.append(f"- {backend}: " + "; ".join(cells))
    lines += ["", "Growth per test (medians):", "", *growth_lines]
    if traces:
        lines += [
            "",
            f"`--trace`: `aksara test` on SQLite with {small:,} and {2 * small:,} tests under "
            "`tracemalloc` (4 frames, snapshot after `gc.collect()` at `pytest_unconfigure`), "
            f"the snapshots compared, per extra test: {traces[0]}",
            "",
            *(f"- {line.strip()}" for line in traces[1:]),
        ]
    lines.append(END_MARKER)
    return "\n".join(lines)


def compare_traces(small: Path, big: Path, tests: int) -> list[str]:
    """What one more test keeps: all of it, and what has a frame in aksara_testing."""
    import tracemalloc

    before, after = tracemalloc.Snapshot.load(str(small)), tracemalloc.Snapshot.load(str(big))
    diff = after.compare_to(before, "traceback")
    ours = [d for d in diff if any("/aksara_testing/" in f.filename for f in d.traceback)]
    total = sum(d.size_diff for d in diff)
    own = sum(d.size_diff for d in ours)
    lines = [
        f"all allocations {total / 1024 / tests:.2f} KB/test; with a frame in `aksara_testing` "
        f"{own / 1024 / tests:.2f} KB/test. Ours, largest first (bytes/test, blocks/test, "
        "the innermost of our frames):"
    ]
    for d in sorted(ours, key=lambda d: -d.size_diff)[:5]:
        if d.size_diff < tests:  # under a byte per test
            break
        # tracemalloc lists frames oldest first: the last of ours, then where it was allocated
        frame = [f for f in d.traceback if "/aksara_testing/" in f.filename][-1]
        where = re.sub(r"^.*/aksara_testing/", "aksara_testing/", frame.filename)
        inner = re.sub(r"^.*/(site-packages|lib/python3\.\d+)/", "", d.traceback[-1].filename)
        inner = re.sub(r"^.*/(?=aksara_testing/)", "", inner)
        lines.append(
            f"  `{where}:{frame.lineno}` (allocated in `{inner}:{d.traceback[-1].lineno}`) "
            f"{d.size_diff / tests:.0f} B, {d.count_diff / tests:.2f}"
        )
    return lines


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def main(argv_: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="all")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--tests", type=int, default=10000, help="suite size (default 10000)")
    parser.add_argument("--small", type=int, default=1000, help="small suite (default 1000)")
    parser.add_argument("--trace", action="store_true", help="add a tracemalloc run per variant")
    parser.add_argument("--json", type=Path, default=None, help="also save the raw records here")
    parser.add_argument(
        "--write", action="store_true", help=f"update the memory section of {RESULTS_FILE.name}"
    )
    options = parser.parse_args(argv_)
    if options.repeats < 1 or not 0 < options.small < options.tests:
        parser.error("need --repeats >= 1 and 0 < --small < --tests")
    backends = ["sqlite", "postgres"] if options.backend == "all" else [options.backend]
    server = os.environ.get(POSTGRES_ENV)
    if "postgres" in backends and not server:
        if options.backend == "postgres":
            sys.exit(f"PostgreSQL needs {POSTGRES_ENV}")
        print(f"{POSTGRES_ENV} is not set: PostgreSQL skipped", file=sys.stderr)
        backends.remove("postgres")
    root = Path(tempfile.mkdtemp(prefix="aksara-memory-"))
    env = {**clean_env(), "PYTHONPYCACHEPREFIX": str(root / "pycache")}
    pg_version = None
    records: list[dict[str, Any]] = []
    traces: list[str] = []
    try:
        jobs: list[Job] = []
        for backend in backends:
            for variant in VARIANTS:
                for size in (options.small, options.tests):
                    project = root / backend / variant / str(size)
                    if backend == "sqlite":
                        url = "sqlite:///app.db" if variant == "aksara" else (
                            f"sqlite+aiosqlite:///{project / 'baseline.db'}"
                        )  # fmt: skip
                    else:
                        assert server is not None
                        url = (
                            pg_url(server, PLUGIN_DB, "postgresql")
                            if variant == "aksara"
                            else pg_url(server, check_name(BASELINE_DB), "postgresql+asyncpg")
                        )
                    write_project(project, variant, size, url)
                    jobs.append(Job(backend, variant, size, project))
        if "postgres" in backends:
            assert server is not None
            check_name(f"test_{PLUGIN_DB}")
            pg_admin(server, f'DROP DATABASE IF EXISTS "{check_name(BASELINE_DB)}" WITH (FORCE)')
            pg_admin(server, f'CREATE DATABASE "{BASELINE_DB}"')
            pg_version = pg_admin(server, "SHOW server_version")
        for job in jobs:
            print(f"warm-up: {job.name}", file=sys.stderr, flush=True)
            run_job(job, env)
        for round_ in range(1, options.repeats + 1):
            step = (round_ - 1) * len(jobs) // options.repeats
            for job in jobs[step:] + jobs[:step]:
                record = {**run_job(job, env), "round": round_}
                print(f"round {round_}: {json.dumps(record)}", file=sys.stderr, flush=True)
                records.append(record)
        if options.trace:
            snapshots = []
            for size in (options.small, 2 * options.small):
                job = Job("sqlite", "aksara", size, root / "trace" / str(size))
                write_project(job.root, "aksara", size, "sqlite:///app.db")
                print(f"trace: {job.name}", file=sys.stderr, flush=True)
                snapshots.append(root / f"trace-{size}.snapshot")
                run_job(job, env, trace_out=snapshots[-1])
            traces = compare_traces(*snapshots, options.small)
    finally:
        if server and "postgres" in backends:
            pg_admin(server, f'DROP DATABASE IF EXISTS "{check_name(BASELINE_DB)}" WITH (FORCE)')
        shutil.rmtree(root, ignore_errors=True)
    if options.json:
        options.json.write_text("".join(json.dumps(r) + "\n" for r in records))
    text = section(records, traces, backends, options, pg_version)
    print(text)
    if options.write:
        replace_section(text, START_MARKER, END_MARKER)
        print(f"wrote {RESULTS_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
