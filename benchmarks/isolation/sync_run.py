"""Per-test isolation cost for a *sync* SQLAlchemy app, against SQLAlchemy's own recipe.

What it measures
----------------
One sync app (``benchmarks/isolation/sync_templates/_app``): a module-level
``engine = create_engine(...)`` and ``SessionLocal = sessionmaker(bind=engine)``;
its functions open, commit and close sessions of their own. Two workloads, N
sync tests each:

- *write*: the app commits one row through its own session (``add_item``),
  then the test's session counts the rows and asserts 1, so the run passes only
  if every test starts from an empty table;
- *read*: the app counts the rows through its own session and asserts 0.

Variants (the test files are identical for (b) and (c)):

(a) floor     the same number of sync tests with no database, plain pytest
(b) recipe    SQLAlchemy 2.0's "Joining a Session into an External Transaction
              (such as for test suites)" as a hand-written sync conftest: per
              test ``engine.connect()``, ``connection.begin()``,
              ``Session(bind=connection, join_transaction_mode="create_savepoint")``
              and ``SessionLocal.configure(bind=connection, ...)``; session
              closed, transaction rolled back, connection closed afterwards.
              On SQLite, with SQLAlchemy's documented pysqlite workaround
              (``isolation_level = None`` on connect, ``BEGIN`` on the engine's
              "begin" event). Schema by ``create_all`` once per run.
(c) aksara    ``aksara test`` with ``[tool.aksara]`` database_url, models and
              ``session = "benchapp.db:SessionLocal"``; no conftest, the tests
              ask for ``db_session``
(d) aksara, no database   the floor's tests under ``aksara test`` with the same
              configuration (diagnostic: what the plugin costs a test that
              never touches the database)
(e) aksara, engine setting   the same app written the SQLModel tutorial's way,
              ``with Session(engine)`` and no sessionmaker (the same
              statements), under ``aksara test`` with ``engine =
              "benchapp.db:engine"``; compared with (b), since a hand-written
              conftest reaches such sessions only through a dependency override

Method
------
As ``run.py`` (the async benchmark): for each job a generated project with 1
test and one with N tests, each run as a fresh subprocess timed from outside;
per-test cost = (T_N - T_1)/(N - 1), which cancels start-up, schema set-up and
the test database's creation. One untimed warm-up pass, then ``--repeats``
passes in which every job runs once, in an order rotated every pass.

    per-test overhead = cost(variant) - cost(floor), same pass

i.e. (suite - the same suite with no database)/N with the fixed costs
cancelled. Ratio = median over passes of overhead(aksara)/overhead(recipe),
paired within a pass. Target (issue 20): <= 1.0x on every backend. Each run
must report exactly N passed tests.

Statement counts: the same projects with 1 and K (``--count-tests``) tests,
run once more with a counter; per test = (count_K - count_1)/(K - 1). The
counting is ``_wire.py``'s, shared with ``run.py``: SQLite, every statement
the SQLite library runs (``sqlite3`` trace callback, ``_wire.py`` loaded as a
plugin of the project); PostgreSQL, the projects connect through a small proxy
in this process that reads the client's protocol messages: round trips =
simple queries + Syncs (each waits for the server's ReadyForQuery),
statements = the statements in simple queries + Executes.

Leak check: the write project with N tests under ``aksara test --reuse-db``
((c) and (e)), then ``SELECT count(*) FROM items`` on the kept test database
from a new connection; the harness then drops the kept database.

Every timed run also loads ``sync_templates/_plugins/_benchtime.py`` (all
variants alike), which times each test's run protocol inside the process: the
section reports those per-test medians and the test process's CPU time next
to the wall-clock overheads, as views less sensitive to a loaded machine.

Backends: SQLite (pysqlite) and, when ``AKSARA_TEST_POSTGRES_URL`` is set,
PostgreSQL through psycopg 3 and through psycopg2 (the app's own driver is the
test layer's). The recipe uses ``test_bench_sync_recipe``, created and dropped
here; our plugin derives ``test_bench_sync_aksara`` from the configured
``bench_sync_aksara`` and creates and drops it itself.

Usage::

    python benchmarks/isolation/sync_run.py [--backend sqlite|postgres|all]
        [--drivers psycopg,psycopg2] [--workloads write,read] [--repeats 5]
        [--tests 1000] [--warmup 1] [--count-tests 21] [--no-counts] [--no-leak]
        [--no-nodb] [--no-engine] [--write] [--keep]

Do not run two at once against one PostgreSQL server: they share database
names (the second stops with aksara's "in use by another run").

``--write`` replaces the section between ``<!-- sync-isolation:start -->`` and
``<!-- sync-isolation:end -->`` in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
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
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "sync_templates"
BENCHMARKS = HERE.parent
START_MARKER = "<!-- sync-isolation:start -->"
END_MARKER = "<!-- sync-isolation:end -->"
POSTGRES_ENV = "AKSARA_TEST_POSTGRES_URL"
URL_PLACEHOLDER = "@DATABASE_URL@"
TEST_FILE = "test_items.py"
RECIPE_DB = "test_bench_sync_recipe"
AKSARA_DB = "bench_sync_aksara"  # the plugin derives test_bench_sync_aksara
TARGET_RATIO = 1.0
NOISY_SPREAD = 0.5
RUN_TIMEOUT_S = 1800


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# The async benchmark's helpers (test expansion, admin SQL, machine info) and the
# statement counting both benchmarks share.
base = _load("_isolation_run", HERE / "run.py")
wire = base.wire
PLUGINS = TEMPLATES / "_plugins"
sys.path.insert(0, str(BENCHMARKS))
from _results import replace_section  # noqa: E402

log = base.log


# --------------------------------------------------------------------------
# Targets (backend + driver), variants, workloads
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    backend: str  # "sqlite" or "postgres"
    driver: str  # "pysqlite", "psycopg", "psycopg2"
    server_url: str | None = None

    @property
    def label(self) -> str:
        return f"{self.backend} ({self.driver})"


@dataclass(frozen=True)
class Variant:
    letter: str
    key: str
    template: str
    tests: str | None  # test-file template in _tests/; None: the workload's
    aksara: bool  # run by `aksara test` (else `python -m pytest`)
    database: str | None  # the database the project's URL names (PostgreSQL)

    @property
    def label(self) -> str:
        return f"({self.letter}) {self.key}"

    @property
    def blocked(self) -> list[str]:
        # Other installed plugins that would tax every test: pytest-django's autouse
        # fixtures (~0.7 ms/test), pytest-asyncio's hooks (our plugin needs them).
        names = ["django"] if self.aksara else ["django", "asyncio", "aksara"]
        return [arg for name in names for arg in ("-p", f"no:{name}")]


FLOOR = Variant("a", "floor", "floor", "floor", aksara=False, database=None)
RECIPE = Variant("b", "recipe", "recipe", None, aksara=False, database=RECIPE_DB)
AKSARA = Variant("c", "aksara", "aksara", None, aksara=True, database=AKSARA_DB)
AKSARA_NODB = Variant("d", "aksara, no database", "aksara", "floor", aksara=True, database=None)
AKSARA_ENGINE = Variant(
    "e", "aksara engine", "aksara_engine", None, aksara=True, database=AKSARA_DB
)
# How each of ours is configured, for the tables.
SETTINGS = {
    AKSARA.key: '`session = "benchapp.db:SessionLocal"`',
    AKSARA_ENGINE.key: '`engine = "benchapp.db:engine"`, app uses `Session(engine)`',
}
SETTING_NAMES = {AKSARA.key: "session", AKSARA_ENGINE.key: "engine"}
WORKLOADS = ("write", "read")


@dataclass(frozen=True)
class Job:
    variant: Variant
    target: Target | None  # None: the floor (no database)
    workload: str | None
    n: int
    project: Path

    @property
    def name(self) -> str:
        where = self.target.label if self.target else "no database"
        what = f" {self.workload}" if self.workload else ""
        return f"{where} {self.variant.label}{what} N={self.n}"


# --------------------------------------------------------------------------
# Projects
# --------------------------------------------------------------------------


def database_url(target: Target | None, database: str | None, proxy_port: int | None = None) -> str:
    """The app's URL in a generated project (relative SQLite file: pytest's cwd)."""
    if target is None or target.backend == "sqlite":
        return "sqlite:///app.db"
    from sqlalchemy.engine import make_url

    assert target.server_url is not None and database is not None
    url = make_url(target.server_url).set(
        drivername=f"postgresql+{target.driver}", database=database
    )
    if proxy_port is not None:
        url = url.set(host="127.0.0.1", port=proxy_port)
    return url.render_as_string(hide_password=False)


def generate(
    variant: Variant,
    target: Target | None,
    workload: str | None,
    n: int,
    root: Path,
    *,
    proxy_port: int | None = None,
) -> Path:
    where = target.driver if target else "nodb"
    project = root / where / variant.template / (workload or variant.tests or "") / f"n{n}"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.db")
    # The app first: a variant's template may replace one of its modules (aksara_engine).
    shutil.copytree(TEMPLATES / "_app", project, ignore=ignore)
    shutil.copytree(TEMPLATES / variant.template, project, dirs_exist_ok=True, ignore=ignore)
    shutil.copy(PLUGINS / "_benchtime.py", project)
    tests = (TEMPLATES / "_tests" / f"{variant.tests or workload}.py").read_text()
    (project / TEST_FILE).write_text(base.expand_tests(tests, n))
    url = database_url(target, variant.database, proxy_port)
    for path in project.rglob("*"):
        if path.suffix in {".py", ".toml"}:
            path.write_text(path.read_text().replace(URL_PLACEHOLDER, url))
    return project


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------


def command(variant: Variant, extra: Sequence[str] = ()) -> list[str]:
    common = ["-q", "-p", "no:randomly", "-p", "no:cacheprovider", *variant.blocked, *extra]
    if variant.aksara:
        return [str(Path(sys.executable).with_name("aksara")), "test", *common]
    return [sys.executable, "-m", "pytest", *common]


def child_env(pycache: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in base.ENV_TO_DROP}
    env.pop(POSTGRES_ENV, None)  # projects carry their own URL
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.update(extra or {})
    return env


class RunFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Sample:
    """One timed run: whole-process wall and CPU seconds, and the in-process per-test medians."""

    wall: float
    cpu: float  # user + system of the test process
    test_wall: float  # median over the tests, first and last excluded (seconds)
    test_cpu: float


def run(
    job: Job, pycache: Path, extra_args: Sequence[str] = (), env: dict[str, str] | None = None
) -> tuple[float, float, str]:
    """Run one project; its wall and CPU seconds and output. It must pass exactly N tests."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        command(job.variant, extra_args),
        cwd=job.project,
        env=child_env(pycache, env),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    output = proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    passed = re.search(r"(\d+) passed", lines[-1] if lines else "")
    if proc.returncode != 0 or not passed or int(passed.group(1)) != job.n:
        tail = "\n".join(output.strip().splitlines()[-30:])
        raise RunFailed(
            f"{job.name} did not pass all {job.n} tests (exit {proc.returncode}):\n{tail}"
        )
    return elapsed, cpu, output


