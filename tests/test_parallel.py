"""``aksara test -n 2``: a database per worker, cloned from one template, all dropped after.

Every test here drives the real ``aksara`` executable on a generated project,
on SQLite and PostgreSQL. The project's own tests meet at barriers (files in
``barriers/``) so that both workers provably hold their databases at the same
moment: a run of two tests on two workers sends one test to each.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from app_process import Outcome
from conftest import Project
from parallel_process import ParallelProject, kill_group, once, worker_notes

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

# Two tests, one per worker. Each commits its worker's id for real (the test is
# transactional), waits until the other worker has committed too, and must then
# see its own row only: one shared database would show both.
TEST_WORKERS = """
import json

import pytest
from sqlalchemy import select

from aksara_testing import Factory, Faker, setup_test_database
from barrier import HERE, WORKER, arrive
from models import Author


class AuthorFactory(Factory):
    class Meta:
        model = Author

    name = Faker("name")


@pytest.mark.transactional
@pytest.mark.parametrize("n", [1, 2])
async def test_a_worker_sees_only_its_own_rows(db_session, n):
    db_session.add(Author(name=WORKER))
    await db_session.commit()
    await arrive("committed")
    names = (await db_session.scalars(select(Author.name))).all()
    await db_session.rollback()  # end the read (see test_a_transactional_test_may_read_last)
    await arrive("read")  # neither worker empties its table before the other has read
    assert names == [WORKER]

    handle = await setup_test_database()
    record = {
        "worker": WORKER,
        "database": handle.url.database,
        "fake": [author.name for author in AuthorFactory.build_batch(3)],
    }
    (HERE / f"record-{n}.json").write_text(json.dumps(record))
