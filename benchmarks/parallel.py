"""Parallel runs and CI sharding: what workers and shards buy, measured on this machine.

    python benchmarks/parallel.py [--backend sqlite|postgres|all] [--repeats 5]
        [--tests 2000] [--only clones] [--write]

``--only clones`` runs the worker-database measurement (2.) alone and writes
only its part of the section.

Three measurements per backend (PostgreSQL needs ``AKSARA_TEST_POSTGRES_URL``):

1. **Suite time, ``-n 0`` vs ``-n 2``.** A generated suite of ``--tests``
   database tests (20 modules; each test adds 1, 6, 11 or 16 rows depending
   on its module, commits, counts them; everything rolled back by the
   plugin) run as whole ``aksara test -q`` subprocesses, wall clock, one
   warm-up round, then ``--repeats`` rounds with the two variants' order
   alternating. Ratio = median of the per-round ratios T(-n 0) / T(-n 2).
   Every run must report all tests passed. Target (issue 18): our speed-up at
   least 0.9x plain pytest-xdist's own (the no-database baseline) in the same
   run. Its floor is measured too: plain xdist on tests that cost as much CPU
   at ``-n 0`` as ours (the spin cut to match), and on tests doing fixed work
   (not a spin) as costly as ours. Every run carries a stamping
   plugin that gives the CPU per test inside the test loop: ``-n 0``'s, a
   ``-n 2`` worker's and the controller's, so the per-test cost xdist adds is
   seen apart from the fixed costs. The per-worker fixed cost is measured
   directly as well: the small suite at ``-n 2`` with a stamping plugin, each
   worker's CPU seconds before its first test (start-up, collection, database
   set-up), against plain xdist's and the hand-written fixture's.
2. **Worker databases ready, clones vs migrating each.** Through
   the plugin's own functions: N = 1, 2, 4, 8 workers' databases made the way
   ``-n N`` makes them: N workers started together (PostgreSQL: each a spawned
   process, as xdist's workers are, its imports done before the clock starts;
   SQLite, whose baseline is a migrate in this process: threads of it;
   ``--workers-as threads`` runs them, and the floor below, as threads of this
   process instead), each taking its run lock first, as a worker does, then calling
   ``build_worker_database``: one of them migrates the template while the
   others wait, then all clone it at once (PostgreSQL) or in turn under the
   workers' file lock (SQLite), and the last one drops the template; timed
   until the last worker has its database. Against N databases each created
   and migrated from scratch (what a runner that re-migrates every worker
   does; one after the other). The schema is a
   30-revision Alembic chain, one table per revision (not ``create_all``),
   run by the async ``env.py`` template. Everything is dropped (untimed)
   before each measurement. PostgreSQL's floor is measured in the same rounds,
   side by side with ours, each first in turn: the server work our workers
   must do (the template created, migrated and commented, the wait for the
   migrate's server process to leave it, then N bare ``CREATE DATABASE ...
   TEMPLATE`` at once), on connections opened beforehand, in a spawned process
   of its own as ours are (its migrate as cold as our builder's). Targets (issue
   18): PostgreSQL within 1.25x that floor; SQLite within 1.5x one migrate.
3. **Shard balance, ``--splits 4``.** Durations of the suite from item 1 are
   stored with ``--store-durations`` (one run without workers); then each of
   the 4 groups runs with both of pytest-split's algorithms. Reported:
   pytest-split's estimated duration per group (from the stored durations)
   and the measured time of the group's tests (pytest's "in X s", which also
   holds the group's database set-up), and the largest group against the
   mean. Target: the largest shard within 10 % of the mean.

Targets are reported, never asserted. ``--write`` replaces the section
between ``<!-- parallel:start -->`` and ``<!-- parallel:end -->`` in
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import version
from pathlib import Path
from textwrap import dedent
from typing import Any, TypeVar

from _plugins import foreign_plugins  # benchmarks/ is on sys.path
from _results import machine_line, replace_section

HERE = Path(__file__).resolve().parent
START_MARKER = "<!-- parallel:start -->"
END_MARKER = "<!-- parallel:end -->"
CLONES_START = "<!-- parallel-clones:start -->"  # the worker-database part, inside
CLONES_END = "<!-- parallel-clones:end -->"
AKSARA = str(Path(sys.executable).with_name("aksara"))
# Faker's plugin and the cache stay out of every run; so do the plugins a user of aksara
# does not have (pytest-django's autouse fixtures alone cost ~0.2 ms a test here).
QUIET_PLUGINS = " ".join(
    f"-p no:{name}" for name in sorted({"cacheprovider", "faker", *foreign_plugins()})
)
POSTGRES_VAR = "AKSARA_TEST_POSTGRES_URL"
MODULES = 20
WORKER_COUNTS = (1, 2, 4, 8)
TABLES = 30
TIMES = "\u00d7"
# PostgreSQL 15 refuses DROP DATABASE ... WITH (FORCE) to a non-superuser while an
# autovacuum worker is connected to the database (the plugin's drop, at the end of a run or
# before a clone): seen here, reported, and the measurement redone and listed.
AUTOVACUUM_REFUSAL = "must be a member of the role whose process is being terminated"
REDONE: list[str] = []  # what had to be measured again because of it
T = TypeVar("T")

MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
"""

TEST_MODULE = """
import pytest
from sqlalchemy import func, select

from models import Item

ROWS = {rows}


@pytest.mark.parametrize("i", range({count}))
async def test_rows(db_session, i):
    db_session.add_all([Item(name=f"{{i}}-{{k}}") for k in range(ROWS)])
    await db_session.commit()
    assert await db_session.scalar(select(func.count()).select_from(Item)) == ROWS
"""

ENV_PY = """
import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import async_engine_from_config

config = context.config


def do_run_migrations(connection):
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations():
    connectable = async_engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    async with connectable.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await connectable.dispose()


asyncio.run(run_async_migrations())
"""

REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "{revision:04d}"
down_revision = {down}
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "table_{revision:02d}",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("amount", sa.Numeric(10, 2)),
        sa.Column("created", sa.DateTime),
        sa.Column("parent_id", sa.Integer, {parent}),
    )
    op.create_index("ix_table_{revision:02d}_name", "table_{revision:02d}", ["name"])


def downgrade():
    op.drop_table("table_{revision:02d}")
"""


# --------------------------------------------------------------------------
# Projects
# --------------------------------------------------------------------------


def database_url(backend: str, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{name}.db"
    server = os.environ[POSTGRES_VAR]
    return server.rsplit("/", 1)[0] + f"/{name}"


def write_suite(root: Path, backend: str, tests: int) -> Path:
    """The generated database suite: ``tests`` tests over 20 modules."""
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        dedent(
            f"""
            [tool.aksara]
            database_url = "{database_url(backend, f"bench_par_{os.getpid()}")}"
            models = "models:Base"
            """
        )
    )
    (root / "models.py").write_text(dedent(MODELS).lstrip())
    per_module = tests // MODULES
    for module in range(MODULES):
        count = per_module + (1 if module < tests % MODULES else 0)
        body = TEST_MODULE.format(rows=module % 4 * 5 + 1, count=count)
        (root / f"test_module_{module:02d}.py").write_text(dedent(body).lstrip())
    return root


BASELINE = "baseline: plain pytest-xdist, no database"
BUSY_MODULE = """
import time

import pytest


@pytest.mark.parametrize("i", range({count}))
async def test_busy(i):
    end = time.perf_counter() + {spin}  # about what a database test here costs
    while time.perf_counter() < end:
        pass
"""


BUSY_SPIN = 0.002
MATCHED = "baseline: plain pytest-xdist, no database, tests as costly as {backend}'s"
WORKED = "baseline: plain pytest-xdist, no database, fixed work as costly as {backend}'s"
# Fixed CPU work instead of a wall-clock spin: objects made, filled and sorted, as an ORM
# test does; a spin's CPU per test cannot grow when two processes share the cores (it
# stops at a time), real work's can (the two CPUs share caches and memory bandwidth).
WORK_CODE = """
class Row:
    pass


def work(units):
    rows = []
    for i in range(units):
        row = Row()
        row.id = i
        row.name = "name-%d" % i
        row.values = {"a": i, "b": [i, i + 1]}
        rows.append(row)
    rows.sort(key=lambda row: -row.id)
    return len(rows)
"""
WORK_MODULE = """
import pytest

from work import work


@pytest.mark.parametrize("i", range({count}))
async def test_busy(i):
    work({units})  # fixed work: about the CPU a database test here costs at -n 0
"""


def work_units(seconds: float) -> int:
    """How many units of ``WORK_CODE``'s ``work`` take ``seconds`` of CPU in this process
    (median of 15 timings of 200 units each, after a warm-up)."""
    namespace: dict[str, Any] = {}
    exec(WORK_CODE, namespace)
    work = namespace["work"]
    work(2000)
    timings = []
    for _ in range(15):
        start = time.process_time()
        for _ in range(10):
            work(200)
        timings.append((time.process_time() - start) / 2000)
    return max(1, round(seconds / statistics.median(timings)))


def write_worked(root: Path, tests: int, units: int) -> Path:
    """The baseline's async tests, each doing ``units`` of fixed work; no database, no aksara."""
    write_baseline(root, tests)
    (root / "work.py").write_text(dedent(WORK_CODE).lstrip())
    per_module = tests // MODULES
    for module in range(MODULES):
        count = per_module + (1 if module < tests % MODULES else 0)
        body = dedent(WORK_MODULE.format(count=count, units=units)).lstrip()
        (root / f"test_module_{module:02d}.py").write_text(body)
    return root


