"""``aksara test --migrations`` checks against raw Alembic and pytest-alembic, same run.

    python benchmarks/migrations.py [--backend sqlite|postgres|all] [--repeats 5] [--write]
        [--pytest-alembic-python PATH] [--profile]

The chain
---------
A generated 30-revision chain: revision *i* creates table ``tNN`` (id, name,
a foreign key to the previous table, an index on every third table); every
fifth revision also alters an earlier table in a batch block (``add_column``
note, ``alter_column`` name ``String(50)`` -> ``String(100)``), so SQLite runs
Alembic's batch mode (copy and move) six times each way. ``models.py``
matches the head, so every check does its full work and passes. env.py is
Alembic's async template with the cookbook's connection hand-over (it uses
``config.attributes["connection"]`` when one is given, which pytest-alembic
needs) and ``render_as_batch=True``.

What is timed, per backend
--------------------------
1. **checks**: ``pytest.main(["--aksara-migrations", ...])`` on the project,
   which holds no tests of its own, so the run is the 63 check items (single
   head, 30 upgrades, 30 downgrades, models match, round trip; all must pass).
   This includes pytest's own start (plugins, collection) and the scratch
   database's CREATE/DROP.
2. **alembic API**: ``command.upgrade(cfg, "head")`` then
   ``command.downgrade(cfg, "base")`` on an existing empty database.
3. **alembic CLI**: ``alembic upgrade head`` then ``alembic downgrade base``,
   two processes.
4. **alembic API, up-down-up**: the same plus a second ``upgrade(head)``: the
   migration work the checks do (they upgrade again for the round trip), as
   context for the ratio, not a target baseline.
5. **alembic API, inline aiosqlite, no fsync** (SQLite only): the command API
   under the driver set-up the checks give env.py on SQLite (aiosqlite's calls
   on env.py's loop thread, ``PRAGMA synchronous=OFF`` on the scratch file).
   Raw Alembic pays aiosqlite's thread hops and fsync; the checks do not, so
   this row tells the checks' own overhead apart from that set-up's gain.
6. **pytest-alembic**: its default tests (``pytest --test-alembic``: single
   head, upgrade, model match, up/down consistency) with an ``alembic_engine``
   fixture on the same database (sync engine: sqlite3 / psycopg), run from the
   Python given by ``--pytest-alembic-python`` (repeatable; default: this
   one). If it is not installed or does not collect there, the reason is
   reported, not a time. pytest-alembic 0.13.1 does not collect on pytest
   9.2; a virtualenv with ``pytest==9.1.1 pytest-alembic==0.13.1
   sqlalchemy[asyncio] aiosqlite asyncpg psycopg[binary]`` measures it (give
   its Python in ``AKSARA_BENCH_PYTEST_ALEMBIC_PYTHON`` for ``run.py``).

Every sample is its own fresh Python process. Two figures come from each:
*in-process* (the child's ``time.perf_counter()`` around the call, after the
libraries were imported: ``sqlalchemy``, ``alembic.command``, the drivers and,
for the pytest variants, ``pytest``) and *whole process* (the parent's wall
time of the subprocess, interpreter start and imports included). The CLI has
only the second. Databases are reset between samples, untimed. After one
warm-up round the variants run in an order rotated every round; medians over
rounds, ratios = medians of per-round ratios against the named baseline.
CPU seconds are reported beside wall seconds: the benchmark machine is shared,
and CPU time suffers less from other load. The subprocesses run without
``PYTHONDONTWRITEBYTECODE``, so pytest's rewritten plugin modules are cached
as on a developer machine.

``--profile`` runs the checks once more per backend with wall-clock probes
around their phases (pytest itself, scratch database create/drop, upgrade,
model comparison, snapshots, downgrade, second upgrade) and cProfile on the
main thread and on the thread that runs env.py, and reports both.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from textwrap import dedent
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import machine_line, replace_section  # noqa: E402

START_MARKER = "<!-- migrations:start -->"
END_MARKER = "<!-- migrations:end -->"
REVISIONS = 30
ALTER_EVERY = 5
INDEX_EVERY = 3
TIMES = "\u00d7"
TARGET = 1.2  # SQLite: checks ÷ raw Alembic (command API), in-process wall
FLOOR_TARGET = 1.15  # PostgreSQL: checks ÷ the floor's parts summed in the same round
FLOOR = "floor: the parts below, summed per round"
# A Python with pytest-alembic (and pytest 9.1.1) that benchmarks/run.py should also time.
PYTEST_ALEMBIC_PYTHON = "AKSARA_BENCH_PYTEST_ALEMBIC_PYTHON"
CHECK_ITEMS = 1 + 2 * REVISIONS + 2
# SQLite only: raw Alembic with the driver set-up the checks give env.py (aiosqlite on the
# loop thread, no fsync), to tell the checks' own overhead from that set-up's gain.
INLINE_API = "alembic API, up-down-up, inline aiosqlite, no fsync"
# The parts of the floor: pytest with the same plugins and nothing to run; on PostgreSQL a
# CREATE DATABASE + DROP DATABASE (server work, one admin connection, timed in the parent).
PYTEST_ALONE = "pytest alone (same plugins, nothing to run)"
CREATE_DROP = "scratch database CREATE + DROP"
FLOOR_PARTS = (INLINE_API, PYTEST_ALONE, CREATE_DROP)

# --------------------------------------------------------------------------
# The project
# --------------------------------------------------------------------------

ALEMBIC_INI = """\
[alembic]
script_location = %(here)s/migrations
prepend_sys_path = .
path_separator = os
sqlalchemy.url = {url}
"""

ENV_PY = """\
import asyncio