def timed_run(job: Job, pycache: Path) -> Sample:
    """A timed run, with ``_benchtime`` timing each test inside the process."""
    out = job.project / "times.json"
    env = {"BENCH_TIME_FILE": str(out), "PYTHONPATH": str(job.project)}
    wall, cpu, _ = run(job, pycache, ["-p", "_benchtime"], env)
    times = json.loads(out.read_text())
    # The first test builds the test database (aksara), the last one's teardown ends the run.
    inner = slice(1, -1) if job.n > 2 else slice(None)
    return Sample(
        wall,
        cpu,
        statistics.median(times["wall"][inner]),
        statistics.median(times["cpu"][inner]),
    )


def time_jobs(
    jobs: Sequence[Job], repeats: int, warmup: int, pycache: Path
) -> dict[Job, list[Sample]]:
    timings: dict[Job, list[Sample]] = {job: [] for job in jobs}
    total = (warmup + repeats) * len(jobs)
    done = 0
    for rep in range(-warmup, repeats):
        for job in base.rotated(jobs, rep):
            sample = timed_run(job, pycache)
            done += 1
            tag = "warm-up" if rep < 0 else f"pass {rep + 1}/{repeats}"
            log(
                f"[{done}/{total}] {tag}: {job.name}: {sample.wall:.2f} s "
                f"(CPU {sample.cpu:.2f} s, median test {sample.test_wall * 1000:.2f} ms)"
            )
            if rep >= 0:
                timings[job].append(sample)
    return timings


