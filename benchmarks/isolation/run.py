"""Per-test database isolation benchmark.

What it measures
----------------
How much each way of isolating database tests from one another costs *per
test*. Every test does the same work: insert one row into
``items(id integer pk, name text)``, commit, ``SELECT count(*)`` and assert
the count is 1 — so it only passes if isolation really works.

Method
------
For each backend and variant the harness generates two throwaway pytest
projects from ``templates/<variant>/`` in a temporary directory: one with 1
test and one with N tests (``--tests``, default 1,000). Each project is run
in a fresh subprocess::

    python -m pytest -q -p no:randomly -p no:cacheprovider

and timed from the outside (wall clock, ``time.perf_counter``). Start-up,
collection overhead, schema creation and teardown appear in both runs, so

    per-test cost = (T_N - T_1) / (N - 1)

isolates what one more test costs. One untimed warm-up pass writes bytecode
caches (under ``PYTHONPYCACHEPREFIX`` in the temporary directory;
``PYTHONDONTWRITEBYTECODE`` is removed so runs do not recompile the N-test
module) and migrates the databases; then ``--repeats`` timed passes run every
(backend, variant, N) job once each, **interleaved** (the job order is
rotated every pass) so that machine noise spreads over all variants instead
of landing on one. Each pass must report exactly N passed tests.

Reported per variant: the median per-test cost over the passes, its min-max,
and the ratio against variant (b) — the median of the per-pass ratios, i.e.
paired within a pass, which is steadier than a ratio of medians on a noisy
machine.

Variants
--------
(a) plain-async        async tests with no database work
(b) savepoint-fixture  the usual hand-written SQLAlchemy savepoint conftest
(c) delete-all         real commits, every table emptied after each test
(d) pytest-django      @pytest.mark.django_db sync tests, Django ORM
(e) aksara             our plugin's ``db_session`` fixture, configured from
                       ``[tool.aksara]``, no conftest; skipped with a note
                       while ``aksara_testing`` cannot be imported or its
                       1-test project does not pass (plugin not ready yet)
(f) work-only          the floor: the same work with no isolation at all (one
                       session on one connection in one transaction for the
                       run, ``join_transaction_mode="rollback_only"`` so
                       ``commit()`` only flushes; the rows pile up, so it
                       asserts ``>= 1``): what every variant pays
(g) aksara-flush-commit a what-if, not an option of the plugin: (e) with the
                       test's session joined in ``rollback_only`` mode, so
                       ``commit()`` only flushes: what the production
                       behaviour of ``commit()``/``rollback()`` in a test costs
(h) work-only-inline   SQLite only: the floor (f) on the SQLite driver aksara's
                       test engine uses (sqlite3 on the event-loop thread, no
                       hop to aiosqlite's thread), so (e) - (h) is isolation
                       alone on the same driver; (f) runs stock aiosqlite, as
                       (b) does. On PostgreSQL aksara's engine is stock
                       asyncpg, and (f) is that floor already

Statements and round trips per test ((b), (e), (f), (g); ``--count-tests`` K):
the 1- and K-test projects run once more with a counter (``_wire.py``, shared
with ``sync_run.py``); per test = (count_K - count_1)/(K - 1). SQLite: every
statement the SQLite library runs (sqlite3's trace callback). PostgreSQL: the
projects connect through a counting proxy in this process; round trip = a
simple query or a Sync, each answered by ReadyForQuery. A bare round trip
(asyncpg, ``SELECT 1`` as a simple query, median of 1,000) is timed before
each pass, for the floor's parts.

Each variant blocks the other variants' pytest plugins (``-p no:django``,
``-p no:asyncio``, ``-p no:aksara``): an installed but unused pytest-django
alone adds ~0.7 ms per test through its autouse fixtures, and our plugin
changes pytest-asyncio's defaults. Other installed plugins are left alone.

Backends: SQLite (a file per project; Django uses its default in-memory test
database) and PostgreSQL, whose server URL comes from the environment
variable ``AKSARA_TEST_POSTGRES_URL`` (PostgreSQL is skipped when it is
unset). Each variant gets its own database, ``test_bench_<variant>``, created
before and dropped after the runs; the harness never creates or drops any
other name. (Our plugin derives its test database as ``test_`` + the name in
``database_url``, so variant (e) is configured with ``bench_aksara``, a
database that is never created, and the plugin itself creates and drops
``test_bench_aksara`` in every run; SQLite's ``sqlite:///app.db`` becomes a
``test_app.db`` in the plugin's own temporary folder.) pytest-django runs
with ``--reuse-db`` and ``TEST NAME`` set, so it uses the harness's database
instead of creating and dropping its own.

Usage::

    python benchmarks/isolation/run.py [--backend sqlite|postgres|all]
        [--repeats 5] [--tests 1000] [--warmup 1] [--variants abcdefg] [--count-tests 21]
        [--no-counts] [--counts-only] [--write] [--keep]

``--write`` replaces the section between ``<!-- isolation:start -->`` and
``<!-- isolation:end -->`` in ``benchmarks/RESULTS.md`` (creating the file or
appending the section if needed).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _wire as wire  # noqa: E402  (statement and round-trip counting, shared with sync_run.py)

TEMPLATES = HERE / "templates"
RESULTS_FILE = HERE.parent / "RESULTS.md"
START_MARKER = "<!-- isolation:start -->"
END_MARKER = "<!-- isolation:end -->"
POSTGRES_ENV = "AKSARA_TEST_POSTGRES_URL"
URL_PLACEHOLDER = "@DATABASE_URL@"
REPEAT_MARKER = "# --- repeated for each test ---"
TEST_FILE = "test_items.py"
BASELINE = "b"
OURS = "e"
FLOOR = "f"
WHAT_IF = "g"  # (e) with commit() only flushing
INLINE_FLOOR = "h"  # SQLite: (f) on aksara's own driver
TARGETS = {"postgres": 0.5, "sqlite": 0.35}  # issue 18: (e) against (b)
NOISY_SPREAD = 0.5
RUN_TIMEOUT_S = 1800
DB_NAME_RE = re.compile(r"test_bench_[a-z0-9_]+")
PROGRESS_RE = re.compile(r"^[.EFsxX]+\s+\[\s*\d+%\]$")  # pytest -q progress line
# PYTHONDONTWRITEBYTECODE would make every run recompile (and assert-rewrite)
# the N-test module, a cost that grows with N and is not isolation.
ENV_TO_DROP = (
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "DJANGO_SETTINGS_MODULE",
    "PYTHONDONTWRITEBYTECODE",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
)


# --------------------------------------------------------------------------
# Variants and backends
# --------------------------------------------------------------------------


# pytest plugins (entry-point names) that belong to one variant or another.
# Each variant blocks the ones it does not use (``-p no:<name>``): merely
# installed, pytest-django adds ~0.7 ms of autouse fixtures to every test, and
# our own plugin changes pytest-asyncio defaults. Plugins outside this set
# (Faker, anyio, xdist, pytest-cov, ...) are shared environment for all.
VARIANT_PLUGINS = ("asyncio", "django", "aksara")


@dataclass(frozen=True)
class Variant:
    letter: str
    key: str
    template: str
    description: str
    plugins: tuple[str, ...]  # from VARIANT_PLUGINS: the ones this variant uses
    uses_database: bool = True
    # URL flavour written into the project: "async" -> sqlite+aiosqlite /
    # postgresql+asyncpg; "plain" -> sqlite:///app.db / postgresql://.
    url_style: str = "async"
    extra_args: tuple[str, ...] = ()
    # Optional variants are skipped with a note (not fatal) if they fail to run.
    optional: bool = False
    # The tool derives its test database as "test_" + the configured name, so
    # the project names "bench_<variant>" to land on "test_bench_<variant>".
    derives_test_database: bool = False
    # Importable modules needed; "a|b" means either will do.
    requires: tuple[str, ...] = ()
    postgres_requires: tuple[str, ...] = ()
    # The backends it runs on (all when empty).
    backends: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"({self.letter}) {self.key}"

    @property
    def pytest_args(self) -> list[str]:
        blocked = [name for name in VARIANT_PLUGINS if name not in self.plugins]
        return [arg for name in blocked for arg in ("-p", f"no:{name}")] + list(self.extra_args)


_AKSARA = Variant(
    "e",
    "aksara",
    "aksara",
    "aksara-testing `db_session` fixture",
    plugins=("aksara", "asyncio"),
    url_style="plain",
    optional=True,
    derives_test_database=True,
    requires=("aksara_testing",),
    postgres_requires=("asyncpg",),
)

VARIANTS: tuple[Variant, ...] = (
    Variant(
        "a",
        "plain-async",
        "plain_async",
        "async tests, no database work",
        plugins=("asyncio",),
        uses_database=False,
        requires=("pytest_asyncio",),
    ),
    Variant(
        "b",
        "savepoint-fixture",
        "savepoint_fixture",
        "hand-written SQLAlchemy savepoint fixture",
        plugins=("asyncio",),
        requires=("pytest_asyncio", "sqlalchemy", "aiosqlite"),
        postgres_requires=("asyncpg",),
    ),
    Variant(
        "c",
        "delete-all",
        "delete_all",
        "real commits + DELETE from all tables",
        plugins=("asyncio",),
        requires=("pytest_asyncio", "sqlalchemy", "aiosqlite"),
        postgres_requires=("asyncpg",),
    ),
    Variant(
        "d",
        "pytest-django",
        "pytest_django",
        "pytest-django, sync Django ORM",
        plugins=("django",),
        url_style="plain",
        extra_args=("--reuse-db",),
        requires=("django", "pytest_django"),
        postgres_requires=("psycopg|psycopg2",),
    ),
    _AKSARA,
    Variant(
        "f",
        "work-only",
        "work_only",
        "the floor: the test's own work, no isolation (one session, one transaction)",
        plugins=("asyncio",),
        requires=("pytest_asyncio", "sqlalchemy", "aiosqlite"),
        postgres_requires=("asyncpg",),
    ),
    replace(
        _AKSARA,
        letter="g",
        key="aksara-flush-commit",
        template="aksara_flush_commit",
        description="what-if: (e) with commit() only flushing (rollback_only session)",
    ),
    Variant(
        "h",
        "work-only-inline",
        "work_only_inline",
        "the floor (f) on aksara's SQLite driver (sqlite3 on the loop thread)",
        plugins=("asyncio",),
        url_style="async",
        requires=("pytest_asyncio", "sqlalchemy", "aiosqlite", "aksara_testing"),
        backends=("sqlite",),
    ),
)


@dataclass(frozen=True)
class Backend:
    name: str  # "sqlite" or "postgres"
    server_url: str | None = None  # PostgreSQL admin URL


def database_name(variant: Variant) -> str:
    name = "test_bench_" + variant.key.replace("-", "_")
    if not DB_NAME_RE.fullmatch(name):
        raise ValueError(f"refusing to use database name {name!r}")
    return name


def database_url(
    backend: Backend, variant: Variant, project: Path, proxy_port: int | None = None
) -> str:
    """The URL written into a generated project (through the counting proxy on ``proxy_port``)."""
    if backend.name == "sqlite":
        if variant.url_style == "plain":
            return "sqlite:///app.db"  # relative to the project (pytest's cwd)
        return f"sqlite+aiosqlite:///{project / 'app.db'}"
    from sqlalchemy.engine import make_url

    assert backend.server_url is not None
    driver = "postgresql+asyncpg" if variant.url_style == "async" else "postgresql"
    name = database_name(variant)
    if variant.derives_test_database:
        name = name.removeprefix("test_")
    url = make_url(backend.server_url).set(drivername=driver, database=name)
    rendered = url.render_as_string(hide_password=False)
    return wire.proxied_url(rendered, proxy_port) if proxy_port is not None else rendered


def missing_modules(variant: Variant, backend: Backend) -> list[str]:
    needed = list(variant.requires)
    if backend.name == "postgres" and variant.uses_database:
        needed += variant.postgres_requires
    return [
        spec for spec in needed if not any(importlib.util.find_spec(m) for m in spec.split("|"))
    ]


# --------------------------------------------------------------------------
# Project generation
# --------------------------------------------------------------------------


def expand_tests(template: str, n: int) -> str:
    """Repeat the part of a test template after REPEAT_MARKER n times."""
    header, marker, body = template.partition(REPEAT_MARKER)
    if not marker:
        raise ValueError(f"{TEST_FILE} template lacks {REPEAT_MARKER!r}")
    copies = (body.replace("test_item_0(", f"test_item_{i}(") for i in range(n))
    return header + marker + "".join(copies)


def generate_project(
    variant: Variant, backend: Backend, n: int, root: Path, proxy_port: int | None = None
) -> Path:
    project = root / backend.name / variant.template / f"n{n}"
    shutil.copytree(
        TEMPLATES / variant.template,
        project,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.db"),
    )
    url = database_url(backend, variant, project, proxy_port)
    for path in project.rglob("*"):
        if path.suffix in {".py", ".toml"}:
            text = path.read_text().replace(URL_PLACEHOLDER, url)
            if path.name == TEST_FILE:
                text = expand_tests(text, n)
            path.write_text(text)
    return project


# --------------------------------------------------------------------------
# PostgreSQL databases
# --------------------------------------------------------------------------


def admin_dsn(server_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _execute_admin(server_url: str, statements: Sequence[str]) -> str:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(admin_dsn(server_url))
    try:
        for statement in statements:
            await conn.execute(statement)
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def _round_trips(server_url: str, samples: int) -> float:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn(server_url))
    try:
        times = []
        for _ in range(samples):
            start = time.perf_counter()
            await conn.execute("SELECT 1")  # one simple-query message, one ReadyForQuery
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000
    finally:
        await conn.close()


def round_trip_ms(server_url: str, samples: int = 1000) -> float:
    """The median time of one bare round trip to the server through asyncpg, in ms."""
    return asyncio.run(_round_trips(server_url, samples))


def drop_statement(name: str) -> str:
    return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'


@contextmanager
def postgres_databases(backend: Backend, variants: Sequence[Variant]) -> Iterator[str]:
    """Create test_bench_<variant> for each variant; drop them all on exit.

    Yields the server version.
    """
    assert backend.server_url is not None
    names = [database_name(v) for v in variants if v.uses_database]
    setup = [s for name in names for s in (drop_statement(name), f'CREATE DATABASE "{name}"')]
    version = asyncio.run(_execute_admin(backend.server_url, setup))
    try:
        yield version
    finally:
        asyncio.run(_execute_admin(backend.server_url, [drop_statement(n) for n in names]))


# --------------------------------------------------------------------------
# Running and timing
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    backend: Backend
    variant: Variant
    n: int
    project: Path
    pycache: Path  # PYTHONPYCACHEPREFIX, inside the temporary directory


def pytest_env(pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_TO_DROP}
    env.pop(POSTGRES_ENV, None)  # projects carry their own URL
    # Bytecode is cached, but under the temporary directory only: nothing is
    # written next to the sources of installed packages or of this repository.
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


# Loaded into every timed run (``-p _phase_clock``): the wall clock around pytest's
# test loop, written to the file named by BENCH_PHASE_FILE. The per-test cost from it
# leaves out start-up, collection and exit, which the whole-run figure includes.
PHASE_CLOCK = """
import os, time
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtestloop(session):
    start = time.perf_counter()
    yield
    with open(os.environ["BENCH_PHASE_FILE"], "w") as out:
        out.write(repr(time.perf_counter() - start))