"""


def passed(outcome: Outcome, tests: int) -> Outcome:
    assert outcome.code == 0, str(outcome)
    assert f"{tests} passed" in outcome.stdout, str(outcome)
    return outcome


def header(outcome: Outcome) -> str:
    return next(line for line in outcome.stdout.splitlines() if line.startswith("aksara: settings"))


def records(project: ParallelProject) -> dict[int, dict[str, Any]]:
    return {
        int(path.stem.split("-")[1]): json.loads(path.read_text())
        for path in project.barriers.glob("record-*.json")
    }


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ParallelProject]:
    """A project on SQLite and, when a server is configured, on PostgreSQL."""
    server = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    made = ParallelProject(tmp_path, request.param, server)
    yield made
    made.drop_databases()


# -- one run with two workers, looked at from every side ------------------------------------


@dataclass(frozen=True)
class ParallelRun:
    """``-n 2 -v`` of the two-worker tests, then the same tests without workers, same seed."""

    backend: str
    name: str
    outcome: Outcome
    records: dict[int, dict[str, Any]]
    databases_after: list[str]
    leftovers_after: list[str]
    seeded: Outcome | None  # None when the first run printed no seed
    seeded_records: dict[int, dict[str, Any]]


def _parallel_run(backend: str, server: str | None, base: Path) -> dict[str, Any]:
    project = ParallelProject(base, backend, server)
    project.write("test_workers.py", TEST_WORKERS)
    try:
        outcome = project.run("-n", "2", "-v", "test_workers.py")
        found = records(project)
        databases, leftovers = project.databases(), project.aksara_leftovers()
        seed = re.search(r", seed (\d+)", outcome.stdout)
        seeded = project.run("--seed", seed.group(1), "test_workers.py") if seed else None
        seeded_records = records(project)
    finally:
        project.drop_databases()
    return {
        "backend": backend,
        "name": project.test_name,
        "outcome": asdict(outcome),
        "records": found,
        "databases_after": databases,
        "leftovers_after": leftovers,
        "seeded": asdict(seeded) if seeded else None,
        "seeded_records": seeded_records,
    }


@pytest.fixture(scope="module", params=BACKENDS)
def parallel_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> ParallelRun:
    """One parallel run per backend, shared by the tests that look at it."""
    backend = request.param
    server = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    found = once(
        tmp_path_factory, f"parallel-run-{backend}", partial(_parallel_run, backend, server)
    )
    seeded = found["seeded"]
    return ParallelRun(
        backend,
        found["name"],
        Outcome(**found["outcome"]),
        {int(n): r for n, r in found["records"].items()},
        found["databases_after"],
        found["leftovers_after"],
        Outcome(**seeded) if seeded else None,
        {int(n): r for n, r in found["seeded_records"].items()},
    )


def test_both_workers_pass(parallel_run: ParallelRun) -> None:
    passed(parallel_run.outcome, tests=2)


def test_the_header_shows_the_number_of_workers(parallel_run: ParallelRun) -> None:
    assert header(parallel_run.outcome).endswith(", workers 2")


def test_verbose_output_lists_each_workers_own_database(parallel_run: ParallelRun) -> None:
    name = parallel_run.name
    notes = worker_notes(parallel_run.outcome)

    assert sorted(notes) == ["gw0", "gw1"]
    for worker, (url, note) in notes.items():
        assert re.search(rf"[/]{name}_{worker}(\.db)?$", url), url
        assert note.startswith(f"cloned from {name}_template"), note
    if parallel_run.backend == "postgres":
        assert all(":***@" in url for url, _ in notes.values())  # the password is masked


def test_each_worker_sees_only_the_rows_it_committed(parallel_run: ParallelRun) -> None:
    # Each test asserted inside the run that it saw its own row only; here: on which database.
    passed(parallel_run.outcome, tests=2)
    found = {r["worker"]: Path(r["database"]).name for r in parallel_run.records.values()}
    name = parallel_run.name
    suffix = ".db" if parallel_run.backend == "sqlite" else ""
    assert found == {"gw0": f"{name}_gw0{suffix}", "gw1": f"{name}_gw1{suffix}"}


def test_template_and_clones_are_dropped_after_the_run(parallel_run: ParallelRun) -> None:
    passed(parallel_run.outcome, tests=2)
    assert parallel_run.databases_after == []


def test_the_run_leaves_nothing_in_the_temporary_directory(parallel_run: ParallelRun) -> None:
    passed(parallel_run.outcome, tests=2)
    assert parallel_run.leftovers_after == []


def test_factories_give_a_test_the_same_data_on_any_worker(parallel_run: ParallelRun) -> None:
    """Workers use the seed the controller printed: a run without workers reproduces their data."""
    seed = re.search(r", seed (\d+)", header(parallel_run.outcome))
    assert seed is not None and parallel_run.seeded is not None
    passed(parallel_run.seeded, tests=2)
    assert f"seed {seed.group(1)}" in header(parallel_run.seeded)

    on_workers, in_one_process = parallel_run.records, parallel_run.seeded_records
    assert {r["worker"] for r in on_workers.values()} == {"gw0", "gw1"}
    assert {r["worker"] for r in in_one_process.values()} == {"main"}
    assert {n: r["fake"] for n, r in on_workers.items()} == {
        n: r["fake"] for n, r in in_one_process.items()
    }
    assert on_workers[1]["fake"] != on_workers[2]["fake"]  # seeded per test, not one stream


# -- scoped data layers -----------------------------------------------------------------------

LAYERS_CONFTEST = """
import pytest

from barrier import HERE, WORKER
from models import Author


@pytest.fixture(scope="session")
async def session_author(db_session):
    db_session.add(Author(name="session"))
    await db_session.commit()


@pytest.fixture(autouse=True)
def record_worker(request):
    with (HERE / f"ran-{WORKER}.txt").open("a") as ran:
        ran.write(request.node.nodeid + "\\n")
"""

LAYERS_HELPERS = """
from sqlalchemy import select

from models import Author


async def names(session):
    return sorted((await session.scalars(select(Author.name))).all())
"""

TEST_LAYERS = """
import pytest

from layers import names
from models import Author


@pytest.fixture(scope="module")
async def module_author(session_author, db_session):
    db_session.add(Author(name="module"))
    await db_session.flush()


class TestAClassLayer:
    @pytest.fixture(scope="class")
    async def class_author(self, module_author, db_session):
        db_session.add(Author(name="class"))
        await db_session.commit()

    @pytest.mark.parametrize("n", range(4))
    async def test_sees_its_scopes_and_its_own_row(self, class_author, db_session, n):
        assert await names(db_session) == ["class", "module", "session"]
        db_session.add(Author(name=f"test {n}"))
        await db_session.commit()
        assert await names(db_session) == ["class", "module", "session", f"test {n}"]


@pytest.mark.parametrize("n", range(4))
async def test_after_the_class_only_module_and_session_rows(module_author, db_session, n):
    assert await names(db_session) == ["module", "session"]
"""

TEST_OTHER_MODULE = """
import pytest

from layers import names