from alembic import context
from sqlalchemy import Engine, pool
from sqlalchemy.ext.asyncio import async_engine_from_config

from models import Base

config = context.config
target_metadata = Base.metadata


def do_run_migrations(connection):
    context.configure(
        connection=connection, target_metadata=target_metadata, render_as_batch=True
    )
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


connectable = config.attributes.get("connection")  # pytest-alembic passes its engine
if connectable is None:
    asyncio.run(run_async_migrations())
elif isinstance(connectable, Engine):
    with connectable.connect() as connection:
        do_run_migrations(connection)
else:
    do_run_migrations(connectable)
"""

REVISION = '''\
"""{message}"""

import sqlalchemy as sa
from alembic import op

revision = "r{i:02d}"
down_revision = {down}
branch_labels = None
depends_on = None


def upgrade():
{upgrade}


def downgrade():
{downgrade}
'''


def _altered(i: int) -> int | None:
    """The earlier table revision ``i`` alters, if it alters one."""
    return i - 2 if i % ALTER_EVERY == 0 else None


def _revision(i: int) -> str:
    table = f"t{i:02d}"
    columns = [
        'sa.Column("id", sa.Integer(), primary_key=True)',
        'sa.Column("name", sa.String(50), nullable=False)',
    ]
    if i > 1:
        columns.append(f'sa.Column("parent_id", sa.Integer(), sa.ForeignKey("t{i - 1:02d}.id"))')
    upgrade = [f'    op.create_table("{table}", {", ".join(columns)})']
    downgrade = []
    if i % INDEX_EVERY == 0:
        upgrade.append(f'    op.create_index("ix_{table}_name", "{table}", ["name"])')
    altered = _altered(i)
    if altered is not None:
        other = f"t{altered:02d}"
        upgrade += [
            f'    with op.batch_alter_table("{other}") as batch:',
            '        batch.add_column(sa.Column("note", sa.Text(), nullable=True))',
            '        batch.alter_column("name", existing_type=sa.String(50), '
            "type_=sa.String(100), existing_nullable=False)",
        ]
        downgrade += [
            f'    with op.batch_alter_table("{other}") as batch:',
            '        batch.drop_column("note")',
            '        batch.alter_column("name", existing_type=sa.String(100), '
            "type_=sa.String(50), existing_nullable=False)",
        ]
    downgrade.append(f'    op.drop_table("{table}")')
    return REVISION.format(
        message=f"table {table}" + (f", alter t{altered:02d}" if altered else ""),
        i=i,
        down=f'"r{i - 1:02d}"' if i > 1 else None,
        upgrade="\n".join(upgrade),
        downgrade="\n".join(downgrade),
    )


def _models() -> str:
    altered = {_altered(i) for i in range(1, REVISIONS + 1)} - {None}
    lines = [
        "from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text",
        "from sqlalchemy.orm import DeclarativeBase",
        "",
        "",
        "class Base(DeclarativeBase):",
        "    pass",
        "",
    ]
    for i in range(1, REVISIONS + 1):
        wide = i in altered
        columns = [
            'Column("id", Integer, primary_key=True)',
            f'Column("name", String({100 if wide else 50}), nullable=False'
            + (", index=True)" if i % INDEX_EVERY == 0 else ")"),
        ]
        if i > 1:
            columns.append(f'Column("parent_id", Integer, ForeignKey("t{i - 1:02d}.id"))')
        if wide:
            columns.append('Column("note", Text, nullable=True)')
        lines.append(f'Table("t{i:02d}", Base.metadata, {", ".join(columns)})')
    return "\n".join(lines) + "\n"


def write_project(root: Path, app_url: str, bench_url: str, sync_url: str) -> Path:
    """The chain, models and settings under ``root``; returns ``root``."""
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "migrations" / "env.py").write_text(ENV_PY)
    for i in range(1, REVISIONS + 1):
        (versions / f"r{i:02d}.py").write_text(_revision(i))
    (root / "models.py").write_text(_models())
    (root / "alembic.ini").write_text(ALEMBIC_INI.format(url=bench_url.replace("%", "%%")))
    (root / "pyproject.toml").write_text(
        dedent(
            f"""
            [tool.aksara]
            database_url = "{app_url}"
            models = "models:Base"
            migrations = "alembic.ini"
            """
        )
    )
    (root / "tests").mkdir()
    (root / "tests" / "conftest.py").write_text(
        dedent(
            f"""
            import pytest
            import sqlalchemy


            @pytest.fixture
            def alembic_engine():  # for pytest-alembic only; aksara never reads it
                engine = sqlalchemy.create_engine({sync_url!r}, poolclass=sqlalchemy.pool.NullPool)
                yield engine
                engine.dispose()
            """
        )
    )
    return root


# --------------------------------------------------------------------------
# Workers: one timed call in a fresh process
# --------------------------------------------------------------------------


def worker(variant: str, root: Path, profile: Path | None) -> None:
    os.chdir(root)
    sys.path.insert(0, str(root))
    import sqlalchemy  # noqa: F401
    from alembic import command
    from alembic.config import Config

    for driver in ("aiosqlite", "asyncpg", "psycopg"):
        with contextlib.suppress(ImportError):
            __import__(driver)
    if variant.startswith("alembic API"):
        config = Config(str(root / "alembic.ini"))
        setup: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        if variant == INLINE_API:
            from aksara_testing._db.sqlite import inline_aiosqlite

            setup = inline_aiosqlite(str(root / "bench.db"), durable=False)
        start, cpu = time.perf_counter(), time.process_time()
        with setup:
            command.upgrade(config, "head")
            command.downgrade(config, "base")
            if "up-down-up" in variant:
                command.upgrade(config, "head")
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(json.dumps({"seconds": elapsed, "cpu": cpu}))
        return
    import pytest

    if variant == "checks":
        argv = ["-q", "-p", "no:randomly", "-p", "no:cacheprovider", "--aksara-migrations"]
        expected = f"{CHECK_ITEMS} passed"
    elif variant == PYTEST_ALONE:
        argv = ["-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
        expected = "no tests ran"
    else:
        argv = ["-q", "-p", "no:cacheprovider", "-p", "no:aksara", "--test-alembic"]
        expected = "4 passed"
    log = root / "pytest.log"
    with log.open("w") as out:
        real = sys.stdout
        sys.stdout = out
        try:
            start, cpu = time.perf_counter(), time.process_time()
            if profile is not None:
                code = _profiled(pytest.main, argv, profile)
            else:
                code = pytest.main(argv)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        finally:
            sys.stdout = real
    text = log.read_text()
    success = pytest.ExitCode.NO_TESTS_COLLECTED if variant == PYTEST_ALONE else 0
    if code != success or expected not in text:
        print(json.dumps({"error": f"exit {int(code)}: {text[-3000:]}"}))
        return
    print(json.dumps({"seconds": elapsed, "cpu": cpu}))


def _profiled(function: Any, argv: list[str], path: Path) -> Any:
    """``function(argv)`` under cProfile and wall-clock probes.

    The main thread and the ``aksara-*`` threads (where the checks run env.py)
    get a profiler each, saved as ``path`` and ``path.<thread>``; the probes'
    phases go to ``path.phases.json``.
    """
    import cProfile
    import threading

    marks: list[tuple[str, float]] = []
    _install_probes(marks)
    threads: dict[str, cProfile.Profile] = {}
    original = threading.Thread.run

    def run(thread: threading.Thread) -> None:
        if not thread.name.startswith("aksara"):
            return original(thread)
        profiler = threads[thread.name] = cProfile.Profile()
        profiler.runcall(original, thread)

    threading.Thread.run = run  # type: ignore[method-assign]
    main = cProfile.Profile()
    start = time.perf_counter()
    try:
        result = main.runcall(function, argv)
    finally:
        threading.Thread.run = original  # type: ignore[method-assign]
    marks.append(("total", time.perf_counter() - start))
    main.dump_stats(path)
    for name, profiler in threads.items():
        profiler.dump_stats(f"{path}.{name}")
    Path(f"{path}.phases.json").write_text(json.dumps(marks))
    return result


def _install_probes(marks: list[tuple[str, float]]) -> None:
    """Time stamps around the checks' phases (the wrapped functions keep their behaviour)."""
    import functools
    import inspect

    import aksara_testing._db.lifecycle as database
    from aksara_testing._migrations import checks, runner, scratch

    def wrap(owner: Any, name: str) -> None:
        original = getattr(owner, name)
        if inspect.iscoroutinefunction(original):

            @functools.wraps(original)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                marks.append((f"{name} start", time.perf_counter()))
                try:
                    return await original(*args, **kwargs)
                finally:
                    marks.append((f"{name} end", time.perf_counter()))

        else:

            @functools.wraps(original)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                marks.append((f"{name} start", time.perf_counter()))
                try:
                    return original(*args, **kwargs)
                finally:
                    marks.append((f"{name} end", time.perf_counter()))

        setattr(owner, name, wrapper)

    wrap(checks.CheckRun, "_run")
    wrap(checks.CheckRun, "_compare_models")
    wrap(checks, "_snapshot")
    wrap(runner, "run_env")
    wrap(database, "recreate_database")
    wrap(database, "drop_database")
    wrap(scratch.Scratch, "_create")  # PostgreSQL: in the background, from collection on
    wrap(scratch.Scratch, "wait_ready")  # what of it the checks still wait for
    wrap(scratch.Scratch, "drop_soon")
    wrap(checks.CheckRun, "finish")  # what of the drop the run still waits for, at its end