# --------------------------------------------------------------------------
# PostgreSQL: databases and the counting proxy
# --------------------------------------------------------------------------


def admin(server_url: str, statements: Sequence[str]) -> str:
    import asyncio

    return str(asyncio.run(base._execute_admin(server_url, statements)))


@contextmanager
def recipe_database(server_url: str | None) -> Iterator[str | None]:
    """Create the recipe's database (the plugin makes its own); drop both names at the end."""
    if server_url is None:
        yield None
        return
    names = (RECIPE_DB, "test_" + AKSARA_DB)
    version = admin(server_url, [base.drop_statement(RECIPE_DB), f'CREATE DATABASE "{RECIPE_DB}"'])
    try:
        yield version
    finally:
        admin(server_url, [base.drop_statement(name) for name in names])


# --------------------------------------------------------------------------
# Statement counts
# --------------------------------------------------------------------------


def count_statements(
    target: Target, variant: Variant, workload: str, k: int, root: Path, pycache: Path
) -> wire.Counts:
    """Per-test statements (and PostgreSQL round trips) of ``variant`` on ``target``."""
    samples = []
    with wire.maybe_proxy(target.server_url) as proxy:
        for n in (1, k):
            port = proxy.port if proxy else None
            project = generate(variant, target, workload, n, root / "counts", proxy_port=port)
            job = Job(variant, target, workload, n, project)
            if proxy is not None:
                samples.append(proxy.measure(lambda job=job: run(job, pycache)))
            else:
                args, env = wire.sqlite_plugin(project)
                run(job, pycache, args, env)
                samples.append(wire.read_sqlite_counts(project))
    return wire.per_test(samples[0], samples[1], k)


