"""The edit-run loop: ``aksara test tests/test_api.py::one_test`` on examples/blog.

Run it with the Python of the virtualenv where aksara-testing is installed::

    python benchmarks/loop.py [--repeats 15] [--breakdown 5] [--write]

What a developer waits for most is one test run again after an edit. The test
(``test_me_is_the_token_user`` in ``examples/blog/tests/test_api.py``) creates
one row with a factory and makes one request through the ``client`` fixture,
on SQLite. The commands are timed as whole subprocesses (wall clock), in
interleaved rounds whose order rotates, after one warm-up round:

- **baseline**: the same test under plain pytest + pytest-asyncio
  (``-p no:aksara``) in a copy of the app with a hand-written conftest: an
  engine, ``drop_all``/``create_all`` once per session, a savepoint fixture
  (``join_transaction_mode="create_savepoint"``, rolled back), the app's
  session dependency overridden, an httpx ``AsyncClient`` over
  ``ASGITransport``; the row is made with the ORM, with constant values;
- **baseline-faker**: the same, its row's email and name drawn from Faker
  configured as ours (``Faker(use_weighting=False)``), as factory_boy would:
  the fair baseline (both baselines import Faker at start-up anyway, through
  Faker's pytest plugin, which plain pytest loads);
- **fresh**: ``aksara test`` in a copy of examples/blog (the test database is
  built by the app's migrations and dropped at the end);
- **reuse**: ``aksara test --reuse-db`` in another copy (the kept database is
  reused: the warm-up round built it);
- **fresh-models**: ``aksara test --no-migrations`` in a third copy: a fresh
  database built from the models with ``create_all``, as the baseline builds
  its own, instead of by the app's Alembic chain (what the fresh target costs
  when the project's migrations must build the test database);
- **floor** and **floor-faker**: the two baselines' commands with their
  process ended as ``aksara test`` ends its own (no interpreter teardown).

All of them run in this virtualenv with the same third-party plugins, except
those of distributions outside aksara-testing's own dependency tree (the dev
extra's pytest-randomly, pytest-django, respx...), which every command blocks
with ``-p no:NAME``: they are not what a user of aksara installs and they
would hide both our cost and our savings under theirs.

Medians per command; the ratios are the medians of the per-round ratios
against the baseline of the same round, shown against both baselines.
Targets (issue 18): fresh at most 1.0x, reuse at most 0.8x. Reported, never
asserted.

The breakdown (``--breakdown N`` more rounds, not counted in the timings)
runs each command with a small timing plugin (``-p _loop_clock``) that stamps
the wall clock at pytest's phases: start-up (interpreter, ``aksara`` CLI,
pytest, plugins, configure), collection (importing the test module and the
app), set-up (fixtures: the test database, session, client), call, teardown,
and finish (session end, database drop, interpreter exit).

``--write`` replaces the section between ``<!-- loop:start -->`` and
``<!-- loop:end -->`` in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from _plugins import foreign_plugins  # benchmarks/ is on sys.path
from _results import machine_line, replace_section

HERE = Path(__file__).resolve().parent
BLOG = HERE.parent / "examples" / "blog"
RESULTS_FILE = HERE / "RESULTS.md"
START_MARKER = "<!-- loop:start -->"
END_MARKER = "<!-- loop:end -->"

PYTHON = sys.executable
AKSARA = str(Path(sys.executable).with_name("aksara"))
TEST = "tests/test_api.py::test_me_is_the_token_user"
TIMES = "\u00d7"
PHASES = ("start-up", "collection", "set-up", "call", "teardown", "finish")

BASELINE_INI = """\
[tool.pytest.ini_options]
testpaths = ["tests"]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "session"
asyncio_default_test_loop_scope = "session"
"""

BASELINE_CONFTEST = '''\
"""A hand-written conftest: what a project without aksara writes for the same test."""

import os

os.environ.setdefault("BLOG_SECRET", "test-secret")
os.environ["BLOG_DATABASE_URL"] = "sqlite+aiosqlite:///test_blog.db"

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from blog.app import app, get_session
from blog.models import Base


@pytest.fixture(scope="session")
async def engine():
    engine = create_async_engine(os.environ["BLOG_DATABASE_URL"])
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine):
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture
async def client(session):
    async def override():
        yield session

    app.dependency_overrides[get_session] = override
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    app.dependency_overrides.clear()
'''

BASELINE_TEST = """\
from blog.auth import create_token
from blog.models import User