def write_baseline(root: Path, tests: int, spin: float = BUSY_SPIN) -> Path:
    """The same number of async tests, each spinning ``spin`` s (2 ms) of CPU; no database,
    no aksara."""
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\n"
        'asyncio_mode = "auto"\n'
        'asyncio_default_test_loop_scope = "session"\n'
        'asyncio_default_fixture_loop_scope = "session"\n'
    )
    per_module = tests // MODULES
    for module in range(MODULES):
        count = per_module + (1 if module < tests % MODULES else 0)
        body = dedent(BUSY_MODULE.format(count=count, spin=f"{spin:.6f}")).lstrip()
        (root / f"test_module_{module:02d}.py").write_text(body)
    return root


HANDWRITTEN = "baseline: plain pytest-xdist, hand-written rollback fixture, {backend}"
# aksara with its workers sending xdist's six messages per test (the grouping switched off):
# what one message per test (aksara_testing/_xdist_messages.py) buys, in the same run.
UNGROUPED = "what-if: {backend} with xdist's six messages per test"
UNGROUPED_PLUGIN = """
import pytest


@pytest.hookimpl(trylast=True)  # after aksara asked for one message per test
def pytest_configure_node(node):
    node.workerinput.pop("aksara_one_message_per_test", None)
"""
HANDWRITTEN_CONFTEST = """
import os

import pytest_asyncio
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from models import Base

SERVER = {server!r}  # empty: SQLite
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
NAME = f"bench_hand_{{os.getppid() if WORKER != 'main' else os.getpid()}}_{{WORKER}}"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine(tmp_path_factory):
    if SERVER:
        import asyncpg

        admin = await asyncpg.connect(SERVER)
        await admin.execute(f'DROP DATABASE IF EXISTS "{{NAME}}"')
        await admin.execute(f'CREATE DATABASE "{{NAME}}"')
        url = "postgresql+asyncpg://" + SERVER.split("://", 1)[1].rsplit("/", 1)[0] + "/" + NAME
        engine = create_async_engine(url)
    else:
        engine = create_async_engine(f"sqlite+aiosqlite:///{{tmp_path_factory.mktemp('db')}}/t.db")

        # SQLAlchemy's recipe: pysqlite would not begin a transaction before a SAVEPOINT.
        @event.listens_for(engine.sync_engine, "connect")
        def _connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(connection):
            connection.exec_driver_sql("BEGIN")

    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()
    if SERVER:
        await admin.execute(f'DROP DATABASE "{{NAME}}" WITH (FORCE)')
        await admin.close()


@pytest_asyncio.fixture(loop_scope="session")
async def db_session(engine):
    async with engine.connect() as connection:
        outer = await connection.begin()
        session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint")
        yield session
        await session.close()
        await outer.rollback()
"""


def write_handwritten(root: Path, backend: str, tests: int) -> Path:
    """The database suite of :func:`write_suite`, run without aksara: a hand-written fixture
    rolls each test back, each worker creates its own database with ``create_all``."""
    write_suite(root, backend, tests)
    (root / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\n"
        'asyncio_mode = "auto"\n'
        'asyncio_default_test_loop_scope = "session"\n'
        'asyncio_default_fixture_loop_scope = "session"\n'
    )
    server = os.environ[POSTGRES_VAR] if backend == "postgres" else ""
    (root / "conftest.py").write_text(dedent(HANDWRITTEN_CONFTEST.format(server=server)).lstrip())
    return root


def write_migrations(root: Path, backend: str) -> Path:
    """A project whose schema is a 30-revision Alembic chain."""
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        dedent(
            f"""
            [tool.aksara]
            database_url = "{database_url(backend, f"bench_mig_{os.getpid()}")}"
            migrations = "alembic.ini"
            """
        )
    )
    (root / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/migrations\npath_separator = os\n"
    )
    (root / "migrations" / "env.py").write_text(dedent(ENV_PY).lstrip())
    for revision in range(1, TABLES + 1):
        down = "None" if revision == 1 else f'"{revision - 1:04d}"'
        parent = "" if revision == 1 else f'sa.ForeignKey("table_{revision - 1:02d}.id")'
        text = REVISION.format(revision=revision, down=down, parent=parent)
        (versions / f"{revision:04d}_table.py").write_text(dedent(text).lstrip())
    return root


# --------------------------------------------------------------------------
# 1. Suite time
# --------------------------------------------------------------------------


def env_for(project: Path) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE would make every process of every run compile (and
    # pytest re-rewrite) each module again: a developer's second run reads them cached.
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("CI", "PYTHONDONTWRITEBYTECODE")
        and not name.startswith(("AKSARA_", "PYTEST_", "COV_CORE_"))
    }
    env["PYTEST_ADDOPTS"] = QUIET_PLUGINS
    env["TMPDIR"] = str(project.parent / f"{project.name}-tmp")
    Path(env["TMPDIR"]).mkdir(exist_ok=True)
    return env


def aksara_test(
    project: Path,
    *args: str,
    expect: str,
    command: Sequence[str] = (AKSARA, "test"),
    extra_env: dict[str, str] | None = None,
) -> tuple[float, str, float]:
    """Wall time of ``aksara test ARGS``, its output, and the CPU seconds its processes used
    (the controller and every worker, user + system; not the database server's).

    Stops the benchmark if the run fails.
    """
    for _attempt in range(3):
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            [*command, *args],
            cwd=project,
            env={**env_for(project), **(extra_env or {})},
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - used.ru_utime + after.ru_stime - used.ru_stime
        if done.returncode == 0 or AUTOVACUUM_REFUSAL not in done.stdout + done.stderr:
            break
        REDONE.append(f"`aksara test {' '.join(args)}` in {project.name}")
    if done.returncode != 0 or expect not in done.stdout:
        sys.exit(
            f"aksara test {' '.join(args)} failed (exit {done.returncode}):\n"
            f"{done.stdout[-3000:]}{done.stderr[-2000:]}"
        )
    return elapsed, done.stdout, cpu


@dataclass(frozen=True)
class SuiteTimes:
    backend: str
    tests: int
    serial: list[float]
    workers: list[float]
    serial_cpu: list[float]
    workers_cpu: list[float]
    # CPU seconds per test inside the test loop, per round (see LOOP_PLUGIN): `-n 0`'s
    # process; `-n 2`'s workers (their CPU from their first test to their last, over the
    # tests they ran) and the controller (its CPU in its test loop, over all the tests).
    loop_serial: list[float]
    loop_workers: list[float]
    loop_controller: list[float]
    # Without xdist (``halves=True``): the modules in two halves, each run by a ``-n 0``
    # process of its own (its own database), both at once; wall, CPU, CPU per test.
    halves: list[float] = field(default_factory=list)
    halves_cpu: list[float] = field(default_factory=list)
    loop_halves: list[float] = field(default_factory=list)

    @property
    def halves_ratio(self) -> float:
        """Speed-up of two plain processes at once over ``-n 0`` (median of per-round ratios)."""
        pairs = zip(self.serial, self.halves, strict=True)
        return statistics.median(s / h for s, h in pairs)

    @property
    def per_test(self) -> float:
        """c: one test's CPU without workers (median, seconds)."""
        return statistics.median(self.loop_serial)

    @property
    def worker_extra(self) -> float:
        """What a test costs a ``-n 2`` worker on top of c (median of per-round differences)."""
        pairs = zip(self.loop_workers, self.loop_serial, strict=True)
        return statistics.median(w - s for w, s in pairs)

    @property
    def controller(self) -> float:
        return statistics.median(self.loop_controller)

    @property
    def overhead(self) -> float:
        """o: the CPU ``-n 2`` adds per test, workers and controller together."""
        return self.worker_extra + self.controller

    def loop_speedup(self, overhead: float | None = None) -> float:
        """Speed-up of the test loop alone on 2 free cores: 2c / (c + o)."""
        o = self.overhead if overhead is None else overhead
        return 2 * self.per_test / (self.per_test + o)

    @property
    def ratio(self) -> float:
        return statistics.median(s / w for s, w in zip(self.serial, self.workers, strict=True))

    @property
    def cpu_ratio(self) -> float:
        """CPU burnt by ``-n 2`` against ``-n 0``, median of per-round ratios."""
        pairs = zip(self.workers_cpu, self.serial_cpu, strict=True)
        return statistics.median(w / s for w, s in pairs)

    def ceiling(self, cores: float) -> float:
        """The best ``-n 2`` speed-up ``cores`` busy cores allow for this much CPU."""
        return cores / self.cpu_ratio


@dataclass(frozen=True)
class CostModel:
    """Suite time = fixed + tests x per test, from the medians of two suite sizes."""

    per_test_serial: float
    per_test_workers: float
    fixed_serial: float
    fixed_workers: float

    @classmethod
    def fit(cls, large: SuiteTimes, small: SuiteTimes) -> CostModel:
        def line(big: list[float], little: list[float]) -> tuple[float, float]:
            slope = (statistics.median(big) - statistics.median(little)) / (
                large.tests - small.tests
            )
            return slope, statistics.median(big) - slope * large.tests

        serial, workers = line(large.serial, small.serial), line(large.workers, small.workers)
        return cls(serial[0], workers[0], serial[1], workers[1])

    def tests_for(self, speedup: float) -> float | None:
        """Suite size at which -n 2 becomes ``speedup`` times faster; None if never."""
        gain = self.per_test_serial - speedup * self.per_test_workers
        if gain <= 0:
            return None
        return max(0.0, (speedup * self.fixed_workers - self.fixed_serial) / gain)


LOOP_PLUGIN = """
import json, os

import pytest

OUT = os.environ["BENCH_LOOP"]
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "controller")
_SEEN = {"tests": 0, "first": None, "last": None, "loop": None}


def _cpu():
    times = os.times()
    return times.user + times.system


def pytest_runtest_call(item):
    if _SEEN["first"] is None:
        _SEEN["first"] = _cpu()


def pytest_runtest_logfinish(nodeid, location):
    _SEEN["tests"] += 1
    _SEEN["last"] = _cpu()


@pytest.hookimpl(tryfirst=True)  # before xdist's own loop, which returns its result
def pytest_runtestloop(session):
    _SEEN["loop"] = _cpu()


def pytest_sessionfinish(session):
    row = dict(_SEEN, who=WORKER, end=_cpu())
    with open(OUT, "a") as out:
        out.write(json.dumps(row) + "\\n")
"""