@pytest.mark.parametrize("n", range(4))
async def test_another_module_sees_the_session_row_only(session_author, db_session, n):
    assert await names(db_session) == ["session"]
"""


def test_scoped_fixtures_data_layers_hold_on_every_worker(app: ParallelProject) -> None:
    app.write("conftest.py", LAYERS_CONFTEST)
    app.write("layers.py", LAYERS_HELPERS)
    app.write("test_layers.py", TEST_LAYERS)
    app.write("test_other_module.py", TEST_OTHER_MODULE)

    passed(app.run("-n", "2"), tests=12)

    ran = {path.stem: path.read_text().split() for path in app.barriers.glob("ran-*.txt")}
    assert sorted(ran) == ["ran-gw0", "ran-gw1"]  # both workers built their own layers
    assert sum(len(tests) for tests in ran.values()) == 12
    assert app.databases() == []


# -- --reuse-db with workers --------------------------------------------------------------------

TEST_USES_DATABASE = """
import pytest

from barrier import WORKER
from models import Author


@pytest.mark.parametrize("n", [1, 2])
async def test_uses_its_database(db_session, n):
    db_session.add(Author(name=WORKER))
    await db_session.flush()
"""

EMAIL_MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    email: Mapped[str | None] = mapped_column(String(80), default=None)
"""

TEST_USES_EMAIL = """
import pytest
from sqlalchemy import select

from barrier import WORKER
from models import Author


@pytest.mark.parametrize("n", [1, 2])
async def test_the_new_column_exists(db_session, n):
    db_session.add(Author(name=WORKER, email=f"{WORKER}@example.com"))
    await db_session.flush()
    assert await db_session.scalar(select(Author.email)) == f"{WORKER}@example.com"
"""


def notes_of(outcome: Outcome) -> dict[str, str]:
    return {worker: note for worker, (_, note) in worker_notes(outcome).items()}


def test_reuse_db_keeps_template_and_clones_and_rebuilds_them_after_a_model_change(
    app: ParallelProject,
) -> None:
    app.write("test_uses.py", TEST_USES_DATABASE)
    name = app.test_name
    kept = [f"{name}_gw0", f"{name}_gw1", f"{name}_template"]
    cloned = f"cloned from {name}_template"

    first = passed(app.run("-n", "2", "-v", "--reuse-db"), tests=2)
    assert all(note.startswith(cloned) for note in notes_of(first).values()), first
    assert sorted(notes_of(first)) == ["gw0", "gw1"]
    assert app.databases() == kept

    second = passed(app.run("-n", "2", "-v", "--reuse-db"), tests=2)
    assert notes_of(second) == {w: "reused (schema unchanged)" for w in ("gw0", "gw1")}
    assert app.databases() == kept

    app.write("models.py", EMAIL_MODELS)
    app.write("test_uses.py", TEST_USES_EMAIL)
    rebuilt = passed(app.run("-n", "2", "-v", "--reuse-db"), tests=2)
    assert all(note.startswith(cloned) for note in notes_of(rebuilt).values()), rebuilt
    assert sorted(notes_of(rebuilt)) == ["gw0", "gw1"]
    assert app.databases() == kept


# -- runs that end badly, runs that meet --------------------------------------------------------

# Each test commits its worker's row; with HOLD set it then waits, holding its
# worker's database, until barriers/release appears. A rerun first checks the
# table is empty: nothing an interrupted run wrote may survive.
TEST_HOLD = """
import os

import pytest
from sqlalchemy import func, select

from barrier import WORKER, arrive, wait_for
from models import Author


@pytest.mark.parametrize("n", [1, 2])
async def test_holds_its_database(db_session, n):
    assert await db_session.scalar(select(func.count()).select_from(Author)) == 0
    db_session.add(Author(name=WORKER))
    await db_session.commit()
    if os.environ.get("HOLD"):
        await arrive("holding")
        await wait_for("release")
    assert (await db_session.scalars(select(Author.name))).all() == [WORKER]
"""


def test_a_run_killed_while_its_workers_hold_clones_does_not_break_the_next(
    app: ParallelProject,
) -> None:
    app.write("test_hold.py", TEST_HOLD)
    name = app.test_name
    process = app.start("-n", "2", HOLD="1")
    app.wait_for_files("holding-*", 2, process, "background.log")

    kill_group(process)
    assert process.returncode == -signal.SIGKILL
    # The template may be left too, if the kill came before the last clone dropped it.
    assert {f"{name}_gw0", f"{name}_gw1"} <= set(app.databases())

    again = passed(app.run("-n", "2", "-v"), tests=2)
    assert sorted(worker_notes(again)) == ["gw0", "gw1"]
    assert app.databases() == []  # the killed run's databases went too