async def test_me_is_the_token_user(client, session):
    user = User(email="reader@example.com", name="Reader")
    session.add(user)
    await session.flush()

    response = await client.get(
        "/api/me/", headers={"Authorization": f"Bearer {create_token(user)}"}
    )

    assert response.json() == {"id": user.id, "email": user.email}
"""

# The fair baseline: the same hand-written test, its row's email and name drawn from
# Faker with our configuration (unweighted), as factory_boy's `factory.Faker` would
# draw them: the work a factory row does that a constant row does not.
BASELINE_FAKER_TEST = BASELINE_TEST.replace(
    "from blog.models import User\n",
    "from blog.models import User\nfrom faker import Faker\n\nfake = Faker(use_weighting=False)\n",
).replace(
    'User(email="reader@example.com", name="Reader")', "User(email=fake.email(), name=fake.name())"
)
assert "fake.email()" in BASELINE_FAKER_TEST

# The baseline's own work, ending its process as `aksara test` does (no interpreter
# teardown): what `aksara test --reuse-db` would take if everything of ours cost nothing.
FLOOR_CODE = """\
import sys

import pytest

from aksara_cli import _leave

_leave(int(pytest.main(sys.argv[1:])))
"""

CLOCK_PLUGIN = '''\
"""Stamps the wall clock at pytest's phases into $LOOP_CLOCK_FILE (benchmarks/loop.py)."""

import json
import os
import time

import pytest

_stamps = {"plugin": time.time()}


def pytest_sessionstart(session):
    _stamps["sessionstart"] = time.time()


def pytest_collection_finish(session):
    _stamps["collected"] = time.time()


def pytest_runtest_logstart(nodeid, location):
    _stamps["test-start"] = time.time()


def pytest_runtest_logreport(report):
    _stamps[report.when] = time.time()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    _stamps["unconfigure"] = time.time()
    with open(os.environ["LOOP_CLOCK_FILE"], "w") as out:
        json.dump(_stamps, out)