# --------------------------------------------------------------------------
# Leak check
# --------------------------------------------------------------------------


@dataclass
class Leak:
    target: Target
    variant: Variant
    rows: int
    tests: int
    where: str


def leak_check(target: Target, variant: Variant, n: int, root: Path, pycache: Path) -> Leak:
    """N write tests under ``aksara test --reuse-db``; count the rows left in the kept database."""
    from sqlalchemy import create_engine, text

    project = generate(variant, target, "write", n, root / "leak")
    if target.server_url is not None:
        admin(target.server_url, [base.drop_statement("test_" + AKSARA_DB)])
    _, _, output = run(Job(variant, target, "write", n, project), pycache, ["--reuse-db"])
    if target.backend == "sqlite":
        found = re.search(r"test database sqlite\S*?:///(\S+\.db)", output)
        if not found:
            raise RunFailed(f"no SQLite test database named in the output:\n{output[-2000:]}")
        path = Path(found.group(1))
        url, where = f"sqlite:///{path}", str(path)
    else:
        from sqlalchemy.engine import make_url

        assert target.server_url is not None
        url = (
            make_url(target.server_url)
            .set(drivername=f"postgresql+{target.driver}", database="test_" + AKSARA_DB)
            .render_as_string(hide_password=False)
        )
        where = f"{target.backend} database test_{AKSARA_DB}"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = int(connection.scalar(text("SELECT count(*) FROM items")) or 0)
    finally:
        engine.dispose()
    if target.server_url is not None:
        admin(target.server_url, [base.drop_statement("test_" + AKSARA_DB)])
    else:
        shutil.rmtree(path.parent, ignore_errors=True)  # this project's --reuse-db folder
    return Leak(target, variant, rows, n, where)


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


# Metrics, each a list over the passes (ms/test):
#   wall       overhead: (T_N - T_1)/(N - 1) minus the floor's, whole runs, wall clock
#   cost       the same before subtracting the floor
#   suite      the brief's (T_N - F_N)/N: fixed costs (schema, test database) included
#   cpu        overhead in the test process's CPU (user + system), as ``wall``
#   test_wall  median of one test's run protocol in the process, minus the floor's
#   test_cpu   the same in process CPU
METRICS = ("wall", "cost", "suite", "cpu", "test_wall", "test_cpu")


@dataclass
class Row:
    target: Target
    workload: str
    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # variant -> metric
    counts: dict[str, wire.Counts] = field(default_factory=dict)

    @property
    def ours(self) -> list[Variant]:
        return [v for v in (AKSARA, AKSARA_ENGINE) if v.key in self.values]

    def median(self, variant: Variant, metric: str) -> float:
        return statistics.median(self.values[variant.key][metric])

    def ratios(self, ours: Variant, metric: str) -> list[float]:
        mine, theirs = self.values[ours.key][metric], self.values[RECIPE.key][metric]
        return [a / b for a, b in zip(mine, theirs, strict=True)]

    def ratio(self, ours: Variant, metric: str = "wall") -> float:
        return statistics.median(self.ratios(ours, metric))

    def met(self, ours: Variant) -> bool:
        return self.ratio(ours) <= TARGET_RATIO