def test_the_template_is_dropped_as_soon_as_every_worker_has_its_clone(
    app: ParallelProject,
) -> None:
    app.write("test_hold.py", TEST_HOLD)
    name = app.test_name
    process = app.start("-n", "2", HOLD="1")
    try:
        app.wait_for_files("holding-*", 2, process, "background.log")
        deadline = time.monotonic() + 30  # PostgreSQL: dropped in the background, in moments
        while f"{name}_template" in (found := app.databases()) and time.monotonic() < deadline:
            time.sleep(0.05)
        (app.barriers / "release").write_text("")
        assert process.wait(timeout=120) == 0, app.read("background.log")
    finally:
        kill_group(process)
    # Both workers still hold their clones while the tests run; nothing is left after.
    assert sorted(found) == [f"{name}_gw0", f"{name}_gw1"]
    assert app.databases() == []


# gw1 makes its clone at once; gw0 only once the test driving the run says gw1 is
# held up in the middle of making it.
TEST_CLONES = """
import pytest

from aksara_testing import setup_test_database
from barrier import HERE, WORKER, wait_for


@pytest.mark.parametrize("n", [1, 2])
async def test_gets_its_own_database(n):
    if WORKER == "gw0":
        await wait_for("go")
    handle = await setup_test_database()
    (HERE / f"ready-{WORKER}").write_text(handle.url.database)
"""


@pytest.mark.postgres
def test_on_postgresql_a_worker_clones_while_another_is_still_cloning(
    postgres_url: str, tmp_path: Path
) -> None:
    import asyncpg

    app = ParallelProject(tmp_path, "postgres", postgres_url)
    app.write("test_clones.py", TEST_CLONES)
    name = app.test_name
    app._admin(f'CREATE DATABASE "{name}_gw1"')  # left by an earlier run, as after a kill -9
    # An open transaction that commented on it: gw1's clone step (drop what carries its
    # name, then copy the template) waits on it, holding whatever it holds meanwhile.
    loop = asyncio.new_event_loop()
    holder = loop.run_until_complete(asyncpg.connect(postgres_url))
    loop.run_until_complete(holder.execute(f"BEGIN; COMMENT ON DATABASE \"{name}_gw1\" IS 'x'"))
    process = app.start("-n", "2", "-v")
    try:
        waiting = f'DROP DATABASE IF EXISTS "{name}_gw1"'
        blocked = "SELECT count(*) FROM pg_stat_activity WHERE starts_with(query, $1) "
        blocked += "AND wait_event_type = 'Lock'"
        deadline = time.monotonic() + 90
        while not app._admin(blocked, waiting):
            alive = process.poll() is None and time.monotonic() < deadline
            assert alive, app.read("background.log")
            time.sleep(0.05)
        (app.barriers / "go").write_text("")
        deadline = time.monotonic() + 30
        while not (app.barriers / "ready-gw0").exists():
            assert time.monotonic() < deadline, "gw0 waited for gw1's clone to finish"
            time.sleep(0.05)
        loop.run_until_complete(holder.execute("ROLLBACK"))
        assert process.wait(timeout=120) == 0, app.read("background.log")
    finally:
        loop.run_until_complete(holder.close())
        loop.close()
        kill_group(process)
        app.drop_databases()
    notes = worker_notes(Outcome(0, app.read("background.log"), ""))
    assert {worker: note for worker, (_, note) in notes.items()} == {
        "gw0": f"cloned from {name}_template",
        "gw1": f"cloned from {name}_template",
    }


# Four tests on four workers: each commits its worker's id, waits until all four have,
# then must see its own row only.
TEST_FOUR = """
import pytest
from sqlalchemy import select

from barrier import WORKER, arrive
from models import Author


@pytest.mark.transactional
@pytest.mark.parametrize("n", [1, 2, 3, 4])
async def test_sees_only_its_workers_row(db_session, n):
    db_session.add(Author(name=WORKER))
    await db_session.commit()
    await arrive("committed", count=4)
    names = (await db_session.scalars(select(Author.name))).all()
    await db_session.rollback()
    await arrive("read", count=4)
    assert names == [WORKER]
"""