def phases(marks: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The probes' time stamps as named durations, in order."""
    at: dict[str, list[float]] = {}
    total = 0.0
    for name, value in marks:
        if name == "total":
            total = value
        else:
            at.setdefault(name, []).append(value)
    snapshot_starts, snapshot_ends = at["_snapshot start"], at["_snapshot end"]
    run = at["_run end"][0] - at["_run start"][0]

    def span(name: str) -> float:
        return at[f"{name} end"][0] - at[f"{name} start"][0]

    if "_create start" in at:  # PostgreSQL: created in the background, dropped by close()
        create = [
            (
                "create the scratch database (in the background, from pytest_configure on)",
                span("_create"),
            ),
            ("  of which the checks waited for", span("wait_ready")),
        ]
        drop = [
            (
                "drop the scratch database (in the background, from the checks' end on)",
                at["finish end"][-1] - at["drop_soon start"][0],
            ),
            ("  of which the run waited for, at its end", span("finish")),
        ]
    else:
        create = [("create the scratch database", span("recreate_database"))]
        drop = [("drop the scratch database", span("drop_database"))]
    return [
        ("pytest start, collection, reporting", total - run),
        *create,
        (
            "env.py start + upgrade base→head",
            at["_compare_models start"][0] - at["run_env start"][0],
        ),
        ("compare with models (autogenerate)", span("_compare_models")),
        (
            "snapshot the schema: head (autogenerate's read), base, head again",
            sum(e - s for s, e in zip(snapshot_starts, snapshot_ends, strict=True)),
        ),
        ("downgrade head→base", snapshot_starts[1] - snapshot_ends[0]),
        ("upgrade again base→head (round trip)", snapshot_starts[2] - snapshot_ends[1]),
        ("env.py end", at["run_env end"][0] - snapshot_ends[2]),
        *drop,
    ]


# --------------------------------------------------------------------------
# The parent: databases, rounds, report
# --------------------------------------------------------------------------


class Backend:
    """Where one backend's project and databases live, and how to reset them."""

    def __init__(self, name: str, root: Path, server: str | None) -> None:
        self.name = name
        self.root = root
        self.server = server
        if name == "sqlite":
            path = root / "bench.db"
            self.path = path
            app, bench, sync = (
                "sqlite:///app.db",
                f"sqlite+aiosqlite:///{path}",
                f"sqlite:///{path}",
            )
        else:
            assert server is not None
            base = server.rsplit("/", 1)[0]
            self.database = f"bench_migrations_{os.getpid()}"
            app = f"{base}/app_migrations_{os.getpid()}"
            bench = f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{self.database}"
            sync = f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{self.database}"
        write_project(root, app, bench, sync)

    def reset(self) -> None:
        """An empty benchmark database for the baselines (the checks make their own)."""
        if self.name == "sqlite":
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return
        self._drop()
        self._admin(f'CREATE DATABASE "{self.database}"')

    def drop(self) -> None:
        if self.name == "postgres":
            self._drop()

    def create_drop(self) -> float:
        """Seconds for CREATE DATABASE + DROP DATABASE on one open admin connection."""
        import asyncio

        import asyncpg

        async def run() -> float:
            connection = await asyncpg.connect(self.server)
            try:
                start = time.perf_counter()
                await connection.execute(f'CREATE DATABASE "{self.database}_scratch"')
                await connection.execute(f'DROP DATABASE "{self.database}_scratch"')
                return time.perf_counter() - start
            finally:
                await connection.close()

        return asyncio.run(run())

    def _drop(self) -> None:
        # WITH (FORCE) may not terminate a backend of another role (an autovacuum worker
        # busy after 30 revisions of DDL): then wait a little and try again.
        for attempt in range(20):
            try:
                self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
                return
            except Exception as exc:
                if "must be a member of the role" not in str(exc):
                    raise
                others = self._admin(
                    "SELECT backend_type FROM pg_stat_activity WHERE datname = $1", self.database
                )
                print(f"  drop retried ({attempt + 1}): busy in it: {others}", file=sys.stderr)
                time.sleep(0.5)
        raise RuntimeError(f"could not drop {self.database}")

    def _admin(self, sql: str, *args: object) -> object:
        import asyncio

        import asyncpg

        async def run() -> object:
            connection = await asyncpg.connect(self.server)
            try:
                if args:
                    return [tuple(row) for row in await connection.fetch(sql, *args)]
                return await connection.execute(sql)
            finally:
                await connection.close()

        return asyncio.run(run())


def clean_env() -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE goes too: with it pytest re-rewrites the asserts of every
    # plugin module (~120 here) in every run, ~0.8 s that a normal set-up caches.
    return {
        name: value
        for name, value in os.environ.items()
        if name not in ("CI", "PYTHONDONTWRITEBYTECODE")
        and not name.startswith(("AKSARA_", "PYTEST_", "COV_CORE_"))
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


Sample = dict[str, float | str]


def sample(variant: Variant, backend: Backend, profile: Path | None = None) -> Sample:
    """One run of ``variant``: wall and CPU seconds, in-process and whole process; or an error."""
    backend.reset()
    if variant.name == CREATE_DROP:
        return {"inner": backend.create_drop()}
    env = clean_env()
    cpu = _children_cpu()
    if variant.name == "alembic CLI":
        alembic = str(Path(sys.executable).with_name("alembic"))
        start = time.perf_counter()
        for step in (["upgrade", "head"], ["downgrade", "base"]):
            done = subprocess.run(
                [alembic, *step], cwd=backend.root, env=env, capture_output=True, text=True
            )
            if done.returncode != 0:
                return {"error": f"alembic {' '.join(step)}: {done.stderr[-2000:]}"}
        return {"process": time.perf_counter() - start, "process cpu": _children_cpu() - cpu}
    argv = [variant.python, str(Path(__file__).resolve()), "--worker", variant.kind]
    argv += ["--root", str(backend.root)]
    if profile is not None:
        argv += ["--profile-to", str(profile)]
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    process, process_cpu = time.perf_counter() - start, _children_cpu() - cpu
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"error": f"exit {done.returncode}: {done.stderr[-2000:] or done.stdout[-2000:]}"}
    if "error" in result:
        return {"error": str(result["error"])}
    return {
        "inner": result["seconds"],
        "inner cpu": result["cpu"],
        "process": process,
        "process cpu": process_cpu,
    }


class Variant:
    """One thing to time: what the worker runs (``kind``), with which Python, under which name."""

    def __init__(self, name: str, kind: str, python: str = sys.executable) -> None:
        self.name, self.kind, self.python = name, kind, python


def variants(pytest_alembic_pythons: Sequence[str]) -> tuple[list[Variant], dict[str, str]]:
    """The variants to time, and those that cannot run here with the reason."""
    found = [
        Variant("checks", "checks"),
        Variant("alembic API", "alembic API"),
        Variant("alembic CLI", "alembic CLI"),
        Variant("alembic API, up-down-up", "alembic API, up-down-up"),
        Variant(INLINE_API, INLINE_API),
        Variant(PYTEST_ALONE, PYTEST_ALONE),
        Variant(CREATE_DROP, CREATE_DROP),
    ]
    unavailable: dict[str, str] = {}
    for python in pytest_alembic_pythons:
        done = subprocess.run(
            [
                python,
                "-c",
                "from importlib.metadata import version as v; "
                "print(v('pytest-alembic'), v('pytest'))",
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            unavailable[f"pytest-alembic ({python})"] = "not installed"
            continue
        package, pytest_version = done.stdout.split()
        found.append(
            Variant(f"pytest-alembic {package}, pytest {pytest_version}", "pytest-alembic", python)
        )
    return found, unavailable


Records = dict[tuple[str, str], list[Sample]]


def measure(
    backends: Sequence[Backend],
    repeats: int,
    candidates: list[Variant],
    unavailable: dict[str, str],
) -> Records:
    records: Records = {}
    for backend in backends:
        for round_ in range(repeats + 1):  # round 0 warms up
            running = [
                v
                for v in candidates
                if v.name not in unavailable and _applies(v.name, backend.name)
            ]
            shift = round_ % len(running)
            for variant in running[shift:] + running[:shift]:
                result = sample(variant, backend)
                if "error" in result:
                    if variant.name == "checks":
                        sys.exit(f"checks failed on {backend.name}:\n{result['error']}")
                    unavailable[variant.name] = _first_error_line(str(result["error"]))
                    print(f"{variant.name} on {backend.name}: {result['error']}", file=sys.stderr)
                    continue
                if round_:
                    records.setdefault((backend.name, variant.name), []).append(result)
            print(f"  {backend.name} round {round_}/{repeats}", file=sys.stderr, flush=True)
    return records


def _applies(variant: str, backend: str) -> bool:
    """The inline-driver variant is SQLite's, the scratch database's CREATE PostgreSQL's."""
    return {INLINE_API: "sqlite", CREATE_DROP: "postgres"}.get(variant, backend) == backend


def _first_error_line(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("E ") or "Error:" in line:
            return line.lstrip("E ").strip()[:300]
    return text.strip().splitlines()[-1][:300] if text.strip() else "failed"


WAITS = ("acquire", "'get' of '_queue", "poll", "recv", "sleep", "select")


def profile_checks(backend: Backend, folder: Path, top: int = 12) -> list[str]:
    """Phases and the top cProfile entries of one checks run, the env.py thread apart."""
    import pstats

    path = folder / f"checks-{backend.name}.prof"
    result = sample(Variant("checks", "checks"), backend, profile=path)
    if "error" in result:
        return [f"{backend.name}: profile failed: {result['error']}"]
    marks = json.loads(Path(f"{path}.phases.json").read_text())
    lines = [
        f"{backend.name}: one profiled run, {result['inner']:.2f} s in-process; phases (wall):"
    ]
    lines += [f"  {seconds:6.3f} s  {label}" for label, seconds in phases(marks)]
    for name, label in (
        (path, "main thread"),
        (Path(f"{path}.aksara-alembic"), "env.py thread"),
    ):
        stats = pstats.Stats(str(name)).stats  # type: ignore[attr-defined]
        busy = [kv for kv in stats.items() if not any(w in kv[0][2] for w in WAITS)]
        lines.append(f"  {label}, top by own time (waits left out):")
        for (filename, line, function), (_cc, calls, own, cumulative, _callers) in sorted(
            busy, key=lambda kv: kv[1][2], reverse=True
        )[:top]:
            lines.append(
                f"    own {own:6.3f} s  cum {cumulative:6.3f} s  {calls:>7}  "
                f"{_short(filename)}:{line}({function})"
            )
    return lines


def _short(filename: str) -> str:
    for marker in ("site-packages/", "aksara_testing/", "lib/python3.11/"):
        if marker in filename:
            return (marker if marker == "aksara_testing/" else "") + filename.split(marker, 1)[1]
    return filename


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

METRICS = (
    ("inner", "in-process wall"),
    ("inner cpu", "in-process CPU"),
    ("process", "whole process wall"),
    ("process cpu", "whole process CPU"),
)


def _median(rows: list[Sample], key: str) -> float:
    return statistics.median(float(r[key]) for r in rows)


def _ratio(ours: list[Sample], theirs: list[Sample], key: str) -> float:
    return statistics.median(
        float(a[key]) / float(b[key]) for a, b in zip(ours, theirs, strict=True)
    )


def table(
    records: Records, backends: Sequence[str], names: Sequence[str], unavailable: dict[str, str]
) -> str:
    header = "| backend | measured | " + " | ".join(f"{label} (s)" for _, label in METRICS)
    header += " | checks ÷ it: in-process wall / CPU | whole process wall / CPU |"
    lines = [header, "|---|---|" + "---:|" * len(METRICS) + "---:|---:|"]
    for backend in backends:
        ours = records[(backend, "checks")]
        for name in names:
            rows = records.get((backend, name))
            if not _applies(name, backend):
                continue
            if not rows:
                reason = unavailable.get(name, "no samples")
                lines.append(
                    f"| {backend} | {name} |"
                    + " — |" * len(METRICS)
                    + f" not measured: {reason} | |"
                )
                continue
            cells = [f"{_median(rows, key):.3f}" if key in rows[0] else "—" for key, _ in METRICS]
            label = "**`--aksara-migrations` checks**" if name == "checks" else name
            if name in ("checks", PYTEST_ALONE, CREATE_DROP):
                ratios = ["", ""]
            else:
                ratios = [
                    " / ".join(
                        f"{_ratio(ours, rows, key):.2f}{TIMES}" if key in rows[0] else "—"
                        for key in keys
                    )
                    for keys in (("inner", "inner cpu"), ("process", "process cpu"))
                ]
            lines.append(f"| {backend} | {label} | " + " | ".join(cells + ratios) + " |")
        floor = _floor(records, backend)
        if floor is not None:
            sums = floor[0]
            ratio = statistics.median(
                float(row["inner"]) / total for row, total in zip(ours, sums, strict=True)
            )
            lines.append(
                f"| {backend} | {FLOOR} | {statistics.median(sums):.3f} |"
                + " — |" * (len(METRICS) - 1)
                + f" {ratio:.2f}{TIMES} / — | — / — |"
            )
    return "\n".join(lines)


def verdicts(records: Records, backends: Sequence[str]) -> str:
    lines = []
    for backend in backends:
        ours, raw = records[(backend, "checks")], records[(backend, "alembic API")]
        wall, cpu = _ratio(ours, raw, "inner"), _ratio(ours, raw, "inner cpu")
        floor = _floor(records, backend)
        raw_line = (
            f"- {backend}: checks ÷ raw Alembic (command API, in-process) = "
            f"{wall:.2f}{TIMES} wall, {cpu:.2f}{TIMES} CPU"
        )
        if backend == "sqlite" or floor is None:
            met = "met" if wall <= TARGET else "missed"
            lines.append(f"{raw_line}; target at most {TARGET}{TIMES}: **{met}**.")
        else:
            lines.append(
                f"{raw_line} (context: raw Alembic has no pytest and no database of its own)."
            )
        if floor is None:
            continue
        sums, parts = floor
        checks, seconds = _median(ours, "inner"), statistics.median(sums)
        ratio = statistics.median(
            float(row["inner"]) / total for row, total in zip(ours, sums, strict=True)
        )
        detail = (
            f"Floor (in-process wall, medians): {parts}; summed per round, median "
            f"{seconds:.3f} s; the checks sit {checks - seconds:+.3f} s from it (model "
            "comparison, snapshots, our glue; less what the background create hides)."
        )
        if backend == "postgres":
            met = "met" if ratio <= FLOOR_TARGET else "missed"
            lines.append(
                f"- {backend}: checks ÷ floor (per-round ratio, in-process wall) = "
                f"{ratio:.2f}{TIMES}; target at most {FLOOR_TARGET}{TIMES}: **{met}**."
            )
        else:
            detail += f" Checks ÷ floor (per-round ratio) = {ratio:.2f}{TIMES}."
        lines.append(f"  {detail}")
        if backend == "postgres" and os.getloadavg()[0] > (os.cpu_count() or 1):
            lines.append(
                "  Caveat: measured on a loaded machine. PostgreSQL 15's DROP DATABASE waits "
                "for a checkpoint, which grows with the other load; the floor pays it in full "
                "and the checks hide most of it in the background, so this ratio flatters "
                "the checks: on a quiet machine it is higher."
            )
    return "\n".join(lines)


def _floor(records: Records, backend: str) -> tuple[list[float], str] | None:
    """What any run of these checks through pytest must spend, from parts timed each round."""
    migrate = INLINE_API if backend == "sqlite" else "alembic API, up-down-up"
    names = [PYTEST_ALONE, migrate] + ([CREATE_DROP] if backend == "postgres" else [])
    if not all(records.get((backend, name)) for name in names):
        return None
    columns = [[float(row["inner"]) for row in records[(backend, name)]] for name in names]
    sums = [sum(values) for values in zip(*columns, strict=True)]
    parts = " + ".join(
        f"{name} {statistics.median(values):.3f}"
        for name, values in zip(names, columns, strict=True)
    )
    return sums, parts


def versions() -> str:
    from importlib.metadata import version

    return ", ".join(
        [
            machine_line(),
            f"Python {platform.python_version()}",
            f"pytest {version('pytest')}",
            f"alembic {version('alembic')}",
            f"SQLAlchemy {version('sqlalchemy')}",
            f"aiosqlite {version('aiosqlite')}",
            f"asyncpg {version('asyncpg')}",
            f"aksara-testing {version('aksara-testing')}",
        ]
    )


def section(
    records: Records,
    backends: Sequence[str],
    names: Sequence[str],
    unavailable: dict[str, str],
    options: argparse.Namespace,
    profile: list[str],
) -> str:
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    command = (
        f"python benchmarks/migrations.py --backend {options.backend} --repeats {options.repeats}"
    )
    command += " --pytest-alembic-python PATH" * len(options.pytest_alembic_python or [])
    command += " --profile" if options.profile else ""
    parts = [
        START_MARKER,
        "## Migration checks",
        "",
        f"`{command}` on {today}; {versions()}; load average at the end {load}.",
        "",
        f"A generated chain of {REVISIONS} revisions (a table each with a foreign key to the "
        f"previous one, an index on every {INDEX_EVERY}rd table, and every {ALTER_EVERY}th "
        "revision altering an earlier table in a batch block: `add_column` + `alter_column`, "
        "which SQLite runs as copy-and-move). Every sample is a fresh Python process. "
        "*In-process*: the child's own timers (`perf_counter`, `process_time`) around the call, "
        "after `sqlalchemy`, `alembic.command`, the drivers and `pytest` were imported: "
        "`pytest.main([...])` for the checks and pytest-alembic, `command.upgrade(head)` + "
        "`command.downgrade(base)` for the API. *Whole process*: the parent's wall clock and "
        "the child's CPU (`RUSAGE_CHILDREN`), interpreter start and imports included; the CLI "
        "is two processes. The checks run through pytest (`-p no:randomly -p no:cacheprovider`) "
        "in a project with no tests of its own: 63 items, all passing. They include pytest's "
        "start and collection, the scratch database's create/drop, the second upgrade of the "
        "round trip, the model comparison and the schema snapshots; the baselines run on an "
        "existing empty database. On SQLite the checks run env.py's aiosqlite calls on its "
        "own loop thread and write the scratch file without fsync; raw Alembic pays "
        f"aiosqlite's thread hops and fsync, so *{INLINE_API}* times the checks' migration "
        "work under the checks' set-up. *Floor*: what the checks cannot avoid, from parts "
        f"timed in the same rounds: *{PYTEST_ALONE}* (`pytest.main` in the same project "
        "without `--aksara-migrations`), the up-down-up migration work (on SQLite under the "
        "checks' driver set-up; it still starts env.py three times, the checks once) and on "
        f"PostgreSQL *{CREATE_DROP}* (on an open connection); *{FLOOR}* adds them up "
        "round by round, and the PostgreSQL target is the median of the per-round ratios "
        "checks ÷ that sum. pytest-alembic uses a sync "
        "engine (sqlite3 / psycopg) from "
        "its `alembic_engine` fixture on the same database, in its own virtualenv. "
        f"{options.repeats} rounds after a warm-up, variant order rotated every round; "
        "medians; ratios are medians of per-round ratios. *alembic API, up-down-up* adds the "
        "second upgrade the round trip needs: the checks' migration work without the checks, "
        "for context. Subprocesses run without `PYTHONDONTWRITEBYTECODE` (set on this machine; "
        "with it pytest re-rewrites ~120 plugin modules every run, ~0.8 s). The machine is "
        "shared with other engineers' test runs, so wall times are inflated and noisy; CPU "
        "times less so.",
        "",
        "What keeps the checks near that floor: one env.py run on one connection for all "
        "three passes; revision files parsed once (at collection, for the item names); the "
        "schema at head read once, by autogenerate's `get_multi_*` reflection, and reused "
        "for the round trip's first snapshot; on PostgreSQL the scratch database created in "
        "the background from `pytest_configure` on (before the revision files load, while "
        "pytest collects) and dropped in the background after the checks, waited for at the "
        "run's end (while pytest reports), all on the run lock's one admin connection; "
        "on SQLite env.py's aiosqlite calls run on its own "
        "loop thread (no worker-thread hop per statement) and the scratch file is written "
        "without fsync; 63 items cost ~0.02 s of pytest's time together.",
        "",
        table(records, backends, names, unavailable),
        "",
        verdicts(records, backends),
    ]
    for name, reason in unavailable.items():
        parts += ["", f"{name}: not measured — {reason}"]
    if profile:
        parts += [
            "",
            "Where the checks' time goes (cProfile of one run; threads included):",
            "",
            "```text",
            *profile,
            "```",
        ]
    parts.append(END_MARKER)
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile one checks run per backend"
    )
    parser.add_argument(
        "--pytest-alembic-python",
        action="append",
        help="a Python whose environment has pytest-alembic (repeatable; default: this one)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.worker:
        worker(options.worker, options.root, options.profile_to)
        return 0
    server = os.environ.get("AKSARA_TEST_POSTGRES_URL")
    names = ["sqlite", "postgres"] if options.backend == "all" else [options.backend]
    if "postgres" in names and not server:
        if options.backend == "postgres":
            parser.error("PostgreSQL needs AKSARA_TEST_POSTGRES_URL")
        print("no AKSARA_TEST_POSTGRES_URL: SQLite only", file=sys.stderr)
        names.remove("postgres")
    pythons = options.pytest_alembic_python or [sys.executable]
    if not options.pytest_alembic_python and os.environ.get(PYTEST_ALEMBIC_PYTHON):
        pythons.append(os.environ[PYTEST_ALEMBIC_PYTHON])
    candidates, unavailable = variants(pythons)
    with tempfile.TemporaryDirectory(prefix="aksara-migrations-bench-") as tmp:
        backends = []
        for name in names:
            (Path(tmp) / name).mkdir()
            backends.append(Backend(name, Path(tmp) / name, server))
        try:
            records = measure(backends, options.repeats, candidates, unavailable)
            profile: list[str] = []
            if options.profile:
                for backend in backends:
                    profile += profile_checks(backend, Path(tmp))
        finally:
            for backend in backends:
                backend.drop()
    text = section(records, names, [v.name for v in candidates], unavailable, options, profile)
    print(text)
    if options.write:
        replace_section(text, START_MARKER, END_MARKER)
        print("wrote benchmarks/RESULTS.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