def loop_costs(stamps: Path, tests: int) -> tuple[float, float | None]:
    """(CPU per test of the processes that ran tests, the controller's per test or None).

    A process that ran tests: its CPU from its first test's call to its last test's end,
    over the tests it ran (its start-up, collection, database set-up and first fixture
    set-up are left out). The controller (``-n 2``): its CPU from the start of its test
    loop to the end of the session, over all the tests.
    """
    rows = [json.loads(line) for line in stamps.read_text().splitlines()]
    ran = [r for r in rows if r["first"] is not None]  # (xdist's controller runs none)
    per_test = sum(r["last"] - r["first"] for r in ran) / sum(r["tests"] - 1 for r in ran)
    controller = [r for r in rows if r["who"] == "controller" and r["first"] is None]
    if not controller:
        return per_test, None
    return per_test, (controller[0]["end"] - controller[0]["loop"]) / tests


def twin_of(project: Path) -> Path:
    """A copy of ``project`` whose database has another name (its half runs beside ours)."""
    twin = project.parent / f"{project.name}-twin"
    shutil.copytree(project, twin, ignore=shutil.ignore_patterns("*.db", "__pycache__"))
    config = twin / "pyproject.toml"
    config.write_text(config.read_text().replace("/bench_par_", "/bench_twin_"))
    return twin