@pytest.mark.postgres
def test_four_workers_cloning_at_once_each_get_a_database_of_their_own(
    postgres_url: str, tmp_path: Path
) -> None:
    app = ParallelProject(tmp_path, "postgres", postgres_url)
    app.write("test_four.py", TEST_FOUR)
    try:
        outcome = passed(app.run("-n", "4", "-v"), tests=4)
        left = app.databases()
    finally:
        app.drop_databases()
    notes = worker_notes(outcome)
    assert sorted(notes) == ["gw0", "gw1", "gw2", "gw3"]
    for worker, (url, note) in notes.items():
        assert url.endswith(f"/{app.test_name}_{worker}"), url
        assert note == f"cloned from {app.test_name}_template", note
    assert left == []


@dataclass(frozen=True)
class Collision:
    """Checkout A holds both its clones; checkout B (same database_url) runs meanwhile."""

    name: str
    holder: Outcome
    second: Outcome
    while_second_ran: list[str]
    after: list[str]


def _collision(server: str, base: Path) -> dict[str, Any]:
    (base / "a").mkdir()
    (base / "b").mkdir()
    first = ParallelProject(base / "a", "postgres", server)
    first.write("test_hold.py", TEST_HOLD)
    second = first.checkout(base / "b")
    process = first.start("-n", "2", HOLD="1")
    try:
        first.wait_for_files("holding-*", 2, process, "background.log")
        other = second.run("-n", "2")
        while_second_ran = first.databases()
        (first.barriers / "release").write_text("")
        process.wait(timeout=120)
    finally:
        kill_group(process)
        holder = Outcome(process.returncode, first.read("background.log"), "")
        after = first.databases()
        first.drop_databases()
    return {
        "name": first.test_name,
        "holder": asdict(holder),
        "second": asdict(other),
        "while_second_ran": while_second_ran,
        "after": after,
    }