'''


@dataclass(frozen=True)
class Variant:
    label: str
    argv: tuple[str, ...]
    cwd: Path


# --------------------------------------------------------------------------
# Projects and plugins
# --------------------------------------------------------------------------


def ignore(folder: str, names: list[str]) -> set[str]:
    return {
        n for n in names if n in ("__pycache__", ".pytest_cache", ".aksara") or n.endswith(".db")
    }


def copy_blog(target: Path) -> Path:
    shutil.copytree(BLOG, target, ignore=ignore)
    return target


def write_baseline(target: Path, test: str = BASELINE_TEST) -> Path:
    shutil.copytree(BLOG, target, ignore=ignore)
    shutil.rmtree(target / "tests")
    (target / "tests").mkdir()
    (target / "tests" / "__init__.py").write_text("")
    (target / "tests" / "conftest.py").write_text(BASELINE_CONFTEST)
    (target / "tests" / "test_api.py").write_text(test)
    (target / "pyproject.toml").write_text(BASELINE_INI)
    return target


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------


# As startup.py: children keep compiled modules in __pycache__ unless --no-bytecode-cache.
BYTECODE_CACHE = True


def clean_env() -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("CI", "PYTHONDONTWRITEBYTECODE")
        and not name.startswith(("AKSARA_", "PYTEST_", "COV_CORE_", "BLOG_"))
    }
    if not BYTECODE_CACHE:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_once(variant: Variant, env: Mapping[str, str]) -> tuple[float, float]:
    """(wall seconds, launch time.time()) of one run; stops the benchmark if it fails."""
    launched = time.time()
    start = time.perf_counter()
    done = subprocess.run(
        variant.argv, cwd=variant.cwd, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or "1 passed" not in done.stdout:
        sys.exit(
            f"{variant.label} failed (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr}"
        )
    return elapsed, launched


def measure(variants: Sequence[Variant], repeats: int) -> dict[str, list[float]]:
    env = clean_env()
    times: dict[str, list[float]] = {v.label: [] for v in variants}
    for variant in variants:  # warm-up: caches, .pyc files, the kept database
        run_once(variant, env)
    for round_ in range(repeats):
        shift = round_ % len(variants)
        for variant in [*variants[shift:], *variants[:shift]]:
            times[variant.label].append(run_once(variant, env)[0])
        print(f"  round {round_ + 1}/{repeats}", file=sys.stderr, flush=True)
    return times


def breakdown(variants: Sequence[Variant], rounds: int, clock_dir: Path) -> dict[str, list[float]]:
    """Median seconds per phase per variant, from runs with the clock plugin."""
    env = clean_env()
    env["PYTHONPATH"] = str(clock_dir)
    stamps_file = clock_dir / "stamps.json"
    env["LOOP_CLOCK_FILE"] = str(stamps_file)
    phases: dict[str, list[list[float]]] = {v.label: [] for v in variants}
    for _ in range(rounds):
        for variant in variants:
            argv = (*variant.argv, "-p", "_loop_clock")
            start = time.perf_counter()
            _, launched = run_once(Variant(variant.label, argv, variant.cwd), env)
            ended = launched + (time.perf_counter() - start)
            s = json.loads(stamps_file.read_text())
            phases[variant.label].append(
                [
                    s["sessionstart"] - launched,
                    s["collected"] - s["sessionstart"],
                    s["setup"] - s["test-start"] + (s["test-start"] - s["collected"]),
                    s["call"] - s["setup"],
                    s["teardown"] - s["call"],
                    ended - s["teardown"],
                ]
            )
    return {
        label: [statistics.median(run[i] for run in runs) for i in range(len(PHASES))]
        for label, runs in phases.items()
    }


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def machine() -> str:
    return (
        f"{machine_line()}, Python {platform.python_version()}, pytest {version('pytest')}, "
        f"pytest-asyncio {version('pytest-asyncio')}, SQLAlchemy {version('sqlalchemy')}, "
        f"Faker {version('faker')}, aksara-testing {version('aksara-testing')}"
    )


def _paired(values: Sequence[float], baseline: Sequence[float]) -> float:
    """The median of the per-round ratios."""
    return statistics.median(v / b for v, b in zip(values, baseline, strict=True))


def _ratio_rows(
    times: Mapping[str, list[float]],
    commands: Mapping[str, str],
    base_label: str,
    compared: Sequence[tuple[str, float | None]],
) -> list[str]:
    base = times[base_label]
    rows = [
        f"| command | median (s) | min (s) | ratio to {base_label} | target | met |",
        "|---|---:|---:|---:|---|---|",
        f"| {base_label}: {commands[base_label]} | {statistics.median(base):.3f} "
        f"| {min(base):.3f} | 1.00{TIMES} | | |",
    ]
    for label, limit in compared:
        ratio = _paired(times[label], base)
        target = "" if limit is None else f"≤ {limit:.1f}{TIMES}"
        met = "" if limit is None else "yes" if ratio <= limit else "no"
        rows.append(
            f"| {label}: {commands[label]} | {statistics.median(times[label]):.3f} "
            f"| {min(times[label]):.3f} | {ratio:.2f}{TIMES} | {target} | {met} |"
        )
    return rows


REUSE_TARGET = 0.8  # issue 18: --reuse-db at most 0.8x the baseline


def floor_verdict(floor_ratio: float, target: float) -> str:
    """Whether the ``--reuse-db`` target lies above or below the floor of this run."""
    if floor_ratio <= target:
        return (
            f"The floor is at {floor_ratio:.2f}{TIMES} the baseline, within the "
            f"{target:.1f}{TIMES} target: the target is reachable in this run."
        )
    return (
        f"The floor is at {floor_ratio:.2f}{TIMES} the baseline, above the {target:.1f}{TIMES} "
        "target: meeting it would need a run that does less than the baseline's own, "
        "that is, skip importing the app or the pytest plugins the project has installed "
        "(the test needs the app; the plugins are the project's choice), since every "
        "import the baseline makes, aksara's run makes too."
    )


def section(
    times: Mapping[str, list[float]],
    phases: Mapping[str, list[float]],
    blocked: Sequence[str],
    repeats: int,
    rounds: int,
    commands: Mapping[str, str],
) -> str:
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    ours: tuple[tuple[str, float | None], ...] = (
        ("fresh", 1.0),
        ("reuse", REUSE_TARGET),
        ("fresh-models", None),
    )
    rows = _ratio_rows(times, commands, "baseline", (*ours, ("floor", None)))
    fair_rows = _ratio_rows(times, commands, "baseline-faker", (*ours, ("floor-faker", None)))
    over_models = _paired(times["fresh"], times["fresh-models"])
    over_floor = _paired(times["reuse"], times["floor"])
    over_fair_floor = _paired(times["reuse"], times["floor-faker"])
    floor_ratio = _paired(times["floor"], times["baseline"])
    faker_cost = statistics.median(times["baseline-faker"]) - statistics.median(times["baseline"])
    split = [
        "| phase (median s) | " + " | ".join(phases) + " |",
        "|---|" + "---:|" * len(phases),
    ]
    for i, phase in enumerate(PHASES):
        split.append(f"| {phase} | " + " | ".join(f"{v[i]:.3f}" for v in phases.values()) + " |")
    split.append("| sum | " + " | ".join(f"{sum(v):.3f}" for v in phases.values()) + " |")
    return "\n".join(
        [
            START_MARKER,
            "## The edit-run loop: one test of examples/blog",
            "",
            f"`python benchmarks/loop.py --repeats {repeats} --breakdown {rounds}"
            f"{'' if BYTECODE_CACHE else ' --no-bytecode-cache'}` on {today}; "
            f"{machine()}; load average at the end {load}.",
            "",
            f"Wall time of whole subprocesses running `{TEST}` (one factory row, one request "
            f"through `client`, SQLite), {repeats} interleaved rounds after one warm-up; "
            "medians, and the median of the per-round ratios to the baseline. The baseline is "
            "plain pytest + pytest-asyncio with a hand-written conftest (engine, "
            "`create_all` per session, savepoint fixture, dependency override, httpx "
            "`AsyncClient` over `ASGITransport`). Every command also blocks the plugins of "
            f"the dev extra that a user of aksara does not get with it: "
            f"{', '.join(f'`{name}`' for name in blocked) or 'none'}. "
            + (
                "Bytecode caching on (`PYTHONDONTWRITEBYTECODE` removed from the children's "
                "environment), as on a developer's machine."
                if BYTECODE_CACHE
                else "`PYTHONDONTWRITEBYTECODE=1`: every start compiles the editable install's "
                "modules and rewrites the asserts of every plugin package's modules again."
            ),
            "",
            *rows,
            "",
            "The same commands against the fair baseline: the hand-written test draws its "
            "row's email and name from Faker configured as ours (`Faker(use_weighting=False)`), "
            "as factory_boy's `factory.Faker` would, instead of writing constants (the fair "
            "rows of the factories benchmark, issue 18 item 6). Plain pytest loads Faker's own "
            "pytest plugin, which imports Faker at start-up, so both baselines pay for the "
            "import (aksara's lazy copy of that plugin defers it to the first factory value); "
            f"the fair one adds only the Faker instance and its values: {faker_cost:+.3f} s "
            "(difference of medians, within the noise).",
            "",
            *fair_rows,
            "",
            f"The floor row is the baseline's own work without the interpreter's teardown at "
            f"exit, which `aksara test` skips (see docs/cli.md): the least a run of this test "
            f"can take if it imports the same app, pytest and plugins, once everything of "
            f"aksara's (plugin, settings, test database, layers, factories) costs nothing. "
            f"`--reuse-db` is at {over_floor:.2f}{TIMES} that floor and at "
            f"{over_fair_floor:.2f}{TIMES} the fair one (medians of per-round ratios). "
            f"{floor_verdict(floor_ratio, REUSE_TARGET)} "
            "The fresh-models row builds its fresh database as the baseline does, from the "
            "models with `create_all` (`--no-migrations`), instead of by the app's Alembic "
            "chain, which the fresh row runs because the project sets `migrations` (the "
            "specification: the test schema is built by migrating to head when migrations "
            f"are configured): fresh is at {over_models:.2f}{TIMES} fresh-models.",
            "",
            f"Where the time goes (medians of {rounds} more rounds with a timing plugin): "
            "start-up is launch to `pytest_sessionstart` (interpreter, CLI, pytest, plugins, "
            "configure), collection imports the test module and the app, set-up is the "
            "fixtures (test database, session, client), finish is session end, database "
            "drop and interpreter exit. The baseline's conftest imports the app (FastAPI, "
            "SQLAlchemy) while pytest starts; aksara imports it at collection and set-up.",
            "",
            *split,
            END_MARKER,
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument(
        "--breakdown", type=int, default=5, help="rounds with the timing plugin (default 5)"
    )
    parser.add_argument(
        "--write", action="store_true", help=f"update the loop section of {RESULTS_FILE.name}"
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="run the children with PYTHONDONTWRITEBYTECODE=1 (no __pycache__)",
    )
    options = parser.parse_args(argv)
    if options.repeats < 1 or options.breakdown < 1:
        parser.error("--repeats and --breakdown must be at least 1")
    global BYTECODE_CACHE
    BYTECODE_CACHE = not options.no_bytecode_cache
    blocked = foreign_plugins()
    no_plugins = tuple(arg for name in blocked for arg in ("-p", f"no:{name}"))
    with tempfile.TemporaryDirectory(prefix="aksara-loop-") as tmp:
        root = Path(tmp)
        (root / "clock").mkdir()
        (root / "clock" / "_loop_clock.py").write_text(CLOCK_PLUGIN)
        commands = {
            "baseline": f"`pytest -q -p no:aksara {TEST}`",
            "fresh": f"`aksara test -q {TEST}`",
            "reuse": f"`aksara test --reuse-db -q {TEST}`",
            "fresh-models": f"`aksara test --no-migrations -q {TEST}`",
            "floor": "the baseline's command, its process ended as `aksara test` ends its own",
            "baseline-faker": "the baseline's command, its row's email and name from Faker",
            "floor-faker": "the floor's command, its row's email and name from Faker",
        }
        baseline = write_baseline(root / "baseline")
        fair = write_baseline(root / "baseline-faker", BASELINE_FAKER_TEST)
        baseline_args = ("-q", "-p", "no:aksara", *no_plugins, TEST)
        variants = [
            Variant("baseline", (PYTHON, "-m", "pytest", *baseline_args), baseline),
            Variant("floor", (PYTHON, "-c", FLOOR_CODE, *baseline_args), baseline),
            Variant("baseline-faker", (PYTHON, "-m", "pytest", *baseline_args), fair),
            Variant("floor-faker", (PYTHON, "-c", FLOOR_CODE, *baseline_args), fair),
            Variant(
                "fresh",
                (AKSARA, "test", "-q", TEST, "--", *no_plugins),
                copy_blog(root / "fresh"),
            ),
            Variant(
                "reuse",
                (AKSARA, "test", "--reuse-db", "-q", TEST, "--", *no_plugins),
                copy_blog(root / "reuse"),
            ),
            Variant(
                "fresh-models",
                (AKSARA, "test", "--no-migrations", "-q", TEST, "--", *no_plugins),
                copy_blog(root / "fresh-models"),
            ),
        ]
        print(f"blocked in every command: {', '.join(blocked)}", file=sys.stderr)
        times = measure(variants, options.repeats)
        phases = breakdown(variants, options.breakdown, root / "clock")
    text = section(times, phases, blocked, options.repeats, options.breakdown, commands)
    print(text)
    if options.write:
        replace_section(text, START_MARKER, END_MARKER, RESULTS_FILE)
        print(f"wrote {RESULTS_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