def _per_test(t1: Sequence[float], tn: Sequence[float], n: int) -> list[float]:
    return [(big - small) / (n - 1) * 1000 for small, big in zip(t1, tn, strict=True)]


def _minus(values: Sequence[float], floor: Sequence[float]) -> list[float]:
    return [v - f for v, f in zip(values, floor, strict=True)]


def metrics(
    one: Sequence[Sample], big: Sequence[Sample], floor: dict[str, list[float]], n: int
) -> dict[str, list[float]]:
    """Every metric of one variant; ``floor`` holds the floor's own ``cost``, ``cpu``..."""
    cost = _per_test([s.wall for s in one], [s.wall for s in big], n)
    cpu = _per_test([s.cpu for s in one], [s.cpu for s in big], n)
    test_wall = [s.test_wall * 1000 for s in big]
    test_cpu = [s.test_cpu * 1000 for s in big]
    return {
        "cost": cost,
        "wall": _minus(cost, floor["cost"]) if floor else cost,
        "suite": [(s.wall - f) / n * 1000 for s, f in zip(big, floor.get("T_N", []), strict=True)]
        if floor
        else [],
        "cpu": _minus(cpu, floor["cpu"]) if floor else cpu,
        "test_wall": _minus(test_wall, floor["test_wall"]) if floor else test_wall,
        "test_cpu": _minus(test_cpu, floor["test_cpu"]) if floor else test_cpu,
    }


def build_rows(
    timings: dict[Job, list[Sample]], n: int
) -> tuple[list[Row], dict[str, dict[str, list[float]]]]:
    """The rows, and the floor's (and variant (d)'s) own metrics."""
    by = {(j.variant.key, j.target, j.workload, j.n): t for j, t in timings.items()}
    floor_n = by[(FLOOR.key, None, None, n)]
    floor = metrics(by[(FLOOR.key, None, None, 1)], floor_n, {}, n)
    floor["T_N"] = [s.wall for s in floor_n]
    extra = {FLOOR.key: floor}
    for (key, target, workload, size), samples in by.items():
        if key == AKSARA_NODB.key and size == n:
            extra[AKSARA_NODB.key] = metrics(by[(key, target, workload, 1)], samples, floor, n)
    rows = []
    for (key, target, workload, size), _ in by.items():
        if key != RECIPE.key or size != n:
            continue
        assert target is not None and workload is not None
        row = Row(target, workload)
        for variant in (RECIPE, AKSARA, AKSARA_ENGINE):
            if (variant.key, target, workload, n) not in by:
                continue
            one, big = (by[(variant.key, target, workload, m)] for m in (1, n))
            row.values[variant.key] = metrics(one, big, floor, n)
        rows.append(row)
    order = {w: i for i, w in enumerate(WORKLOADS)}
    rows.sort(key=lambda r: (r.target.backend != "sqlite", r.target.driver, order[r.workload]))
    return rows, extra


def _median_range(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f} to {max(values):.2f})"