@pytest.fixture(scope="module")
def collision(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Collision:
    found = once(tmp_path_factory, "collision", partial(_collision, postgres_url))
    return Collision(
        found["name"],
        Outcome(**found["holder"]),
        Outcome(**found["second"]),
        found["while_second_ran"],
        found["after"],
    )


@pytest.mark.postgres
def test_a_second_checkout_on_the_same_server_never_disturbs_a_running_one(
    collision: Collision,
) -> None:
    # A's tests asserted after the release that their rows and connections were intact.
    passed(collision.holder, tests=2)
    name = collision.name
    assert {f"{name}_gw0", f"{name}_gw1"} <= set(collision.while_second_ran)
    assert collision.second.code != 0  # B did not run its tests on A's databases
    assert collision.after == []


@pytest.mark.postgres
def test_a_second_checkout_is_told_which_run_holds_the_databases(collision: Collision) -> None:
    output = collision.second.stdout + collision.second.stderr
    assert collision.second.code == 4, output
    assert "INTERNALERROR" not in output
    assert re.search(
        rf"test database {collision.name}_gw[01] is in use by another run \(aksara admin: "
        rf"{collision.name}_gw[01] pid \d+ /",
        output,
    ), output


@pytest.mark.postgres
def test_without_workers_a_second_checkout_is_refused_naming_the_holder(
    postgres_url: str, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = ParallelProject(tmp_path / "a", "postgres", postgres_url)
    first.write("test_hold.py", TEST_HOLD)
    second = first.checkout(tmp_path / "b")
    process = first.start("test_hold.py::test_holds_its_database[1]", HOLD="1")
    try:
        first.wait_for_files("holding-*", 1, process, "background.log")
        refused = second.run("test_hold.py::test_holds_its_database[1]")
        (first.barriers / "release").write_text("")
        assert process.wait(timeout=120) == 0, first.read("background.log")
    finally:
        kill_group(process)
        first.drop_databases()

    assert refused.code == 4, str(refused)
    # PostgreSQL keeps 63 bytes of the holder's label: the checkout's path may be cut short.
    assert (
        f"test database {first.test_name} is in use by another run "
        f"(aksara admin: {first.test_name} pid {process.pid} /"
    ) in refused.stdout + refused.stderr


# -- a project built by Alembic migrations ------------------------------------------------------

ALEMBIC_INI = """
[alembic]
script_location = %(here)s/migrations
prepend_sys_path = .
path_separator = os
sqlalchemy.url = sqlite+aiosqlite:///app.db
"""

# Alembic's async env.py template, plus one line per run in migrated.log.
ENV_PY = """
import asyncio
from pathlib import Path

from alembic import context
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import async_engine_from_config

from models import Base

config = context.config
LOG = Path(__file__).resolve().parents[1] / "migrated.log"


def do_run_migrations(connection):
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations():
    with LOG.open("a") as log:
        log.write(config.get_main_option("sqlalchemy.url").rsplit("/", 1)[-1] + "\\n")
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

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "authors",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
    )


def downgrade():
    op.drop_table("authors")
"""

TEST_MIGRATED = """
import pytest
from sqlalchemy import text

from barrier import WORKER
from models import Author


@pytest.mark.parametrize("n", [1, 2])
async def test_the_workers_database_is_at_head(db_session, n):
    assert await db_session.scalar(text("SELECT version_num FROM alembic_version")) == "0001"
    db_session.add(Author(name=WORKER))
    await db_session.flush()
"""


def test_a_migrated_project_is_migrated_once_and_cloned_per_worker(app: ParallelProject) -> None:
    app.write_settings('migrations = "alembic.ini"')
    app.write("alembic.ini", ALEMBIC_INI)
    (app.path / "migrations" / "versions").mkdir(parents=True)
    app.write("migrations/env.py", ENV_PY)
    app.write("migrations/versions/0001_authors.py", REVISION)
    app.write("test_migrated.py", TEST_MIGRATED)

    outcome = passed(app.run("-n", "2", "-v"), tests=2)

    template = f"{app.test_name}_template"
    assert app.read("migrated.log").split() == [
        template + (".db" if app.backend == "sqlite" else "")
    ]
    assert notes_of(outcome) == {
        w: f"cloned from {template}" + (".db" if app.backend == "sqlite" else "")
        for w in ("gw0", "gw1")
    }
    assert app.databases() == []


# -- plain pytest ------------------------------------------------------------------------------

TEST_APP_SESSIONS = """
import os

import pytest
from sqlalchemy import text

from appdb import SessionLocal
from helpers import app_count, app_creates

WORKER = os.environ["PYTEST_XDIST_WORKER"]
WHERE = {
    "sqlite": "SELECT file FROM pragma_database_list WHERE name = 'main'",
    "postgres": "SELECT current_database()",
}[BACKEND]


@pytest.mark.parametrize("n", [1, 2])
async def test_the_apps_own_sessions_use_the_workers_database(n):
    await app_creates(f"made by {WORKER}")
    assert await app_count() == 1
    async with SessionLocal() as session:
        where = await session.scalar(text(WHERE))
    assert where.endswith((f"_{WORKER}", f"_{WORKER}.db")), where
"""


def test_plain_pytest_with_workers_rebinds_the_apps_sessions_per_worker(project: Project) -> None:
    project.pytester.makepyfile(
        test_app_sessions=TEST_APP_SESSIONS.replace("[BACKEND]", f"[{project.backend!r}]")
    )
    result = project.pytester.runpytest_subprocess(
        "-n", "2", "-v", "-p", "no:randomly", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "aksara: settings *, workers 2",
            "aksara: gw0: test database *_gw0* cloned from *_template*",
            "aksara: gw1: test database *_gw1* cloned from *_template*",
        ]
    )


# -- found on the way -------------------------------------------------------------------------

TEST_READ_LAST = """
import pytest
from sqlalchemy import select

from models import Author


@pytest.mark.transactional
async def test_reads_after_its_commit(db_session):
    db_session.add(Author(name="committed"))
    await db_session.commit()
    assert (await db_session.scalars(select(Author.name))).all() == ["committed"]


async def test_the_next_test_starts_empty(db_session):
    assert (await db_session.scalars(select(Author.name))).all() == []
"""


@pytest.mark.postgres
def test_a_transactional_test_may_read_last(postgres_url: str, tmp_path: Path) -> None:
    app = ParallelProject(tmp_path, "postgres", postgres_url)
    app.write("test_read_last.py", TEST_READ_LAST)
    process = app.start()
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None:
            # Hung: the table emptying has waited on a lock for a second (not a slow machine).
            assert not app.blocked_statements("TRUNCATE", seconds=1), "the run hangs on TRUNCATE"
            assert time.monotonic() < deadline, app.read("background.log")
            time.sleep(0.2)
    finally:
        kill_group(process)
        app.drop_databases()
    passed(Outcome(process.returncode, app.read("background.log"), ""), tests=2)