"""


@dataclass(frozen=True)
class Timing:
    wall: float  # the whole subprocess, seconds
    loop: float  # pytest's test loop inside it, seconds


def run_timed(job: Job, clock_dir: Path) -> Timing:
    """Run one generated project with the phase clock; return both of its times."""
    phase_file = clock_dir / "phase.txt"
    phase_file.unlink(missing_ok=True)
    path = os.pathsep.join(p for p in (str(clock_dir), os.environ.get("PYTHONPATH", "")) if p)
    wall = run_job(
        job, ("-p", "_phase_clock"), {"PYTHONPATH": path, "BENCH_PHASE_FILE": str(phase_file)}
    )
    return Timing(wall, float(phase_file.read_text()))


def run_job(
    job: Job, extra_args: Sequence[str] = (), extra_env: dict[str, str] | None = None
) -> float:
    """Run one generated project; return its wall-clock seconds."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        *job.variant.pytest_args,
        *extra_args,
    ]
    start = time.perf_counter()
    proc = subprocess.run(
        cmd,
        cwd=job.project,
        env={**pytest_env(job.pycache), **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    elapsed = time.perf_counter() - start
    check_outcome(proc, job)
    return elapsed


class RunFailed(RuntimeError):
    """A generated project did not pass exactly its N tests."""

    def __init__(self, job: Job, returncode: int, output: str) -> None:
        self.output = output
        tail = "\n".join(output.strip().splitlines()[-40:])
        super().__init__(
            f"{job.backend.name} {job.variant.label} N={job.n} did not pass "
            f"all {job.n} tests (exit {returncode}) in {job.project}:\n{tail}"
        )

    def reason(self) -> str:
        """The first pytest error line (`E ...`), else the last line of output."""
        lines = self.output.strip().splitlines()
        errors = [
            line[1:].strip()
            for line in lines
            if line.startswith("E ") and not PROGRESS_RE.match(line)
        ]
        return (errors or lines or ["no output"])[0 if errors else -1].strip()


def check_outcome(proc: subprocess.CompletedProcess[str], job: Job) -> None:
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    passed = re.search(r"(\d+) passed", summary)
    if (
        proc.returncode == 0
        and passed
        and int(passed.group(1)) == job.n
        and "skipped" not in summary
    ):
        return
    raise RunFailed(job, proc.returncode, proc.stdout + proc.stderr)


def preflight(jobs: Sequence[Job], notes: list[str]) -> list[Job]:
    """Run optional variants' N=1 projects once; drop the variants that fail."""
    failed: set[tuple[str, str]] = set()
    for job in jobs:
        if job.variant.optional and job.n == 1:
            try:
                run_job(job)
            except RunFailed as error:
                failed.add((job.backend.name, job.variant.letter))
                notes.append(
                    f"{job.variant.label} skipped on {job.backend.name}: "
                    f"its 1-test project does not pass (`{error.reason()}`)."
                )
    return [j for j in jobs if (j.backend.name, j.variant.letter) not in failed]


def rotated(items: Sequence[Job], by: int) -> list[Job]:
    k = by % len(items)
    return [*items[k:], *items[:k]]


def time_jobs(
    jobs: Sequence[Job],
    repeats: int,
    warmup: int,
    clock_dir: Path,
    each_pass: Callable[[], None] = lambda: None,
) -> dict[Job, list[Timing]]:
    clock_dir.mkdir(parents=True, exist_ok=True)
    (clock_dir / "_phase_clock.py").write_text(PHASE_CLOCK)
    timings: dict[Job, list[Timing]] = {job: [] for job in jobs}
    total = (warmup + repeats) * len(jobs)
    done = 0
    for rep in range(-warmup, repeats):
        if rep >= 0:
            each_pass()
        for job in rotated(jobs, rep):
            timing = run_timed(job, clock_dir)
            done += 1
            tag = "warm-up" if rep < 0 else f"pass {rep + 1}/{repeats}"
            log(
                f"[{done}/{total}] {tag}: {job.backend.name} {job.variant.label} "
                f"N={job.n}: {timing.wall:.2f} s (tests {timing.loop:.2f} s)"
            )
            if rep >= 0:
                timings[job].append(timing)
    return timings


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Statements and round trips per test
# --------------------------------------------------------------------------

COUNTED = ("a", "b", "e", "f", "g", "h")  # no database, the baseline, ours, the floors, what-if


def count_statements(
    backend: Backend, variant: Variant, k: int, root: Path, pycache: Path
) -> wire.Counts:
    """Per-test statements (PostgreSQL: and round trips) of ``variant``, from 1- and K-test runs."""
    samples = []
    with wire.maybe_proxy(backend.server_url) as proxy:
        for n in (1, k):
            port = proxy.port if proxy else None
            project = generate_project(variant, backend, n, root / "counts", port)
            job = Job(backend, variant, n, project, pycache)
            args, env = wire.sqlite_plugin(project)  # also counts Python calls
            if proxy is not None:
                samples.append(proxy.measure(functools.partial(run_job, job, args, env), project))
            else:
                run_job(job, args, env)
                samples.append(wire.read_sqlite_counts(project))
    return wire.per_test(samples[0], samples[1], k)


def count_all(
    jobs: Sequence[Job], k: int, root: Path, pycache: Path
) -> dict[tuple[str, str], wire.Counts]:
    """Counts of the counted variants among ``jobs``, by (backend, variant letter)."""
    counts: dict[tuple[str, str], wire.Counts] = {}
    for job in jobs:
        key = (job.backend.name, job.variant.letter)
        if job.n == 1 and job.variant.letter in COUNTED and key not in counts:
            log(f"counting statements: {job.backend.name} {job.variant.label}")
            counts[key] = count_statements(job.backend, job.variant, k, root, pycache)
    return counts


def counts_table(counts: dict[tuple[str, str], wire.Counts]) -> str:
    lines = [
        "| Backend | Variant | statements/test | round trips/test | Python calls/test "
        "| statements |",
        "|---|---|---:|---:|---:|---|",
    ]
    order = sorted(counts, key=lambda key: (key[0] != "sqlite", key[1]))
    for backend, letter in order:
        c = counts[(backend, letter)]
        label = next(v.label for v in VARIANTS if v.letter == letter)
        calls = f"{c.calls:,.0f}" if c.calls is not None else "-"
        lines.append(
            f"| {backend} | {label} | {wire._num(c.total)} | {c.trips()} | {calls} "
            f"| {c.describe()} |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclass
class Row:
    backend: str
    variant: Variant
    costs_ms: list[float]  # per pass
    t1: list[float]
    tn: list[float]
    loop_ms: list[float]  # per pass, from the test loop alone
    ratios: list[float] = field(default_factory=list)  # per pass, against (b)
    loop_ratios: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.costs_ms)


def per_test_costs(t1: Sequence[float], tn: Sequence[float], n: int) -> list[float]:
    return [(big - small) / (n - 1) * 1000 for small, big in zip(t1, tn, strict=True)]


def build_rows(timings: dict[Job, list[Timing]], n: int) -> list[Row]:
    by_key = {(j.backend.name, j.variant.letter, j.n): t for j, t in timings.items()}
    rows: list[Row] = []
    for job in timings:
        if job.n != n:
            continue
        one = by_key[(job.backend.name, job.variant.letter, 1)]
        t1, tn = [t.wall for t in one], [t.wall for t in timings[job]]
        loops = per_test_costs([t.loop for t in one], [t.loop for t in timings[job]], n)
        rows.append(Row(job.backend.name, job.variant, per_test_costs(t1, tn, n), t1, tn, loops))
    for row in rows:
        base = next(
            (r for r in rows if r.backend == row.backend and r.variant.letter == BASELINE), None
        )
        if base is not None:
            row.ratios = [c / b for c, b in zip(row.costs_ms, base.costs_ms, strict=True)]
            row.loop_ratios = [c / b for c, b in zip(row.loop_ms, base.loop_ms, strict=True)]
    rows.sort(key=lambda r: (r.backend != "sqlite", r.variant.letter))
    return rows


def markdown_table(rows: Sequence[Row], n: int) -> str:
    lines = [
        f"| Backend | Variant | ms/test (median) | range | x (b) | tests only: ms/test | x (b) "
        f"| target | met | T1 s | T{n} s |",
        "|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|",
    ]
    for r in rows:
        ratio = f"{statistics.median(r.ratios):.2f}x" if r.ratios else "-"
        loop_ratio = f"{statistics.median(r.loop_ratios):.2f}x" if r.loop_ratios else "-"
        target, met = "", ""
        if r.variant.letter == OURS and r.ratios and r.backend in TARGETS:
            goal = TARGETS[r.backend]
            target = f"<= {goal:.2f}x"
            both = (statistics.median(r.ratios), statistics.median(r.loop_ratios))
            met = "yes" if max(both) <= goal else "tests only" if both[1] <= goal else "**no**"
        elif r.variant.letter == FLOOR:
            target = "floor"
        elif r.variant.letter == INLINE_FLOOR:
            target = "floor, our driver"
        lines.append(
            f"| {r.backend} | {r.variant.label} | {r.median_ms:.2f} | "
            f"{min(r.costs_ms):.2f} to {max(r.costs_ms):.2f} | {ratio} | "
            f"{statistics.median(r.loop_ms):.2f} | {loop_ratio} | {target} | {met} | "
            f"{statistics.median(r.t1):.2f} | {statistics.median(r.tn):.2f} |"
        )
    return "\n".join(lines)


def _paired(rows: Sequence[Row], backend: str, a: str, b: str) -> list[float] | None:
    """Per-pass differences cost(a) - cost(b), ms/test, on ``backend``."""
    found = {r.variant.letter: r for r in rows if r.backend == backend}
    if a not in found or b not in found:
        return None
    return [x - y for x, y in zip(found[a].costs_ms, found[b].costs_ms, strict=True)]


def _budget(base: Row, floor: Row, goal: float) -> float:
    """ms/test the target leaves for isolation on top of ``floor`` (median over passes)."""
    return statistics.median(
        goal * b - f for b, f in zip(base.costs_ms, floor.costs_ms, strict=True)
    )


def floor_notes(
    rows: Sequence[Row],
    counts: dict[tuple[str, str], wire.Counts],
    round_trip_ms: Sequence[float],
) -> list[str]:
    """The floor under the target and its parts, per backend, from this run's rows."""
    notes = []
    for backend in ("sqlite", "postgres"):
        found = {r.variant.letter: r for r in rows if r.backend == backend}
        if not {BASELINE, OURS, FLOOR} <= set(found):
            continue
        base, ours, floor = found[BASELINE], found[OURS], found[FLOOR]
        goal = TARGETS[backend]
        work = _paired(rows, backend, FLOOR, "a")
        isolation = _paired(rows, backend, OURS, FLOOR)
        assert isolation is not None
        text = (
            f"{backend}: floor (f) = {floor.median_ms:.2f} ms/test = "
            f"{statistics.median(floor.ratios):.2f}x (b)"
        )
        if work is not None:
            text += (
                f" (the async test itself, (a), {found['a'].median_ms:.2f} ms + its ORM work "
                f"and statements {statistics.median(work):.2f} ms)"
            )
        budget = _budget(base, floor, goal)
        text += (
            f". The target {goal:.2f}x (b) leaves {budget:.2f} ms/test "
            f"for isolation on top of the floor; aksara's isolation costs (e) - (f) = "
            f"{statistics.median(isolation):.2f} ms/test"
        )
        if budget <= 0 and statistics.median(ours.ratios) > goal:
            text += (
                " (the target is below the floor: reaching it needs a test with no isolation "
                "at all, the requirement (f) gives up, or less work than the test's own)"
            )
        ours_counts, floor_counts = counts.get((backend, OURS)), counts.get((backend, FLOOR))
        if (
            backend == "postgres"
            and ours_counts
            and ours_counts.round_trips
            and floor_counts
            and floor_counts.round_trips is not None
            and round_trip_ms
        ):
            floor_trips = floor_counts.round_trips
            extra = ours_counts.round_trips - floor_trips
            rt = statistics.median(round_trip_ms)
            text += (
                f", of which {wire._num(extra)} round trips more than the floor's "
                f"{wire._num(floor_trips)} x {rt:.3f} ms (a bare round trip measured in this "
                f"run, median of {len(round_trip_ms)} samples) = {extra * rt:.2f} ms; the rest is "
                "Python: SQLAlchemy's savepoint transactions for the session, a new session "
                "per test, the plugin's hooks"
            )
            if 0 < budget < extra * rt and statistics.median(ours.ratios) > goal:
                text += (
                    f" (those {wire._num(extra)} round trips alone cost more than the "
                    f"{budget:.2f} ms the target leaves: with `commit()` and `rollback()` "
                    "working as in production, reaching the target means giving up isolation "
                    "itself, or a faster network than loopback)"
                )
        calls = {
            letter: counts[(backend, letter)].calls
            for letter in ("a", "b", "e", "f")
            if (backend, letter) in counts
        }
        if all(calls.get(letter) is not None for letter in ("a", "b", "e", "f")):
            a, b, e, f = (float(calls[letter] or 0) for letter in ("a", "b", "e", "f"))
            text += (
                f". In Python calls per test (a count the machine's load does not move; (a) = "
                f"{a:,.0f}), over the test with no database: (b) {b - a:,.0f}, (e) {e - a:,.0f} "
                f"= {(e - a) / (b - a):.2f}x, (f) {f - a:,.0f} = {(f - a) / (b - a):.2f}x"
            )
        what_if = found.get(WHAT_IF)
        if what_if is not None and what_if.ratios:
            saved = _paired(rows, backend, OURS, WHAT_IF)
            assert saved is not None
            text += (
                f". What-if (g), the same plugin with `commit()` only flushing (the production "
                f"behaviour of `commit()` and `rollback()` inside a test given up): "
                f"{what_if.median_ms:.2f} ms/test = {statistics.median(what_if.ratios):.2f}x (b), "
                f"(e) - (g) = {statistics.median(saved):.2f} ms/test"
            )
            what_if_counts = counts.get((backend, WHAT_IF))
            if what_if_counts and what_if_counts.calls is not None and ours_counts:
                text += (
                    f", {float(ours_counts.calls or 0) - float(what_if_counts.calls):,.0f} "
                    "Python calls"
                )
                if what_if_counts.round_trips is not None and ours_counts.round_trips:
                    text += (
                        f" and {wire._num(ours_counts.round_trips - what_if_counts.round_trips)} "
                        "round trip"
                    )
        inline = found.get(INLINE_FLOOR)
        if inline is not None and inline.ratios:
            isolation = _paired(rows, backend, OURS, INLINE_FLOOR)
            assert isolation is not None
            text += (
                f". On the SQLite driver aksara's engine uses (sqlite3 on the loop thread), the "
                f"floor (h) = {inline.median_ms:.2f} ms/test = "
                f"{statistics.median(inline.ratios):.2f}x (b): the target leaves "
                f"{_budget(base, inline, goal):.2f} ms/test for isolation on top of it; "
                f"aksara's isolation costs (e) - (h) = {statistics.median(isolation):.2f} ms/test"
            )
        notes.append(text + f" ({'met' if statistics.median(ours.ratios) <= goal else 'missed'}).")
    return notes


def noise_notes(rows: Sequence[Row]) -> list[str]:
    """Flag rows whose passes disagree by more than NOISY_SPREAD of their median."""
    noisy = [
        f"{r.backend} {r.variant.label}"
        for r in rows
        if len(r.costs_ms) > 1
        and (max(r.costs_ms) - min(r.costs_ms)) > NOISY_SPREAD * abs(r.median_ms)
    ]
    if not noisy:
        return []
    return [
        f"Noisy (min-max wider than {NOISY_SPREAD:.0%} of the median): {', '.join(noisy)}. "
        "Rerun with more --repeats on a quieter machine before trusting these rows."
    ]


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_description(pg_version: str | None) -> str:
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    versions = ", ".join(
        f"{name} {package_version(name)}"
        for name in (
            "SQLAlchemy",
            "pytest",
            "pytest-asyncio",
            "aiosqlite",
            "asyncpg",
            "Django",
            "pytest-django",
        )
    )
    pg = f", PostgreSQL {pg_version}" if pg_version else ""
    return (
        f"{nproc} CPUs ({cpu_model()}), Python {platform.python_version()}, "
        f"{versions}{pg}; load average at the end {load}"
    )


ROUND_TRIPS = (
    "Round trips above the test's own. The test's own work needs two: its INSERT (sent "
    "by the commit's flush) and its SELECT; inside a test the commit itself needs the "
    "server only for isolation. aksara (e) sends four per test on PostgreSQL: (1) "
    "`ROLLBACK TO SAVEPOINT aksara_1; SAVEPOINT sa_savepoint_1` in one simple-query "
    "message just before the INSERT: the previous test's rollback (aksara sends it at the "
    "next database use, not at teardown) and the savepoint the session's transaction "
    'runs in (`join_transaction_mode="create_savepoint"`, so that `rollback()` works '
    "as in production); (2) the INSERT; (3) `RELEASE SAVEPOINT sa_savepoint_1; SAVEPOINT "
    "sa_savepoint_2` before the SELECT: the commit, and the savepoint of the session's "
    "next transaction, which a later `rollback()` in the same test returns to; (4) the "
    "SELECT. Three is reached only by dropping (3), i.e. a session whose `commit()` "
    "leaves no savepoint (a later `rollback()` would then undo the committed rows too), "
    "or by pipelining (3) with the SELECT, which asyncpg does not offer: each of its "
    "messages waits for its ReadyForQuery. The savepoint statements go to asyncpg as "
    "simple queries (no Parse/Describe/Bind); no `BEGIN` or `SELECT 1` is sent per test. "
    "The hand-written fixture (b) sends every statement in its own round trip, and "
    "begins and rolls back a real transaction per test."
)


def render_section(
    table: str,
    machine: str,
    notes: Sequence[str],
    command: str,
    counts: str = "",
    floors: Sequence[str] = (),
) -> str:
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    parts = [
        START_MARKER,
        "## Per-test isolation cost",
        "",
        f"Measured {today} with `{command}` on {machine}.",
        "",
        "Each test inserts a row, commits, counts the rows and asserts 1. Per-test cost "
        "= (T_N - T_1)/(N - 1) from whole `pytest` subprocess runs, interleaved across "
        "variants; median over the passes, ratio = median of per-pass ratios against (b). "
        "The tests-only columns compute the same from the wall clock around pytest's test "
        "loop inside each run (a `pytest_runtestloop` wrapper), which leaves out start-up, "
        "collection (about 0.2 ms per test in every variant) and exit; met = both ratios "
        'within the target ("tests only": only that one). '
        "(f) is the floor: the same test with no isolation at all (one session on one "
        "connection in one transaction, `commit()` only flushes; rows pile up, so it "
        "asserts >= 1): the test's own work, which every variant pays; it runs stock "
        "aiosqlite, as (b) does. (h), SQLite only, is the same floor on the SQLite driver "
        "aksara's engine uses (sqlite3 called on the event-loop thread), so (e) - (h) is "
        "isolation alone on one driver. Targets (issue 18): "
        f"(e) <= {TARGETS['postgres']:.2f}x (b) on PostgreSQL (asyncpg), <= "
        f"{TARGETS['sqlite']:.2f}x on SQLite. See `benchmarks/isolation/run.py` for the method.",
        "",
        table,
    ]
    if floors:
        parts += ["", "Floors, from the same passes (per-pass differences, medians):", ""]
        parts += [f"- {floor}" for floor in floors]
    if counts:
        parts += [
            "",
            "Statements and round trips per test, (count with K tests - count with 1)/(K - 1) "
            "(SQLite: the statements the SQLite library runs, via sqlite3's trace callback; "
            "PostgreSQL: the client's protocol messages through a counting proxy, round trip "
            "= a simple query or a Sync, each answered by ReadyForQuery; see "
            "`benchmarks/isolation/_wire.py`):",
            "",
            counts,
            "",
            ROUND_TRIPS,
        ]
    if notes:
        parts += ["", *(f"- {note}" for note in notes)]
    parts += [END_MARKER]
    return "\n".join(parts)


def write_results(section: str, path: Path = RESULTS_FILE) -> None:
    if not path.exists():
        path.write_text(f"# Benchmark results\n\n{section}\n")
        return
    text = path.read_text()
    start, end = text.find(START_MARKER), text.find(END_MARKER)
    if start != -1 and end > start:
        text = text[:start] + section + text[end + len(END_MARKER) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="all")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes (default 5)")
    parser.add_argument("--tests", type=int, default=1000, help="N, tests in the big run")
    parser.add_argument("--warmup", type=int, default=1, help="untimed passes (default 1)")
    parser.add_argument(
        "--variants",
        default="abcdefg",
        help="letters of the variants to run, e.g. 'abd' (default all)",
    )
    parser.add_argument(
        "--count-tests", type=int, default=21, help="K, tests in the statement-count runs"
    )
    parser.add_argument("--no-counts", action="store_true", help="skip the statement counts")
    parser.add_argument(
        "--counts-only", action="store_true", help="only count statements (no timing)"
    )
    parser.add_argument(
        "--write", action="store_true", help=f"update the isolation section of {RESULTS_FILE.name}"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the generated projects and print where they are"
    )
    args = parser.parse_args(argv)
    if args.tests < 2 or args.repeats < 1 or args.warmup < 0 or args.count_tests < 2:
        parser.error("need --tests >= 2, --repeats >= 1, --warmup >= 0, --count-tests >= 2")
    if args.counts_only and (args.no_counts or args.write):
        parser.error("--counts-only counts and prints: not with --no-counts or --write")
    if BASELINE not in args.variants:
        log(f"note: variant ({BASELINE}) not selected, so no ratios are reported")
    return args


def select_backends(choice: str, notes: list[str]) -> list[Backend]:
    backends = []
    if choice in ("sqlite", "all"):
        backends.append(Backend("sqlite"))
    if choice in ("postgres", "all"):
        server_url = os.environ.get(POSTGRES_ENV)
        if server_url:
            backends.append(Backend("postgres", server_url))
        else:
            notes.append(f"PostgreSQL skipped: {POSTGRES_ENV} is not set.")
    return backends


def select_variants(letters: str, backend: Backend, notes: list[str]) -> list[Variant]:
    chosen = []
    for variant in VARIANTS:
        if variant.letter not in letters:
            continue
        if variant.backends and backend.name not in variant.backends:
            notes.append(
                f"{variant.label} runs on {', '.join(variant.backends)} only: "
                f"not on {backend.name}."
            )
            continue
        missing = missing_modules(variant, backend)
        if missing:
            notes.append(
                f"{variant.label} skipped on {backend.name}: cannot import {', '.join(missing)}."
            )
        else:
            chosen.append(variant)
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    notes: list[str] = []
    backends = select_backends(args.backend, notes)
    plan = {b: select_variants(args.variants, b, notes) for b in backends}
    startup_notes = list(notes)
    for note in notes:
        log(f"note: {note}")
    if not any(plan.values()):
        log("nothing to run")
        return 1

    root = Path(tempfile.mkdtemp(prefix="aksara-isolation-"))
    pg_version: str | None = None
    try:
        jobs = [
            Job(b, v, n, generate_project(v, b, n, root), root / "pycache")
            for b, variants in plan.items()
            for v in variants
            for n in (1, args.tests)
        ]
        with _maybe_postgres(plan) as pg_version:
            jobs = preflight(jobs, notes)
            counts = {}
            if not args.no_counts:
                counts = count_all(jobs, args.count_tests, root, root / "pycache")
                print(counts_table(counts))
            if args.counts_only:
                return 0
            pg = next((j.backend for j in jobs if j.backend.server_url), None)
            trips: list[float] = []

            def measure_round_trip() -> None:
                if pg is not None and pg.server_url is not None:
                    trips.append(round_trip_ms(pg.server_url))

            timings = (
                time_jobs(jobs, args.repeats, args.warmup, root / "clock", measure_round_trip)
                if jobs
                else {}
            )
    finally:
        if args.keep:
            log(f"generated projects kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    for note in notes[len(startup_notes) :]:
        log(f"note: {note}")
    if not timings:
        log("nothing left to run")
        return 1
    rows = build_rows(timings, args.tests)
    notes += noise_notes(rows)
    table = markdown_table(rows, args.tests)
    floors = floor_notes(rows, counts, trips)
    print(table)
    for floor in floors:
        print(f"\n- {floor}", end="")
    for note in notes:
        print(f"\n- {note}", end="")
    print()
    if args.write:
        command = " ".join(["python", "benchmarks/isolation/run.py", *sys.argv[1:]])
        counted = counts_table(counts) if counts else ""
        write_results(
            render_section(table, machine_description(pg_version), notes, command, counted, floors)
        )
        log(f"wrote {RESULTS_FILE}")
    return 0


@contextmanager
def _maybe_postgres(plan: dict[Backend, list[Variant]]) -> Iterator[str | None]:
    pg = next((b for b in plan if b.name == "postgres" and plan[b]), None)
    if pg is None:
        yield None
        return
    with postgres_databases(pg, plan[pg]) as version:
        yield version


if __name__ == "__main__":
    sys.exit(main())