def two_halves(
    project: Path, twin: Path, command: Sequence[str], extra: dict[str, str], tests: int
) -> tuple[float, float]:
    """Wall and CPU seconds of the suite's modules in two halves, a ``-n 0`` process each
    (``project`` runs one half, ``twin`` the other), started together: no xdist at all.

    Stops the benchmark unless the two ran all ``tests`` and passed.
    """
    modules = sorted(path.name for path in project.glob("test_*.py"))
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    processes = [
        subprocess.Popen(
            [*command, "-q", "-n", "0", "-p", "bench_loop", *half],
            cwd=where,
            env={**env_for(where), **extra},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for where, half in ((project, modules[0::2]), (twin, modules[1::2]))
    ]
    outputs = [process.communicate()[0] for process in processes]
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - used.ru_utime + after.ru_stime - used.ru_stime
    passed = sum(int(n) for output in outputs for n in re.findall(r"(\d+) passed", output))
    if passed != tests or any(process.returncode for process in processes):
        sys.exit(
            f"the two halves of {project.name} failed:\n" + "\n".join(o[-2000:] for o in outputs)
        )
    return elapsed, cpu


def measure_suite(
    project: Path, backend: str, tests: int, repeats: int, *, halves: bool = False
) -> SuiteTimes:
    """``-n 0`` against ``-n 2`` (and, with ``halves``, two ``-n 0`` halves at once),
    each variant first in turn."""
    expect = f"{tests} passed"
    variants = ["serial", "workers", *(["halves"] if halves else [])]
    ungrouped = ("-p", "bench_ungrouped") if backend.startswith("what-if") else ()
    argv = {"serial": ("-q", "-n", "0", *ungrouped), "workers": ("-q", "-n", "2", *ungrouped)}
    command: Sequence[str] = (AKSARA, "test")
    if backend.startswith("baseline"):
        command = (sys.executable, "-m", "pytest", "-p", "no:aksara")
    folder = project.parent / f"{project.name}-loop"
    folder.mkdir(exist_ok=True)
    (folder / "bench_loop.py").write_text(dedent(LOOP_PLUGIN).lstrip())
    (folder / "bench_ungrouped.py").write_text(dedent(UNGROUPED_PLUGIN).lstrip())
    stamps = folder / "loop.jsonl"
    extra = {"BENCH_LOOP": str(stamps), "PYTHONPATH": str(folder)}
    twin = twin_of(project) if halves else project

    def run(name: str) -> tuple[float, float]:
        stamps.unlink(missing_ok=True)
        if name == "halves":
            return two_halves(project, twin, command, extra, tests)
        elapsed, _output, used = aksara_test(
            project,
            *argv[name],
            "-p",
            "bench_loop",
            expect=expect,
            command=command,
            extra_env=extra,
        )
        return elapsed, used

    for name in variants:  # warm-up: bytecode, first server connections
        run(name)
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    loop: dict[str, list[float]] = {name: [] for name in [*variants, "controller"]}
    for round_ in range(repeats):
        shift = round_ % len(variants)
        for name in variants[shift:] + variants[:shift]:
            elapsed, used = run(name)
            times[name].append(elapsed)
            cpu[name].append(used)
            per_test, controller = loop_costs(stamps, tests)
            loop[name].append(per_test)
            if name == "workers":
                loop["controller"].append(controller or 0.0)
        print(f"  {backend} {tests}-test suite round {round_ + 1}/{repeats}", file=sys.stderr)
    return SuiteTimes(
        backend,
        tests,
        times["serial"],
        times["workers"],
        cpu["serial"],
        cpu["workers"],
        loop["serial"],
        loop["workers"],
        loop["controller"],
        times.get("halves", []),
        cpu.get("halves", []),
        loop.get("halves", []),
    )


STAMP_PLUGIN = """
import json, os, time

import pytest

OUT = os.environ["BENCH_STAMPS"]
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "controller")


def _started():  # this process's start, on the time.time() clock
    with open(f"/proc/{os.getpid()}/stat") as stat:
        ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as uptime:
        up = float(uptime.read().split()[0])
    return time.time() - (up - ticks / os.sysconf("SC_CLK_TCK"))


def _stamp(event):
    cpu = os.times()
    row = [WORKER, event, time.time(), cpu.user + cpu.system, _started()]
    with open(OUT, "a") as out:
        out.write(json.dumps(row) + "\\n")


@pytest.hookimpl(trylast=True)  # after every plugin's configure (ours too)
def pytest_configure(config):
    _stamp("configured")


def pytest_collection_finish(session):
    _stamp("collected")


_FIRST = []


def pytest_runtest_call(item):
    if not _FIRST:
        _FIRST.append(item)
        _stamp("first test")
"""


@dataclass(frozen=True)
class WorkerCost:
    """CPU seconds one ``-n 2`` worker spends before its first test, by phase (medians)."""

    label: str
    start_up: float  # process start to the end of pytest_configure: imports, plugins
    collection: float  # collecting the suite (its modules imported)
    setup: float  # collected to its first test's call: fixtures, the database
    wall: float  # the controller's start to the last worker's first test (s)

    @property
    def total(self) -> float:
        return self.start_up + self.collection + self.setup


def measure_worker_cost(project: Path, label: str, tests: int, rounds: int) -> WorkerCost:
    """Run the suite at ``-n 2`` with a stamping plugin; each worker's CPU before its first test."""
    folder = project.parent / f"{project.name}-stamp"
    folder.mkdir(exist_ok=True)
    (folder / "bench_stamp.py").write_text(dedent(STAMP_PLUGIN).lstrip())
    command: Sequence[str] = (AKSARA, "test")
    if label.startswith("baseline"):
        command = (sys.executable, "-m", "pytest", "-p", "no:aksara")
    phases: dict[str, list[float]] = {"start_up": [], "collection": [], "setup": [], "wall": []}
    for round_ in range(rounds + 1):  # the first is a warm-up
        stamps = folder / f"stamps-{round_}.jsonl"
        extra = {"BENCH_STAMPS": str(stamps), "PYTHONPATH": str(folder)}
        args = ("-q", "-n", "2", "-p", "bench_stamp")
        aksara_test(project, *args, expect=f"{tests} passed", command=command, extra_env=extra)
        rows = [json.loads(line) for line in stamps.read_text().splitlines()]
        if round_ == 0:
            continue
        at = {(who, event): (clock, cpu, born) for who, event, clock, cpu, born in rows}
        workers = sorted({who for who, *_ in rows if who != "controller"})
        for who in workers:
            configured, collected, first = (
                at[who, "configured"][1],
                at[who, "collected"][1],
                at[who, "first test"][1],
            )
            phases["start_up"].append(configured)
            phases["collection"].append(collected - configured)
            phases["setup"].append(first - collected)
        began = at["controller", "configured"][2]
        phases["wall"].append(max(at[who, "first test"][0] for who in workers) - began)
    return WorkerCost(label, *(statistics.median(phases[name]) for name in phases))


CPU_LOOP = "sum(i * i for i in range(6_000_000))"


def cores_available(rounds: int = 3) -> float:
    """How many cores two busy processes really get now: 2 x T(one alone) / T(two at once)."""
    argv = [sys.executable, "-c", CPU_LOOP]
    ratios = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(argv, check=True)
        alone = time.perf_counter() - start
        start = time.perf_counter()
        pair = [subprocess.Popen(argv) for _ in range(2)]
        for process in pair:
            process.wait()
        ratios.append(2 * alone / (time.perf_counter() - start))
    return statistics.median(ratios)


# --------------------------------------------------------------------------
# 2. Worker databases ready
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SetupTimes:
    backend: str
    clones: dict[int, list[float]]  # N -> seconds for template + N clones
    scratch: dict[int, list[float]]  # N -> seconds for N databases migrated from scratch
    # PostgreSQL: N -> (one migrate, N concurrent bare clones) in seconds, per round
    floor: dict[int, list[tuple[float, float]]]
    # PostgreSQL: N -> (builder's run lock taken, template built, last clone), per round
    phases: dict[int, list[tuple[float, float, float]]]

    def one_migrate(self) -> float:
        return statistics.median(self.scratch[1])

    def ratio(self, workers: int) -> float:
        """Clones for N workers against one migrate, median of per-round ratios."""
        pairs = zip(self.clones[workers], self.scratch[1], strict=True)
        return statistics.median(c / m for c, m in pairs)

    def floor_total(self, workers: int) -> float:
        return statistics.median(m + c for m, c in self.floor[workers])

    def floor_part(self, workers: int, part: int) -> float:
        return statistics.median(f[part] for f in self.floor[workers])

    def floor_ratio(self, workers: int) -> float:
        """Clones for N workers against the floor of the same round, median of per-round ratios."""
        pairs = zip(self.clones[workers], self.floor[workers], strict=True)
        return statistics.median(c / (m + b) for c, (m, b) in pairs)

    def floor_spread(self, workers: int) -> tuple[float, float]:
        """The lowest and highest per-round ratio against the floor."""
        pairs = zip(self.clones[workers], self.floor[workers], strict=True)
        ratios = [c / (m + b) for c, (m, b) in pairs]
        return min(ratios), max(ratios)

    def per_clone(self) -> float:
        high, low = max(WORKER_COUNTS), min(WORKER_COUNTS)
        return (statistics.median(self.clones[high]) - statistics.median(self.clones[low])) / (
            high - low
        )


def worker_databases(project: Path, workers: int) -> tuple[Any, Any, list[Any], Any]:
    """(settings, template, the N workers' databases, the template's migrations source),
    as ``-n N`` derives them from ``project``'s settings."""
    from aksara_testing._db.parallel import TEMPLATE_SUFFIX
    from aksara_testing._db.urls import check_safe, derive_test_url
    from aksara_testing._migrations.schema import migrations_source
    from aksara_testing._settings import load_settings

    settings = load_settings(project)
    folder = project / "databases"
    template = check_safe(derive_test_url(settings, folder, suffix=TEMPLATE_SUFFIX), settings)
    targets = [
        check_safe(derive_test_url(settings, folder, suffix=f"_gw{i}"), settings)
        for i in range(workers)
    ]
    return settings, template, targets, migrations_source(settings, template.url)


async def _setup_round(project: Path, workers: int, how: str) -> float:
    from aksara_testing._db.lifecycle import build_database, drop_database
    from aksara_testing._migrations.schema import migrations_source

    settings, template, targets, source = worker_databases(project, workers)
    for target in (template, *targets):
        await drop_database(target)
    lock = project / f"workers-{time.time_ns()}.lock"  # a run's own: its clone count starts at 0

    # SQLite's baseline is one migrate in this process: its workers stay threads here.
    postgres = template.url.get_backend_name() == "postgresql"
    if how == "clones" and WORKERS_AS[0] == "processes" and postgres:
        elapsed = await asyncio.to_thread(_worker_processes_at_once, project, workers, lock)
    elif how == "clones":
        elapsed = await asyncio.to_thread(_workers_at_once, template, targets, source, lock)
    else:
        start = time.perf_counter()
        handles = []
        for target in targets:
            own = migrations_source(settings, target.url)
            handles.append(await build_database(target, own, reuse=False))
        elapsed = time.perf_counter() - start
        for handle in handles:
            await handle.engine.dispose()
    for target in (template, *targets):
        await drop_database(target)
    return elapsed


async def _floor_round(
    project: Path, workers: int, start_together: Any = None
) -> tuple[float, float]:
    """PostgreSQL's floor for N worker databases: the server work our workers must do, on
    connections opened before the clock starts, nothing else timed.

    The template: ``DROP DATABASE IF EXISTS``, ``CREATE DATABASE``, the Alembic chain
    (its own engine, as any migrate needs), ``COMMENT ON DATABASE`` (the fingerprint);
    then the wait for the migrate's server process to leave the template (PostgreSQL
    copies only an unused template; polled every 2 ms), and N bare ``CREATE DATABASE
    ... TEMPLATE`` at once. ``start_together``: a barrier waited on just before the clock
    starts (see ``_floor_in_a_process``).
    """
    import asyncpg

    from aksara_testing._db.lifecycle import (
        build_schema,
        create_engine_for,
        drop_database,
        fingerprint_comment,
    )
    from aksara_testing._db.urls import check_safe, derive_test_url
    from aksara_testing._migrations.schema import migrations_source
    from aksara_testing._settings import load_settings

    settings = load_settings(project)
    folder = project / "databases"
    template = check_safe(derive_test_url(settings, folder, suffix="_floor_tpl"), settings)
    targets = [
        check_safe(derive_test_url(settings, folder, suffix=f"_floor{i}"), settings)
        for i in range(workers)
    ]
    for target in (template, *targets):
        await drop_database(target)
    source = migrations_source(settings, template.url)
    engine = create_engine_for(template.url)
    comment = fingerprint_comment(source.fingerprint(engine)).replace("'", "''")
    await engine.dispose()
    name = template.url.database
    connections = [await asyncpg.connect(os.environ[POSTGRES_VAR]) for _ in targets]
    first = connections[0]
    try:
        if start_together is not None:
            start_together.wait()
        start = time.perf_counter()
        await first.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await first.execute(f'CREATE DATABASE "{name}"')
        engine = create_engine_for(template.url)
        await build_schema(engine, source)
        await engine.dispose()
        await first.execute(f"COMMENT ON DATABASE \"{name}\" IS '{comment}'")
        migrated = time.perf_counter()
        unused = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1"
        while await first.fetchval(unused, name):
            await asyncio.sleep(0.002)
        await asyncio.gather(
            *(
                connection.execute(f'CREATE DATABASE "{target.url.database}" TEMPLATE "{name}"')
                for connection, target in zip(connections, targets, strict=True)
            )
        )
        cloned = time.perf_counter()
    finally:
        for connection in connections:
            await connection.close()
    for target in (template, *targets):
        await drop_database(target)
    return migrated - start, cloned - migrated


def _floor_process(project: Path, workers: int, start: Any, results: Any) -> None:
    try:
        results.put(("done", asyncio.run(_floor_round(project, workers, start))))
    except BaseException as exc:
        start.abort()
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def _floor_in_a_process(project: Path, workers: int) -> tuple[float, float]:
    """``_floor_round`` in a spawned process, as ``--workers-as processes`` runs ours: its
    migrate then starts as cold as our workers' (env.py, the revisions, SQLAlchemy's first
    statements), not warmed by the rounds before it in this process."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    results = context.Queue()
    process = context.Process(target=_floor_process, args=(project, workers, start, results))
    process.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # the process failed: see below
        start.wait(timeout=300)
    kind, detail = results.get(timeout=600)
    process.join()
    if kind == "error":
        raise RuntimeError(detail)
    return detail  # type: ignore[no-any-return]


def floor_round(project: Path, workers: int) -> tuple[float, float]:
    label = f"floor of {project.name}, N = {workers}"
    if WORKERS_AS[0] == "processes":
        return redone(label, partial(_floor_in_a_process, project, workers))
    return redoing(label, partial(_floor_round, project, workers))


# Where our time went in the last PostgreSQL "clones" measurement, seconds from the start:
# the builder's run lock taken, the template built (its connections closed), the last clone.
# Read by measure_setup; not timed work of its own (two clock readings per worker).
LAST_PHASES: list[tuple[float, float, float]] = []


def _workers_at_once(template: Any, targets: list[Any], source: Any, lock: Path) -> float:
    """Seconds until the last of N workers has its clone, the N starting together.

    Each worker runs in a thread with its own event loop, as each xdist worker is
    a process with its own: its run lock first (PostgreSQL: one server connection,
    which then does all the admin work), then ``build_worker_database``.
    """
    from aksara_testing._db import parallel as product

    start = threading.Barrier(len(targets) + 1)
    ready: list[float] = []
    taken: dict[int, float] = {}  # thread -> its run lock taken
    built: list[tuple[int, float]] = []  # (the builder's thread, the template built)
    errors: list[BaseException] = []
    build_template = product._build_template

    async def timed_build(*args: Any) -> None:
        await build_template(*args)
        built.append((threading.get_ident(), time.perf_counter()))

    def thread(target: Any) -> None:
        start.wait()
        try:
            lock_taken, done = asyncio.run(one_worker(template, target, source, lock, len(targets)))
        except BaseException as exc:
            errors.append(exc)
            return
        taken[threading.get_ident()] = lock_taken
        ready.append(done)

    threads = [threading.Thread(target=thread, args=(target,)) for target in targets]
    for each in threads:
        each.start()
    product._build_template = timed_build  # type: ignore[assignment]
    try:
        start.wait()
        began = time.perf_counter()
        for each in threads:
            each.join()
    finally:
        product._build_template = build_template  # type: ignore[assignment]
    if errors:
        raise errors[0]
    LAST_PHASES.clear()
    if len(built) == 1 and built[0][0] in taken:
        builder, done = built[0]
        LAST_PHASES.append((taken[builder] - began, done - began, max(ready) - began))
    return max(ready) - began


# How the N workers of a "clones" measurement run: "processes" (the default; each a
# process of its own, as xdist's workers are) or "threads" (one process, a thread and an
# event loop each, sharing one interpreter lock); set by --workers-as.
WORKERS_AS = ["processes"]
WORKERS_TEXT = {
    "processes": "PostgreSQL: each a spawned process, as xdist's workers are, its imports "
    "done before the clock starts, and the floor below in a spawned process of its own too, "
    "so its migrate starts as cold as our builder's; SQLite, whose baseline is one migrate "
    "in the measuring process: threads of that process, an event loop each",
    "threads": "threads of one process, an event loop each, sharing one interpreter lock, "
    "and the floor below in that process, warmed by the rounds before: "
    "`--workers-as threads`",
}


async def one_worker(
    template: Any, target: Any, source: Any, lock: Path, workers: int
) -> tuple[float, float]:
    """What one worker of ``-n N`` does for its database: its run lock first (PostgreSQL:
    one server connection, which then does all the admin work), then
    ``build_worker_database``. Returns when the lock was taken and when the database was
    ready (``time.perf_counter``)."""
    from aksara_testing._db import parallel as product

    admin = await run_lock(target)
    taken = time.perf_counter()
    try:
        made = await product.build_worker_database(
            template, target, source, reuse=False, lock=lock, admin=admin, drop_after=workers
        )
        ready = time.perf_counter()
        await made.handle.engine.dispose()
    finally:
        if admin is not None:
            await admin.release()  # after the template's drop, if this worker started it
    return taken, ready


def _worker_process(
    project: Path, index: int, workers: int, lock: Path, start: Any, results: Any
) -> None:
    """One worker of ``_worker_processes_at_once``: what ``_workers_at_once``'s thread does,
    in a process of its own; its imports and settings are done before the start barrier."""
    from aksara_testing._db import parallel as product

    _, template, targets, source = worker_databases(project, workers)
    build_template = product._build_template
    built: list[float] = []

    async def timed_build(*args: Any) -> None:
        await build_template(*args)
        built.append(time.perf_counter())

    product._build_template = timed_build  # type: ignore[assignment]
    start.wait()
    try:
        taken, ready = asyncio.run(one_worker(template, targets[index], source, lock, workers))
    except BaseException as exc:
        results.put(("error", f"worker {index}: {type(exc).__name__}: {exc}"))
        return
    results.put(("done", (taken, built[0] if built else None, ready)))


def _worker_processes_at_once(project: Path, workers: int, lock: Path) -> float:
    """Seconds until the last of N worker processes has its clone, the N starting together.

    As ``_workers_at_once``, with each worker a process of its own (spawned, as xdist's
    are, so none shares the measuring process's interpreter lock). The clock is
    ``time.perf_counter`` (CLOCK_MONOTONIC on Linux: one clock for every process).
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    start = context.Barrier(workers + 1)
    results = context.Queue()
    processes = [
        context.Process(
            target=_worker_process, args=(project, index, workers, lock, start, results)
        )
        for index in range(workers)
    ]
    for process in processes:
        process.start()
    start.wait(timeout=300)  # a worker that failed before it broke the barrier: raised here
    began = time.perf_counter()
    outcomes = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    errors = [detail for kind, detail in outcomes if kind == "error"]
    if errors:
        raise RuntimeError(errors[0])
    times = [detail for _, detail in outcomes]
    LAST_PHASES.clear()
    builders = [(taken, done) for taken, done, _ in times if done is not None]
    if len(builders) == 1:
        taken, done = builders[0]
        LAST_PHASES.append((taken - began, done - began, max(t[2] for t in times) - began))
    return max(t[2] for t in times) - began


async def run_lock(target: Any) -> Any:
    """PostgreSQL: the run lock a worker takes on its database name before anything else."""
    from aksara_testing._db.urls import backend_of

    if backend_of(target.url) != "postgresql":
        return None
    from aksara_testing._db.postgres import RunLock

    return await RunLock.take(target.url, "benchmark")


def redoing(label: str, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run(work())``, again (up to 5 times) when autovacuum refused a drop."""
    return redone(label, lambda: asyncio.run(work()))


def redone(label: str, attempt: Callable[[], T]) -> T:
    """``attempt()``, again (up to 5 times) when autovacuum refused a drop (its error, or
    a spawned process's error line, carries the server's words)."""
    for tried in range(5):
        try:
            return attempt()
        except Exception as exc:
            if AUTOVACUUM_REFUSAL not in str(exc) or tried == 4:
                raise
            REDONE.append(label)
            time.sleep(1)
    raise AssertionError("unreachable")


def setup_round(project: Path, workers: int, how: str) -> float:
    label = f"set-up of {project.name}, {how}, N = {workers}"
    return redoing(label, partial(_setup_round, project, workers, how))


# The order of the three ways in a round, in turn: ours and the floor always side by side
# (their per-round ratio is what the target judges), each of them first and last in turn.
SETUP_ORDERS = (
    ("clones", "floor", "scratch"),
    ("floor", "clones", "scratch"),
    ("scratch", "clones", "floor"),
    ("scratch", "floor", "clones"),
)


def measure_setup(project: Path, backend: str, repeats: int) -> SetupTimes:
    setup_round(project, 1, "clones")  # warm-up: imports, Alembic, server
    clones: dict[int, list[float]] = {n: [] for n in WORKER_COUNTS}
    scratch: dict[int, list[float]] = {n: [] for n in WORKER_COUNTS}
    floor: dict[int, list[tuple[float, float]]] = {n: [] for n in WORKER_COUNTS}
    phases: dict[int, list[tuple[float, float, float]]] = {n: [] for n in WORKER_COUNTS}
    for round_ in range(repeats):
        for index, workers in enumerate(WORKER_COUNTS):
            order = SETUP_ORDERS[(round_ + index) % len(SETUP_ORDERS)]
            for how in order:
                if how == "floor":
                    if backend != "postgres":
                        continue
                    floor[workers].append(floor_round(project, workers))
                else:
                    found = clones if how == "clones" else scratch
                    found[workers].append(setup_round(project, workers, how))
                    if how == "clones" and LAST_PHASES:
                        phases[workers].append(LAST_PHASES[0])
            seen = f"ours {clones[workers][-1] * 1000:.0f} ms"
            if floor[workers]:
                migrate, cloned = floor[workers][-1]
                seen += (
                    f", floor {(migrate + cloned) * 1000:.0f} ms ({migrate * 1000:.0f} + "
                    f"{cloned * 1000:.0f}), {clones[workers][-1] / (migrate + cloned):.2f}{TIMES}"
                )
            if phases[workers]:
                lock, built, last = (x * 1000 for x in phases[workers][-1])
                seen += f"; ours: lock {lock:.0f}, template {built:.0f}, last clone {last:.0f}"
            print(f"  {backend} N = {workers}: {seen}; order {', '.join(order)}", file=sys.stderr)
        print(f"  {backend} set-up round {round_ + 1}/{repeats}", file=sys.stderr)
    return SetupTimes(backend, clones, scratch, floor, phases)


async def _clone_strategies(project: Path, repeats: int) -> dict[str, list[float]]:
    """PostgreSQL only: one clone of the migrated template, default strategy vs FILE_COPY."""
    import asyncpg

    from aksara_testing._db.lifecycle import build_database, drop_database
    from aksara_testing._db.urls import check_safe, derive_test_url
    from aksara_testing._migrations.schema import migrations_source
    from aksara_testing._settings import load_settings

    settings = load_settings(project)
    folder = project / "databases"
    template = check_safe(derive_test_url(settings, folder, suffix="_strategy_tpl"), settings)
    clone = check_safe(derive_test_url(settings, folder, suffix="_strategy"), settings)
    handle = await build_database(template, migrations_source(settings, template.url), reuse=False)
    await handle.engine.dispose()
    statements = {
        "default (WAL_LOG), what the plugin runs": "",
        "STRATEGY = FILE_COPY": " STRATEGY = FILE_COPY",
    }
    times: dict[str, list[float]] = {label: [] for label in statements}
    connection = await asyncpg.connect(os.environ[POSTGRES_VAR])
    try:
        for round_ in range(repeats):
            labels = list(statements) if round_ % 2 == 0 else list(reversed(statements))
            for label in labels:
                await drop_database(clone)
                start = time.perf_counter()
                await connection.execute(
                    f'CREATE DATABASE "{clone.url.database}" '
                    f'TEMPLATE "{template.url.database}"{statements[label]}'
                )
                times[label].append(time.perf_counter() - start)
    finally:
        await connection.close()
        await drop_database(clone)
        await drop_database(template)
    return times


# --------------------------------------------------------------------------
# 3. Shard balance
# --------------------------------------------------------------------------

ALGORITHMS = ("duration_based_chunks", "least_duration")
ESTIMATE = re.compile(r"Running group (\d+)/(\d+) \(estimated duration: ([\d.]+)s\)")
SESSION = re.compile(r"(\d+) passed(?:, \d+ deselected)? in ([\d.]+)s")


@dataclass(frozen=True)
class Shard:
    group: int
    tests: int
    estimated: float
    measured: float


def measure_shards(project: Path, tests: int) -> dict[str, list[Shard]]:
    aksara_test(project, "-q", "--store-durations", expect=f"{tests} passed")
    found: dict[str, list[Shard]] = {}
    for algorithm in ALGORITHMS:
        shards = []
        for group in range(1, 5):
            args = ("-q", "--splits", "4", "--group", str(group))
            _, out, _ = aksara_test(
                project, *args, "--splitting-algorithm", algorithm, expect="passed"
            )
            estimate, session = ESTIMATE.search(out), SESSION.search(out)
            assert estimate is not None and session is not None, out[-2000:]
            shards.append(Shard(group, int(session[1]), float(estimate[3]), float(session[2])))
        found[algorithm] = shards
    return found


def imbalance(values: Sequence[float]) -> float:
    """How far the largest is above the mean, as a fraction of the mean."""
    mean = statistics.fmean(values)
    return max(values) / mean - 1


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def versions_line(backends: Sequence[str]) -> str:
    parts = [
        machine_line(),
        f"Python {platform.python_version()}",
        f"pytest {version('pytest')}",
        f"pytest-xdist {version('pytest-xdist')}",
        f"pytest-split {version('pytest-split')}",
        f"SQLAlchemy {version('sqlalchemy')}",
        f"Alembic {version('alembic')}",
        f"aksara-testing {version('aksara-testing')}",
    ]
    if "postgres" in backends:
        parts.append(f"asyncpg {version('asyncpg')}, PostgreSQL {server_version()}")
    return ", ".join(parts)


def server_version() -> str:
    async def fetch() -> str:
        import asyncpg

        connection = await asyncpg.connect(os.environ[POSTGRES_VAR])
        try:
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    return asyncio.run(fetch())


def yes(met: bool) -> str:
    return "yes" if met else "no"


def cost_table(models: dict[str, CostModel]) -> str:
    lines = [
        "| backend | per test, `-n 0` (ms) | per test, `-n 2` (ms) | throughput ratio "
        "| fixed, `-n 0` (s) | fixed, `-n 2` (s) | suite size where `-n 2` is 1.7x faster |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for backend, m in models.items():
        needed = m.tests_for(1.7)
        where = f"{needed:,.0f} tests" if needed is not None else "never"
        lines.append(
            f"| {backend} | {m.per_test_serial * 1000:.2f} | {m.per_test_workers * 1000:.2f} "
            f"| {m.per_test_serial / m.per_test_workers:.2f}{TIMES} | {m.fixed_serial:.2f} "
            f"| {m.fixed_workers:.2f} | {where} |"
        )
    return "\n".join(lines)


def strategy_table(times: dict[str, list[float]]) -> str:
    lines = ["| one clone of the 30-table template | median (ms) | range (ms) |", "|---|---:|---:|"]
    for label, values in times.items():
        lines.append(
            f"| `CREATE DATABASE ... TEMPLATE`, {label} | {statistics.median(values) * 1000:.0f} "
            f"| {min(values) * 1000:.0f} to {max(values) * 1000:.0f} |"
        )
    return "\n".join(lines)


RELATIVE_TARGET = 0.9  # issue 18: our speed-up >= 0.9x plain pytest-xdist's own


def suite_table(results: Sequence[SuiteTimes], tests: int, cores: float) -> str:
    lines = [
        f"| suite | `-n 0`, {tests:,} tests (s) | `-n 2` (s) | speed-up "
        "| CPU `-n 0` (s) | CPU `-n 2` (s) | CPU `-n 2` / `-n 0` "
        f"| ceiling on 2 cores | ceiling on {cores:.2f} cores "
        "| speed-up vs plain xdist's | target | met |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    plain = next(r for r in results if r.backend == BASELINE)
    for r in results:
        serial, workers = statistics.median(r.serial), statistics.median(r.workers)
        cpu = f"{statistics.median(r.serial_cpu):.2f} | {statistics.median(r.workers_cpu):.2f}"
        ceilings = f"{r.ceiling(2):.2f}{TIMES} | {r.ceiling(cores):.2f}{TIMES}"
        relative = r.ratio / plain.ratio
        verdict = (
            f"{relative:.2f}{TIMES} | ≥ {RELATIVE_TARGET:.2f}{TIMES} "
            f"(≥ {RELATIVE_TARGET * plain.ratio:.2f}{TIMES}) | {yes(relative >= RELATIVE_TARGET)}"
            if not r.backend.startswith(("baseline", "what-if"))
            else f"{relative:.2f}{TIMES} | — | —"
        )
        lines.append(
            f"| {r.backend} | {serial:.2f} | {workers:.2f} | {r.ratio:.2f}{TIMES} | {cpu} "
            f"| {r.cpu_ratio:.2f}{TIMES} | {ceilings} | {verdict} |"
        )
    return "\n".join(lines)


def loop_table(results: Sequence[SuiteTimes]) -> str:
    lines = [
        "| suite | c: per test, `-n 0` (CPU ms) | per test in a `-n 2` worker (CPU ms) "
        "| worker's extra per test (ms) | controller per test (ms) "
        "| o = worker's extra + controller (ms) | o more than plain xdist's (ms) "
        "| test loop's speed-up on 2 free cores, 2c / (c + o) | the same with plain xdist's o |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    plain = next(r for r in results if r.backend == BASELINE)
    for r in results:
        ms = 1000
        lines.append(
            f"| {r.backend} | {r.per_test * ms:.2f} | {statistics.median(r.loop_workers) * ms:.2f} "
            f"| {r.worker_extra * ms:+.2f} | {r.controller * ms:.2f} | {r.overhead * ms:.2f} "
            f"| {(r.overhead - plain.overhead) * ms:+.2f} | {r.loop_speedup():.2f}{TIMES} "
            f"| {r.loop_speedup(plain.overhead):.2f}{TIMES} |"
        )
    return "\n".join(lines)


def halves_table(results: Sequence[SuiteTimes]) -> str:
    lines = [
        "| suite | `-n 0` (s) | two `-n 0` halves at once (s) | speed-up of the halves "
        "| speed-up of `-n 2` | `-n 2` against the halves | per test alone (CPU ms) "
        "| per test, two at once (CPU ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if not r.halves:
            continue
        lines.append(
            f"| {r.backend} | {statistics.median(r.serial):.2f} "
            f"| {statistics.median(r.halves):.2f} | {r.halves_ratio:.2f}{TIMES} "
            f"| {r.ratio:.2f}{TIMES} | {r.ratio / r.halves_ratio:.2f}{TIMES} "
            f"| {r.per_test * 1000:.2f} | {statistics.median(r.loop_halves) * 1000:.2f} |"
        )
    return "\n".join(lines)


def halves_verdict(suites: Sequence[SuiteTimes]) -> str:
    """What xdist itself takes from the speed-up, ours against plain tests'."""
    plain = next(r for r in suites if r.backend == BASELINE)
    parts = [
        f"{r.backend}: two plain processes {r.halves_ratio:.2f}{TIMES}, `-n 2` "
        f"{r.ratio:.2f}{TIMES} ({r.ratio / r.halves_ratio:.2f} of it)"
        for r in suites
        if r.halves and r is not plain
    ]
    return (
        "What xdist keeps of what the cores give: plain tests without a database: two plain "
        f"processes {plain.halves_ratio:.2f}{TIMES}, `-n 2` {plain.ratio:.2f}{TIMES} "
        f"({plain.ratio / plain.halves_ratio:.2f} of it); " + "; ".join(parts) + ". The "
        "difference is xdist's: its controller is a third process on the 2 cores, which "
        "rebuilds and reports every test's three reports, and a plain worker sends it six "
        "messages per test (start, three reports, finish, done), each a write the worker "
        "flushes and the controller reads and wakes up for; aksara's workers send one "
        "(`_xdist_messages.py`). A test that costs less CPU loses a larger share to "
        "what remains, so a suite of cheaper tests keeps less of the halves' speed-up "
        "under any xdist run."
    )


def worker_cost_table(costs: Sequence[WorkerCost]) -> str:
    lines = [
        "| variant | start-up (CPU s) | collection (CPU s) | to the first test (CPU s) "
        "| per worker, total (CPU s) | more than plain xdist's (CPU s) "
        "| controller start to the last worker's first test (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    plain = next(c for c in costs if c.label == BASELINE)
    for c in costs:
        lines.append(
            f"| {c.label} | {c.start_up:.2f} | {c.collection:.2f} | {c.setup:.2f} "
            f"| {c.total:.2f} | {c.total - plain.total:+.2f} | {c.wall:.2f} |"
        )
    return "\n".join(lines)


def verdict(suites: Sequence[SuiteTimes], cores: float) -> str:
    """One sentence per database backend: what aksara reached against what the machine allows."""
    found = {r.backend: r for r in suites}
    parts = []
    for backend in ("sqlite", "postgres"):
        ours, hand = found.get(backend), found.get(HANDWRITTEN.format(backend=backend))
        if ours is None or hand is None:
            continue
        parts.append(
            f"{backend}: aksara {ours.ratio:.2f}{TIMES} (its CPU allows "
            f"{ours.ceiling(2):.2f}{TIMES} on 2 free cores, {ours.ceiling(cores):.2f}{TIMES} "
            f"on the {cores:.2f} measured), the hand-written fixture {hand.ratio:.2f}{TIMES}"
        )
        matched = found.get(MATCHED.format(backend=backend))
        if matched is not None:
            parts[-1] += (
                f", plain xdist on tests as costly as aksara's ({matched.per_test * 1000:.2f} "
                f"ms of CPU each at `-n 0`, against {ours.per_test * 1000:.2f} ms) "
                f"{matched.ratio:.2f}{TIMES}, so aksara reaches "
                f"{ours.ratio / matched.ratio:.2f}{TIMES} of plain xdist's speed-up on tests "
                "that cost what its tests cost"
            )
        ungrouped = found.get(UNGROUPED.format(backend=backend))
        if ungrouped is not None:
            parts[-1] += (
                f"; with xdist's six messages per test instead of one, aksara gets "
                f"{ungrouped.ratio:.2f}{TIMES} ({ungrouped.ratio / found[BASELINE].ratio:.2f}"
                f"{TIMES} of plain xdist's speed-up; its controller spends "
                f"{ungrouped.controller * 1000:.2f} ms of CPU per test, against "
                f"{ours.controller * 1000:.2f} ms with one message)"
            )
        worked = found.get(WORKED.format(backend=backend))
        if worked is not None:
            parts[-1] += (
                f"; the same with fixed work instead of a spin ({worked.per_test * 1000:.2f} ms "
                f"at `-n 0`, {(worked.per_test + worked.worker_extra) * 1000:.2f} ms in a "
                f"`-n 2` worker) {worked.ratio:.2f}{TIMES}, which is "
                f"{worked.ratio / found[BASELINE].ratio:.2f}{TIMES} of plain xdist's own "
                f"speed-up (the target's floor for tests doing real work), and aksara reaches "
                f"{ours.ratio / worked.ratio:.2f}{TIMES} of it"
            )
    plain = found[BASELINE]
    ending = (
        f"Plain pytest-xdist without a database: {plain.ratio:.2f}{TIMES} (its CPU allows "
        f"{plain.ceiling(2):.2f}{TIMES} on 2 free cores); the target is "
        f"{RELATIVE_TARGET:.2f} of it, {RELATIVE_TARGET * plain.ratio:.2f}{TIMES}."
    )
    return "Speed-up of `-n 2` on this machine during this run: " + "; ".join(parts) + ". " + ending


def setup_table(results: Sequence[SetupTimes]) -> str:
    lines = [
        "| backend | workers N | template + N clones (ms) | N migrated from scratch (ms) "
        "| floor: one migrate + N bare clones at once (ms) | clones vs one migrate "
        "| clones vs floor (lowest to highest round) | target | met |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        for n in WORKER_COUNTS:
            clones = statistics.median(r.clones[n]) * 1000
            scratch = statistics.median(r.scratch[n]) * 1000
            ratio = r.ratio(n)
            if r.floor[n]:
                floor = (
                    f"{r.floor_total(n) * 1000:.0f} ({r.floor_part(n, 0) * 1000:.0f} "
                    f"+ {r.floor_part(n, 1) * 1000:.0f})"
                )
                low, high = r.floor_spread(n)
                against = f"{r.floor_ratio(n):.2f}{TIMES} ({low:.2f} to {high:.2f})"
                target, met = 1.25, r.floor_ratio(n)
            else:
                floor, against, target, met = "—", "—", 1.5, ratio
            lines.append(
                f"| {r.backend} | {n} | {clones:.0f} | {scratch:.0f} | {floor} "
                f"| {ratio:.2f}{TIMES} | {against} "
                f"| ≤ {target:.2f}{TIMES} {'floor' if r.floor[n] else 'one migrate'} "
                f"| {yes(met <= target)} |"
            )
    return "\n".join(lines)


def phase_table(results: Sequence[SetupTimes]) -> str:
    """PostgreSQL: where our time goes, beside the floor's two parts."""
    lines = [
        "| workers N | builder's run lock taken | template built (its connections closed) "
        "| its N clones (last clone - template built) | floor: migrate | floor: N clones "
        "| ours - floor: up to the template | ours - floor: clones |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for n in WORKER_COUNTS:
            if not r.phases[n] or not r.floor[n]:
                continue
            lock = statistics.median(p[0] for p in r.phases[n]) * 1000
            built = statistics.median(p[1] for p in r.phases[n]) * 1000
            cloned = statistics.median(p[2] - p[1] for p in r.phases[n]) * 1000
            migrate, clones = r.floor_part(n, 0) * 1000, r.floor_part(n, 1) * 1000
            lines.append(
                f"| {n} | {lock:.0f} | {built:.0f} | {cloned:.0f} | {migrate:.0f} | {clones:.0f} "
                f"| {built - migrate:+.0f} | {cloned - clones:+.0f} |"
            )
    return "\n".join(lines)


def shard_table(results: dict[str, dict[str, list[Shard]]]) -> str:
    lines = [
        "| backend | algorithm | tests per group | estimated per group (s) "
        "| largest vs mean, estimated | measured per group (s) | largest vs mean, measured "
        "| target | met |",
        "|---|---|---|---|---:|---|---:|---|---|",
    ]
    for backend, by_algorithm in results.items():
        for algorithm, shards in by_algorithm.items():
            estimated = [s.estimated for s in shards]
            measured = [s.measured for s in shards]
            lines.append(
                f"| {backend} | {algorithm} | {', '.join(str(s.tests) for s in shards)} "
                f"| {', '.join(f'{v:.2f}' for v in estimated)} "
                f"| +{imbalance(estimated):.1%} "
                f"| {', '.join(f'{v:.2f}' for v in measured)} "
                f"| +{imbalance(measured):.1%} | ≤ +10% | {yes(imbalance(estimated) <= 0.10)} |"
            )
    return "\n".join(lines)


def clones_section(
    setups: Sequence[SetupTimes],
    strategies: dict[str, list[float]] | None,
    options: argparse.Namespace,
    backends: Sequence[str],
) -> str:
    """The worker-database part, between its own markers (``--only clones`` rewrites just it)."""
    per_clone = "; ".join(f"{s.backend} {s.per_clone() * 1000:.0f} ms" for s in setups)
    migrate = "; ".join(f"{s.backend} {s.one_migrate() * 1000:.0f} ms" for s in setups)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    return "\n".join(
        [
            CLONES_START,
            "### Worker databases ready: one migrate + clones vs migrating each, vs the floor",
            "",
            f"Schema: a {TABLES}-revision Alembic chain (one table and index per revision, "
            "async `env.py`), not `create_all`. Through the plugin's own "
            f"functions: N workers started together ({WORKERS_TEXT[WORKERS_AS[0]]}), "
            "each doing what a worker of "
            "`-n N` does: its run lock first (PostgreSQL: one server connection, which then "
            "does all the admin work), then `build_worker_database` (one worker migrates "
            "the template while the others wait; then PostgreSQL workers all run `CREATE "
            "DATABASE ... TEMPLATE` at once, SQLite workers copy the file in turn under "
            "their file lock; the last clone drops the template, in the background on "
            "PostgreSQL), timed until the last worker has its database; against N "
            "databases created and migrated one after the other, and (PostgreSQL) against "
            "the floor, measured in the same rounds: the server work our workers must do, "
            "on connections opened before the clock starts: the template's `CREATE "
            "DATABASE`, the Alembic chain, its `COMMENT` (the fingerprint), the wait for the "
            "migrate's server process to leave it, then N bare `CREATE DATABASE ... "
            "TEMPLATE` of it at once (the floor column: total (migrate + clones)). Ours and "
            "the floor always run side by side, each first in turn; migrating each goes "
            "first or last in turn. "
            f"Medians of {options.repeats} rounds; ratios = medians of per-round ratios, "
            "against one migrate from scratch (the N = 1 baseline) and against the floor of "
            f"the same round. One migrate: {migrate}; "
            f"each extra worker (from N = 1 to 8): {per_clone}.",
            "",
            setup_table(setups),
            "",
            "Clones of one template do run at once: `CREATE DATABASE ... TEMPLATE` takes a "
            "share lock on the template, which only a drop or `ALTER` waits for; with "
            "PostgreSQL 15's default strategy (WAL_LOG) each clone writes the template's "
            "pages to the WAL and syncs it once, no checkpoint. So N clones share the two "
            "cores and the disk with each other and with every other run on the machine: "
            "on this shared machine one clone has taken from 30 ms to 1 s, one migrate from "
            "0.2 to 6 s, which is why single rounds range widely (an earlier 2-round run "
            "found the floor for N = 8 below the one for N = 4) and only medians of "
            "side-by-side rounds mean anything.",
            "",
            *(
                [
                    "Where our time goes (PostgreSQL; ms from the start, medians of the rounds): "
                    "the run lock of the worker that builds the template (its connection opened, "
                    "the others' at the same time), the template built and its connections "
                    "closed, then the clones. Beside the floor's two parts, from the same rounds.",
                    "",
                    phase_table(setups),
                    "",
                ]
                if any(s.phases[n] for s in setups for n in WORKER_COUNTS)
                else []
            ),
            *(
                [
                    "What-if, not what the plugin does today: the clone statement alone, with "
                    "PostgreSQL 15's default strategy and with `STRATEGY = FILE_COPY` "
                    f"(alternating, {options.repeats} each):",
                    "",
                    strategy_table(strategies),
                    "",
                ]
                if strategies
                else []
            ),
            f"Measured by `{clones_command(options)}` on {today}; "
            f"{versions_line(backends)}; load average at its end {load}.",
            CLONES_END,
        ]
    )


def clones_command(options: argparse.Namespace) -> str:
    threads = " --workers-as threads" if options.workers_as == "threads" else ""
    if options.only == "clones":
        return (
            f"python benchmarks/parallel.py --only clones --backend {options.backend} "
            f"--repeats {options.repeats}{threads}"
        )
    return (
        f"python benchmarks/parallel.py --backend {options.backend} "
        f"--repeats {options.repeats} --tests {options.tests}{threads}"
    )


def section(
    cores: tuple[float, float],
    suites: Sequence[SuiteTimes],
    models: dict[str, CostModel],
    costs: Sequence[WorkerCost],
    setups: Sequence[SetupTimes],
    strategies: dict[str, list[float]] | None,
    shards: dict[str, dict[str, list[Shard]]],
    options: argparse.Namespace,
    backends: Sequence[str],
) -> str:
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    redone = (
        "Measurements redone because PostgreSQL refused the plugin's `DROP DATABASE ... "
        "WITH (FORCE)` while an autovacuum worker was in the database (a product bug, "
        f"reported): {len(REDONE)}: {'; '.join(REDONE)}."
        if REDONE
        else "No measurement had to be redone."
    )
    command = clones_command(options)
    return "\n".join(
        [
            START_MARKER,
            "## Parallel workers and sharding",
            "",
            f"`{command}` on {today}; {versions_line(backends)}; load average at the end {load} "
            "(the machine is shared: other engineers' test runs compete for the 2 cores).",
            "",
            f"### A {options.tests:,}-test database suite, without and with 2 workers",
            "",
            f"Cores two CPU-bound processes actually got (2 x one alone / two at once, "
            f"median of 3, before and after all measurements): {cores[0]:.2f} and "
            f"{cores[1]:.2f} of 2, the ceiling for any `-n 2` speed-up during this run.",
            "",
            "Wall time of whole `aksara test -q` subprocesses, median of "
            f"{options.repeats} alternating rounds after a warm-up; speed-up = median of "
            "per-round ratios. Each test adds 1 to 16 rows, commits and counts them.",
            "",
            suite_table(suites, options.tests, min(cores)),
            "",
            verdict(suites, min(cores)),
            "",
            "Baselines, timed in the same rounds, run by `python -m pytest -p no:aksara`: "
            "*no database* is the same number of async tests, each spinning 2 ms of CPU; "
            "*tests as costly as X's* is that suite with the spin cut so that a test costs "
            "as much CPU at `-n 0` as X's test did in this run (X's per-test CPU less pytest's "
            "own per test, measured on the 2 ms row: see the per-test table); *fixed work "
            "as costly as X's* does, instead of the spin, a fixed amount of real work (objects "
            "made, filled and sorted: `WORK_CODE` in the script), calibrated in the "
            "benchmark's own process to the CPU the spin stands for: a spin stops at a time, "
            "so its CPU per test cannot grow when the two processes share the cores, while "
            "real work's does (shared caches and memory bandwidth; the per-test table shows "
            "it); "
            "*hand-written rollback fixture* is the same database suite (same models and "
            "tests) with the fixture people write without aksara: a connection per test "
            "inside a transaction, a session joined with `create_savepoint`, rolled back "
            "after; each worker creates its own database with `create_all` (aiosqlite / "
            "asyncpg as shipped, no aksara speed-ups). *what-if: X with xdist's six "
            "messages per test* is X's suite run by `aksara test` with one message per test "
            "switched off (a plugin takes the request out of each worker's input), its "
            "rounds right after X's.",
            "",
            "CPU = user + system seconds of the pytest processes (controller and workers), "
            "median per run; the database server's own CPU is not in it. Ceiling = the "
            "speed-up that CPU allows if the tests' processes had that many cores to "
            "themselves: cores x CPU(`-n 0`) / CPU(`-n 2`). pytest-xdist's controller "
            "turns every test's three reports back into objects and runs the reporting "
            "hooks on them, and each worker serialises them (plain xdist in six messages "
            "per test, aksara's workers in one): with 2 ms tests plain xdist spends "
            "~1 ms of extra CPU per test on that, about half of a test, on top of a second "
            "start-up and collection per worker.",
            "",
            "Per-test CPU inside the test loop, from the same runs (a stamping plugin, "
            "`-p bench_loop`, in every run above): c = one test's CPU at `-n 0`, from the "
            "first test's call to the last test's end over the tests run (start-up, "
            "collection and the database set-up left out); under `-n 2`, the same in each "
            "worker (what a test costs there: c plus serialising its reports for the "
            "controller) and the controller's CPU in its test loop over all tests "
            "(receiving, rebuilding and reporting the reports). o = what `-n 2` adds per "
            "test, all processes together; 2c / (c + o) is the speed-up the test loop "
            "allows on 2 free cores, and the last column is that with plain xdist's o: the "
            "most a suite whose tests cost c can get if xdist cost it no more than it costs "
            "plain tests. Medians of per-round values.",
            "",
            loop_table(suites),
            "",
            "Without xdist: the suite's 20 modules in two halves (even and odd), each run "
            "by a `-n 0` process of its own with its own database, both started together, "
            "in the same rounds as the rows above (wall time until both end). This is what "
            "the 2 cores give these tests when nothing stands between them: no controller "
            "process, no per-test messages. Per test = CPU per test inside the test loop, "
            "alone (`-n 0`) and with the other half running beside it (what sharing the "
            "cores and caches adds).",
            "",
            halves_table(suites),
            "",
            halves_verdict(suites),
            "",
            "Where the time goes: the same suite at a tenth of the size, timed the same way, "
            "gives a straight line per variant (suite time = fixed + tests x per test, through "
            "the two medians). Fixed = start-up, collection (each worker collects the whole "
            "suite), database set-up; per test = the marginal cost of one more test.",
            "",
            cost_table(models),
            "",
            "Per-worker fixed cost, measured directly: the small suite at `-n 2` with a "
            "stamping plugin (`-p bench_stamp`), the CPU seconds (user + system) each worker "
            "spends before its first test, by phase: start-up = process start to the end of "
            "`pytest_configure` (interpreter, pytest, plugins and their imports); collection = "
            "collecting the suite (the test modules and what they import: SQLAlchemy and the "
            "models for the database suites); to the first test = fixtures and the worker's "
            f"database. Medians over both workers of {options.repeats} runs after a warm-up.",
            "",
            worker_cost_table(costs),
            "",
            clones_section(setups, strategies, options, backends),
            "",
            "### Shard balance, `--splits 4` by stored durations",
            "",
            "Durations stored by one `aksara test --store-durations` run of the suite above, "
            "then each group run once. Estimated = pytest-split's own estimate from the stored "
            "durations; measured = pytest's session time of the group (its database set-up "
            "included). One round: the estimate is deterministic, the measured column is noisy; "
            "`met` judges the estimate, which is what the groups are cut from.",
            "",
            shard_table(shards),
            "",
            redone,
            END_MARKER,
        ]
    )


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="all")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--tests", type=int, default=2000, help="suite size (default 2000)")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument(
        "--only",
        choices=("clones",),
        help="only the worker-database part (its own markers in RESULTS.md)",
    )
    parser.add_argument(
        "--workers-as",
        choices=("processes", "threads"),
        default="processes",
        help="worker databases: each worker a process (default, as xdist) or a thread",
    )
    options = parser.parse_args(argv)
    WORKERS_AS[0] = options.workers_as
    backends = ["sqlite", "postgres"] if options.backend == "all" else [options.backend]
    if "postgres" in backends and not os.environ.get(POSTGRES_VAR):
        if options.backend == "postgres":
            parser.error(f"{POSTGRES_VAR} is not set")
        print(f"{POSTGRES_VAR} is not set: SQLite only", file=sys.stderr)
        backends = ["sqlite"]

    if options.only == "clones":
        return only_clones(options, backends)
    suites, setups, shards, models = [], [], {}, {}
    costs: list[WorkerCost] = []
    strategies = None
    small_size = max(MODULES, options.tests // 10)
    repeats = options.repeats
    before = cores_available()
    with tempfile.TemporaryDirectory(prefix="aksara-parallel-") as tmp:
        for size, label in ((options.tests, "baseline"), (small_size, "baseline-small")):
            baseline = write_baseline(Path(tmp) / label, size)
            suites.append(
                measure_suite(baseline, BASELINE, size, repeats, halves=label == "baseline")
            )
        small_baseline = suites.pop()
        models[BASELINE] = CostModel.fit(suites[0], small_baseline)
        costs.append(measure_worker_cost(baseline, BASELINE, small_size, repeats))
        for backend in backends:
            label = HANDWRITTEN.format(backend=backend)
            sizes = ((options.tests, "hand"), (small_size, "hand-small"))
            for size, folder in sizes:
                hand = write_handwritten(Path(tmp) / f"{folder}-{backend}", backend, size)
                suites.append(measure_suite(hand, label, size, repeats))
            small_hand = suites.pop()
            models[label] = CostModel.fit(suites[-1], small_hand)
            costs.append(measure_worker_cost(hand, label, small_size, repeats))
            suite = write_suite(Path(tmp) / f"suite-{backend}", backend, options.tests)
            large = measure_suite(suite, backend, options.tests, repeats, halves=True)
            suites.append(large)
            label = UNGROUPED.format(backend=backend)
            suites.append(measure_suite(suite, label, options.tests, repeats))
            # The floor of the relative target: plain xdist on tests that cost as much CPU
            # at -n 0 as ours (the spin less pytest's own cost per test, from the 2 ms row).
            spin = max(0.0, large.per_test - (suites[0].per_test - BUSY_SPIN))
            matched = write_baseline(Path(tmp) / f"matched-{backend}", options.tests, spin)
            suites.append(
                measure_suite(matched, MATCHED.format(backend=backend), options.tests, repeats)
            )
            # Calibrated here, then corrected on a small run: in a pytest process (a larger
            # heap for the collector to walk) the same work costs more than in this one.
            units = work_units(spin)
            probe = write_worked(Path(tmp) / f"probe-{backend}", small_size, units)
            probed = measure_suite(probe, "probe", small_size, 1).per_test
            pytest_own = suites[0].per_test - BUSY_SPIN
            units = max(1, round(units * spin / max(probed - pytest_own, 1e-4)))
            worked = write_worked(Path(tmp) / f"worked-{backend}", options.tests, units)
            suites.append(
                measure_suite(worked, WORKED.format(backend=backend), options.tests, repeats)
            )
            small_suite = write_suite(Path(tmp) / f"small-{backend}", backend, small_size)
            small = measure_suite(small_suite, backend, small_size, repeats)
            models[backend] = CostModel.fit(large, small)
            costs.append(measure_worker_cost(small_suite, backend, small_size, repeats))
            shards[backend] = measure_shards(suite, options.tests)
            migrations = write_migrations(Path(tmp) / f"migrations-{backend}", backend)
            setups.append(measure_setup(migrations, backend, repeats))
            if backend == "postgres":
                strategies = redoing(
                    "clone strategies", partial(_clone_strategies, migrations, repeats)
                )

    cores = (before, cores_available())
    text = section(cores, suites, models, costs, setups, strategies, shards, options, backends)
    print(text)
    if options.write:
        replace_section(text, START_MARKER, END_MARKER)
        print("wrote benchmarks/RESULTS.md", file=sys.stderr)
    return 0


def only_clones(options: argparse.Namespace, backends: Sequence[str]) -> int:
    """``--only clones``: the worker-database measurement alone, with its strategy what-if."""
    setups, strategies = [], None
    with tempfile.TemporaryDirectory(prefix="aksara-parallel-") as tmp:
        for backend in backends:
            migrations = write_migrations(Path(tmp) / f"migrations-{backend}", backend)
            setups.append(measure_setup(migrations, backend, options.repeats))
            if backend == "postgres":
                strategies = redoing(
                    "clone strategies", partial(_clone_strategies, migrations, options.repeats)
                )
    text = clones_section(setups, strategies, options, backends)
    print(text)
    if options.write:
        replace_section(text, CLONES_START, CLONES_END)
        print("wrote benchmarks/RESULTS.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