def main_table(rows: Sequence[Row]) -> str:
    lines = [
        "| backend (driver) | workload | aksara configured with | recipe overhead, ms/test "
        "| aksara overhead, ms/test | ratio | target | met |",
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        for ours in r.ours:
            lines.append(
                f"| {r.target.label} | {r.workload} | {SETTINGS[ours.key]} | "
                f"{_median_range(r.values[RECIPE.key]['wall'])} | "
                f"{_median_range(r.values[ours.key]['wall'])} | {r.ratio(ours):.2f}x | "
                f"<= {TARGET_RATIO:.1f}x | {'yes' if r.met(ours) else 'no'} |"
            )
    return "\n".join(lines)


def views_table(rows: Sequence[Row], n: int) -> str:
    lines = [
        "| backend (driver) | workload | aksara | whole cost, recipe / aksara | CPU overhead, "
        "recipe / aksara (ratio) | median test overhead, recipe / aksara (ratio) | median "
        f"test CPU overhead, recipe / aksara (ratio) | (T{n} - F{n})/{n}, recipe / aksara |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]

    def pair(r: Row, ours: Variant, metric: str, ratio: bool = True) -> str:
        text = f"{r.median(RECIPE, metric):.2f} / {r.median(ours, metric):.2f}"
        return f"{text} ({r.ratio(ours, metric):.2f}x)" if ratio else text

    for r in rows:
        for ours in r.ours:
            lines.append(
                f"| {r.target.label} | {r.workload} | `{SETTING_NAMES[ours.key]}` | "
                f"{pair(r, ours, 'cost', False)} | "
                f"{pair(r, ours, 'cpu')} | {pair(r, ours, 'test_wall')} | "
                f"{pair(r, ours, 'test_cpu')} | {pair(r, ours, 'suite', False)} |"
            )
    return "\n".join(lines)


def counts_table(rows: Sequence[Row]) -> str:
    lines = [
        "| backend (driver) | workload | variant | statements/test | round trips/test "
        "| statements |",
        "|---|---|---|---:|---:|---|",
    ]
    for r in rows:
        for variant in (RECIPE, *r.ours):
            c = r.counts.get(variant.key)
            if c is None:
                continue
            lines.append(
                f"| {r.target.label} | {r.workload} | {variant.label} | {wire._num(c.total)} | "
                f"{c.trips()} | {c.describe()} |"
            )
    return "\n".join(lines)


def noise_notes(rows: Sequence[Row]) -> list[str]:
    noisy = [
        f"{r.target.label} {r.workload} {key}"
        for r in rows
        for key, values in r.values.items()
        if len(values["wall"]) > 1
        and (max(values["wall"]) - min(values["wall"]))
        > NOISY_SPREAD * abs(statistics.median(values["wall"]))
    ]
    if not noisy:
        return []
    return [
        f"Noisy (overhead min-max wider than {NOISY_SPREAD:.0%} of the median): "
        f"{', '.join(noisy)}. Ratios are paired within a pass, which absorbs part of the "
        "machine's drift; rerun with more --repeats on a quieter machine before trusting "
        "small differences."
    ]


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine(pg_version: str | None) -> str:
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = ", ".join(
        f"{name} {base.package_version(name)}"
        for name in ("SQLAlchemy", "pytest", "pytest-asyncio", "psycopg", "psycopg2-binary")
    )
    pg = f", PostgreSQL {pg_version}" if pg_version else ""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{nproc} CPUs ({base.cpu_model()}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, {versions}, aksara-testing "
        f"{base.package_version('aksara-testing')} (source {git_commit()}){pg}; "
        f"load average at the end {load}"
    )


def describe(n: int, repeats: int) -> str:
    """The section's method paragraph."""
    return (
        "A sync app (module-level `create_engine`, `SessionLocal = sessionmaker(bind=engine)`; "
        "its functions open, commit and close their own sessions). *write*: the app commits "
        "one row through its own session, the test's session counts 1; *read*: the app "
        "counts 0 through its own session. Baseline *recipe*: SQLAlchemy 2.0's \"Joining a "
        'Session into an External Transaction (such as for test suites)" as a hand-written '
        "sync conftest (per test `engine.connect()`, `connection.begin()`, "
        '`Session(bind=connection, join_transaction_mode="create_savepoint")` and '
        "`SessionLocal.configure(bind=connection, ...)`; close, rollback, close after; on "
        "SQLite with SQLAlchemy's pysqlite workaround: `isolation_level = None` on connect, "
        "`BEGIN` on the engine's begin event). *aksara*: `aksara test`, no conftest, the "
        "same test files (`db_session`), configured with `session = "
        '"benchapp.db:SessionLocal"`; second row: the same app written the SQLModel '
        "tutorial's way, `with Session(engine)` and no sessionmaker (same statements), "
        'configured with `engine = "benchapp.db:engine"` (a hand-written conftest can reach '
        "such sessions only through a dependency override; its baseline is the recipe row). "
        f"Per-test cost = (T_N - T_1)/(N - 1) of whole runs, N = {n:,}; overhead = cost minus "
        "the floor's cost in the same pass (the same number of sync tests with no database, "
        "plain pytest), i.e. (suite - the suite with no database)/N with start-up and the "
        f"test database's creation cancelled; {repeats} interleaved passes after a warm-up, "
        "medians (min to max); ratio = median of the per-pass ratios aksara/recipe. Target "
        f"(issue 20): <= {TARGET_RATIO:.1f}x. See `benchmarks/isolation/sync_run.py`."
    )


WHY_FEWER = (
    "Why aksara sends fewer: the recipe begins and rolls back a real transaction per test "
    "(`BEGIN`, `ROLLBACK`) and rolls back its session's savepoint when it closes it; aksara "
    "keeps one transaction for the whole run and one savepoint per pytest scope "
    "(`aksara_<depth>`, reused, since `ROLLBACK TO SAVEPOINT` keeps it), so a test costs one "
    "`ROLLBACK TO SAVEPOINT`, sent at the next test's first database use, and `db_session`'s "
    "own savepoint goes with it. Both pay the app session's `SAVEPOINT`/`RELEASE` "
    '(`join_transaction_mode="create_savepoint"`). On PostgreSQL aksara queues savepoint '
    "statements and sends them as one simple-query message just before the next statement, "
    "so its round trips are the statements that need the server plus one message per queue. "
    "Read rows: the app's session closing without a commit sends its own `ROLLBACK TO "
    "SAVEPOINT` (through the `engine` setting also a `RELEASE`) right before the layer's, "
    "which makes it redundant. psycopg 3 prepares a statement on its 6th run and drops all "
    "its prepared statements when a result says ROLLBACK: through the layer's `ROLLBACK TO "
    "SAVEPOINT` it prepares and sends `DEALLOCATE ALL` every ~7 tests (the fractional "
    "`DEALLOCATE` and the extra 0.45 round trips)."
)


def render(
    rows: Sequence[Row],
    extra: dict[str, dict[str, list[float]]],
    leaks: Sequence[Leak],
    notes: Sequence[str],
    n: int,
    repeats: int,
    cmd: str,
    machine_line: str,
) -> str:
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    floor = extra[FLOOR.key]
    parts = [
        START_MARKER,
        "## Sync isolation",
        "",
        f"`{cmd}` on {today}; {machine_line}.",
        "",
        describe(n, repeats),
        "",
        main_table(rows),
        "",
        "Other views of the same runs (ms/test, medians over the passes; ratios aksara/recipe "
        "paired per pass). *Whole cost*: before subtracting the floor. *CPU*: the test "
        "process's user + system time, as the wall overhead (the database server's time is "
        "not in it). *Median test*: each run's median time of one test's run protocol "
        "(setup, call, teardown, their hooks) measured in the process, first and last test "
        "left out, minus the floor's; it leaves out per-test work outside the protocol "
        "(collection, reporting) and most of the load's spikes. *(T_N - F_N)/N*: the "
        "brief's formula taken literally, each variant's fixed costs (schema, creating and "
        "dropping the test database) spread over N:",
        "",
        views_table(rows, n),
        "",
        f"Floor (plain pytest, sync tests, no database): {statistics.median(floor['cost']):.3f}"
        f" ms/test, median test {statistics.median(floor['test_wall']):.3f} ms.",
    ]
    if AKSARA_NODB.key in extra:
        nodb = extra[AKSARA_NODB.key]
        parts[-1] += (
            " The floor's tests under `aksara test` with the same configuration (plugin "
            f"loaded, database never used), over the floor: {statistics.median(nodb['wall']):+.3f}"
            f" ms/test whole runs, {statistics.median(nodb['test_wall']):+.3f} ms median "
            "test: part of every aksara overhead above."
        )
    if any(r.counts for r in rows):
        parts += [
            "",
            "Statements per test (SQLite: as the SQLite library runs them, via sqlite3's "
            "trace callback; PostgreSQL: the client's protocol messages through a counting "
            "proxy, round trip = a simple query or a Sync, each answered by ReadyForQuery); "
            "(count with K tests - count with 1 test)/(K - 1):",
            "",
            counts_table(rows),
            "",
            WHY_FEWER,
        ]
    if leaks:
        parts += [
            "",
            "Leak check: the write project under `aksara test -q --reuse-db`, then "
            "`SELECT count(*) FROM items` on the kept test database from a new connection:",
            "",
        ]
        parts += [
            f"- {leak.target.label}, {SETTING_NAMES[leak.variant.key]} setting: "
            f"{leak.tests:,} tests committing through the app, "
            f"{leak.rows} rows left in {leak.where} ({'met' if leak.rows == 0 else 'MISSED'}"
            ": 0 expected)."
            for leak in leaks
        ]
    if notes:
        parts += ["", *(f"- {note}" for note in notes)]
    parts.append(END_MARKER)
    return "\n".join(parts)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="all")
    parser.add_argument("--drivers", default="psycopg,psycopg2", help="PostgreSQL drivers")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--repeats", type=int, default=5, help="timed passes (default 5)")
    parser.add_argument("--tests", type=int, default=1000, help="N, tests in the big run")
    parser.add_argument("--warmup", type=int, default=1, help="untimed passes (default 1)")
    parser.add_argument("--count-tests", type=int, default=21, help="K for statement counts")
    parser.add_argument("--no-counts", action="store_true", help="skip the statement counts")
    parser.add_argument("--no-leak", action="store_true", help="skip the leak check")
    parser.add_argument("--no-nodb", action="store_true", help="skip variant (d)")
    parser.add_argument("--no-engine", action="store_true", help="skip variant (e)")
    parser.add_argument("--write", action="store_true", help="update RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the generated projects")
    args = parser.parse_args(argv)
    args.workloads = [w for w in args.workloads.split(",") if w]
    if (
        args.tests < 2
        or args.repeats < 1
        or args.warmup < 0
        or args.count_tests < 2
        or not set(args.workloads) <= set(WORKLOADS)
        or not args.workloads
    ):
        parser.error(
            "need --tests >= 2, --repeats >= 1, --warmup >= 0, --count-tests >= 2, "
            f"--workloads from {','.join(WORKLOADS)}"
        )
    return args


def select_targets(args: argparse.Namespace, notes: list[str]) -> list[Target]:
    targets = []
    if args.backend in ("sqlite", "all"):
        targets.append(Target("sqlite", "pysqlite"))
    if args.backend in ("postgres", "all"):
        server = os.environ.get(POSTGRES_ENV)
        if not server:
            notes.append(f"PostgreSQL skipped: {POSTGRES_ENV} is not set.")
        for driver in [d for d in args.drivers.split(",") if d] if server else []:
            if importlib.util.find_spec(driver) is None:
                notes.append(f"postgres ({driver}) skipped: cannot import {driver}.")
            else:
                targets.append(Target("postgres", driver, server))
    return targets


def plan(args: argparse.Namespace, targets: Sequence[Target], root: Path) -> list[Job]:
    jobs = []
    sizes = (1, args.tests)
    jobs += [Job(FLOOR, None, None, n, generate(FLOOR, None, None, n, root)) for n in sizes]
    if not args.no_nodb:
        sqlite = Target("sqlite", "pysqlite")
        jobs += [
            Job(AKSARA_NODB, sqlite, None, n, generate(AKSARA_NODB, sqlite, None, n, root))
            for n in sizes
        ]
    for target in targets:
        for workload in args.workloads:
            for variant in (RECIPE, AKSARA, *([] if args.no_engine else [AKSARA_ENGINE])):
                jobs += [
                    Job(variant, target, workload, n, generate(variant, target, workload, n, root))
                    for n in sizes
                ]
    return jobs


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    notes: list[str] = []
    targets = select_targets(args, notes)
    for note in notes:
        log(f"note: {note}")
    if not targets:
        log("nothing to run")
        return 1
    server = next((t.server_url for t in targets if t.server_url), None)
    root = Path(tempfile.mkdtemp(prefix="aksara-sync-isolation-"))
    pycache = root / "pycache"
    leaks: list[Leak] = []
    try:
        with recipe_database(server) as pg_version:
            jobs = plan(args, targets, root)
            timings = time_jobs(jobs, args.repeats, args.warmup, pycache)
            rows, extra = build_rows(timings, args.tests)
            if not args.no_counts:
                for row in rows:
                    for variant in (RECIPE, *row.ours):
                        what = f"{row.target.label} {variant.label} {row.workload}"
                        log(f"counting statements: {what}")
                        row.counts[variant.key] = count_statements(
                            row.target, variant, row.workload, args.count_tests, root, pycache
                        )
            if not args.no_leak:
                for target in targets:
                    for variant in (AKSARA, *([] if args.no_engine else [AKSARA_ENGINE])):
                        log(f"leak check: {target.label} {variant.label}, --reuse-db")
                        leaks.append(leak_check(target, variant, args.tests, root, pycache))
    finally:
        if args.keep:
            log(f"generated projects kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    notes += noise_notes(rows)
    cmd = " ".join(["python", "benchmarks/isolation/sync_run.py", *(argv or sys.argv[1:])])
    section = render(rows, extra, leaks, notes, args.tests, args.repeats, cmd, machine(pg_version))
    print(section)
    if args.write:
        replace_section(section, START_MARKER, END_MARKER)
        log("wrote benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
