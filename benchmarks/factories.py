"""Factories against hand-written ORM code, factory_boy and polyfactory, in the same run.

    python benchmarks/factories.py [--backend sqlite|postgres|all] [--repeats 5] [--write]
        [--inner 3] [--size 1000] [--build-size 10000] [--json RECORDS.jsonl]

What it measures (issue 6, "Benchmarks")
----------------------------------------
1. ``create_batch(1000)`` of posts whose author comes from a SubFactory, so
   1,000 posts + 1,000 authors = 2,000 rows, with integer keys (database
   autoincrement) and UUID keys (``default=uuid.uuid4``), on SQLite (a file,
   through aiosqlite) and PostgreSQL (asyncpg). Against:

   (a) raw SQLAlchemy ORM: the same objects constructed by hand, with the
       *same Faker calls* for the same fields (``name``, ``sentence``,
       ``paragraph``; the unique email from a counter, like our Sequence), so
       the comparison charges Faker to both sides; then ``add_all`` + one
       ``flush``. Measured twice: on a plain ``create_async_engine`` session
       (what the issue's baseline is: default aiosqlite, one worker-thread hop
       per statement) and on the plugin's own ``db_session`` (same connection
       and savepoint as our factories, so the ratio is the factory's own cost);
   (b) factory_boy 3.3 ``SQLAlchemyModelFactory`` on a sync ``Session`` of a
       sync engine (sqlite3 / psycopg 3) on the same file / server,
       ``sqlalchemy_session_persistence = None`` and one ``flush`` at the end;
   (c) polyfactory ``SQLAlchemyFactory.create_batch_async`` with its own async
       persistence (its default: ``add_all``, ``commit``, then ``refresh`` of
       every post). ``__set_primary_key__ = False`` so the database / the
       model assigns keys as in every other variant; the author comes from
       ``Use(AuthorFactory.build)``; polyfactory has no Sequence, so the email
       is ``Use(lambda: f"user{next(counter)}@example.com")``. Whether a plain
       ``Use(faker.email)`` collides on the unique column in a batch is checked
       once per backend and reported.

   Each baseline runs twice (issue 18, item 6): with Faker's default
   configuration (weighted sampling, what its users get; ``name`` costs ~72
   µs a value) and with the configuration our Faker uses,
   ``Faker(use_weighting=False)`` (~7 µs), so the "fair" rows compare
   factory code with the same Faker work on both sides: factory_boy through a
   ``factory.Faker`` subclass whose ``_get_faker`` hands out an unweighted
   Faker, polyfactory with ``__faker__`` and its ``Use(...)`` providers on an
   unweighted Faker, the raw ORM calling an unweighted Faker. Targets on the
   fair rows: >= 1.5x the raw ORM on ``db_session``, >= 2x factory_boy,
   >= 6x polyfactory (and >= 1x the raw ORM on a plain engine, as before).

   Ours is ``await PostFactory.create_batch(1000)`` inside a real pytest run
   with the plugin configured from ``[tool.aksara]`` (``database_url``,
   ``models``): the factories then write through the test layer's session, on
   the plugin's test engine (SQLite on the loop thread; asyncpg), inside the
   test's savepoint, and pay its ``commit`` (a savepoint release). That is how
   users run them, so the benchmark runs them that way rather than calling
   the runtime's internals.

2. ``build_batch(10000)`` of the same post factory (each post builds its
   author: 20,000 objects, 30,000 Faker values), no database, against
   factory_boy ``build_batch``, polyfactory ``batch`` and the hand-written
   construction with the same Faker calls; again with both Faker
   configurations (no target set for building; reported).

3. Where the time goes: one ``create_batch(1000)`` per backend and key type,
   (i) with wall-clock probes (time in Faker, in persistence, in statement
   execution between SQLAlchemy's before/after cursor events, statement
   counts) and a reference construction of the same objects from
   precomputed values, and (ii) under cProfile (CPU time, grouped by package,
   top functions by own time). Also reported: how far below the baselines the
   Faker time alone sits (the best ratio any factory making the same Faker
   calls could reach; for the fair rows, against Faker's time plus the
   statements' execution), Faker's cost per value with and without its
   ``use_weighting``, and whether polyfactory's Faker emails collide.

Method
------
Each backend gets a throwaway pytest project in a temporary directory
(models, the four sets of factories, the tests); build tests run in a project
without a database. After one untimed warm-up round, a round runs one pytest
subprocess per job (build, sqlite, postgres) and, inside it, the variants'
tests, both orders rotated so that over the rounds every variant runs early
and late (node ids on the command line, ``-p no:randomly``). Every test first
runs its variant once on 20 objects (connections, compiled-statement caches,
Faker providers), then takes ``--inner`` timed samples (``gc.collect()``
before each, untimed; ``time.perf_counter()`` around the call) and appends
their median to a JSON-lines file. Between samples the baselines roll back
(polyfactory, which commits, deletes its rows), and ours and the raw
``db_session`` variant expunge their session, so every sample starts with an
empty identity map. Each variant's objects are checked after timing (keys
assigned, foreign keys set, row counts). Reported: medians over the rounds;
ratios are the medians of the per-round ratios (baseline time / our time, so
above 1 means ours is faster); rows/s counts posts and authors.

The probes of part 3 wrap two internals (``persistence.persist`` and
``FactoryState.fake_synced``, which a factory's values go through) for the
length of one call; if they change shape the profile step fails loudly rather
than reporting nonsense.

Databases: the baselines use a SQLite file in the temporary project (WAL and
``foreign_keys=ON``, as the plugin sets them) and the PostgreSQL database
``test_bench_factories_baseline``, created before and dropped after the run;
the plugin derives ``test_bench_factories_aksara`` from ``database_url`` and creates
and drops it itself. No other database is touched. PostgreSQL needs
``AKSARA_TEST_POSTGRES_URL`` (a server URL; its database is only used to
connect for admin work).

``--write`` replaces the section between ``<!-- factories:start -->`` and
``<!-- factories:end -->`` in ``benchmarks/RESULTS.md`` and nothing else. The
run stops without writing if ``aksara_testing``'s source changes while it runs
(the rounds would have measured different code).
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from _results import machine_line, replace_section  # benchmarks/ is on sys.path

HERE = Path(__file__).resolve().parent
RESULTS_FILE = HERE / "RESULTS.md"
START_MARKER = "<!-- factories:start -->"
END_MARKER = "<!-- factories:end -->"
POSTGRES_ENV = "AKSARA_TEST_POSTGRES_URL"
PLUGIN_DB = "bench_factories_aksara"  # the plugin derives test_bench_factories_aksara
BASELINE_DB = "test_bench_factories_baseline"
DB_NAME_RE = re.compile(r"^test_bench_factories_[a-z0-9_]+$")
RUN_TIMEOUT_S = 1800
TIMES = "\u00d7"
KEYS = ("int", "uuid")
FAIR = "_fair"  # the baseline run with aksara's Faker configuration (use_weighting=False)
CREATE_VARIANTS = (
    "aksara", "raw_engine", "raw_session", "factory_boy", "polyfactory",
    *(v + FAIR for v in ("raw_engine", "raw_session", "factory_boy", "polyfactory")),
)  # fmt: skip
BUILD_VARIANTS = (
    "aksara", "raw", "factory_boy", "polyfactory",
    *(v + FAIR for v in ("raw", "factory_boy", "polyfactory")),
)  # fmt: skip
ENV_TO_DROP = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONDONTWRITEBYTECODE", "CI")

# --------------------------------------------------------------------------
# The generated project
# --------------------------------------------------------------------------

MODELS = '''
"""Authors and posts, once with integer keys and once with UUID keys."""

import uuid

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class AuthorInt(Base):
    __tablename__ = "authors_int"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200), unique=True)


class PostInt(Base):
    __tablename__ = "posts_int"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors_int.id"))
    author: Mapped[AuthorInt] = relationship()


class AuthorUuid(Base):
    __tablename__ = "authors_uuid"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200), unique=True)


class PostUuid(Base):
    __tablename__ = "posts_uuid"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("authors_uuid.id"))
    author: Mapped[AuthorUuid] = relationship()


MODELS = {"int": (AuthorInt, PostInt), "uuid": (AuthorUuid, PostUuid)}
'''

FACTORIES = '''
"""The same declarations four ways: ours, factory_boy, polyfactory, by hand.

The baselines come twice: with Faker's default configuration (weighted
sampling, as their users get it) and with the configuration aksara's Faker
uses (``Faker(use_weighting=False)``, the "fair" variants).
"""

import itertools

import factory
from faker import Faker as FakerGenerator
from polyfactory import Use
from polyfactory.factories.sqlalchemy_factory import SQLAlchemyFactory

from aksara_testing import Factory, Faker
from models import MODELS


def ours(author_model, post_model):
    class AuthorFactory(Factory):
        class Meta:
            model = author_model

        name = Faker("name")
        email = Factory.Sequence(lambda n: f"user{n}@example.com")

    class PostFactory(Factory):
        class Meta:
            model = post_model

        title = Faker("sentence")
        body = Faker("paragraph")
        author = Factory.SubFactory(AuthorFactory)

    return PostFactory


class UnweightedFaker(factory.Faker):
    """factory.Faker drawing from a Faker configured like aksara's (use_weighting=False)."""

    _FAKER_REGISTRY = {}

    @classmethod
    def _get_faker(cls, locale=None):
        locale = locale or cls._DEFAULT_LOCALE
        if locale not in cls._FAKER_REGISTRY:
            cls._FAKER_REGISTRY[locale] = FakerGenerator(locale=locale, use_weighting=False)
        return cls._FAKER_REGISTRY[locale]


def factory_boy(author_model, post_model, faker=factory.Faker):
    class AuthorFactory(factory.alchemy.SQLAlchemyModelFactory):
        class Meta:
            model = author_model
            sqlalchemy_session_persistence = None  # add only; one flush at the end

        name = faker("name")
        email = factory.Sequence(lambda n: f"user{n}@example.com")

    class PostFactory(factory.alchemy.SQLAlchemyModelFactory):
        class Meta:
            model = post_model
            sqlalchemy_session_persistence = None

        title = faker("sentence")
        body = faker("paragraph")
        author = factory.SubFactory(AuthorFactory)

    return PostFactory


def polyfactory(author_model, post_model, email_source=None, fake=None):
    counter = itertools.count()
    fake = fake or SQLAlchemyFactory.__faker__

    class AuthorFactory(SQLAlchemyFactory):
        __model__ = author_model
        __faker__ = fake
        __set_primary_key__ = False
        name = Use(fake.name)
        # No Sequence in polyfactory: a counter keeps the unique column unique.
        email = Use(email_source or (lambda: f"user{next(counter)}@example.com"))

    class PostFactory(SQLAlchemyFactory):
        __model__ = post_model
        __faker__ = fake
        __set_primary_key__ = False
        title = Use(fake.sentence)
        body = Use(fake.paragraph)
        author = Use(AuthorFactory.build)

    return PostFactory


class Raw:
    """Hand-written construction with the same Faker calls as the factories."""

    def __init__(self, author_model, post_model, seed=0, weighting=True):
        self.author_model = author_model
        self.post_model = post_model
        self.fake = FakerGenerator(use_weighting=weighting)
        self.fake.seed_instance(seed)
        self.counter = itertools.count()

    def posts(self, n):
        fake, author, post, counter = self.fake, self.author_model, self.post_model, self.counter
        return [
            post(
                title=fake.sentence(),
                body=fake.paragraph(),
                author=author(name=fake.name(), email=f"user{next(counter)}@example.com"),
            )
            for _ in range(n)
        ]


OURS = {keys: ours(*models) for keys, models in MODELS.items()}
FACTORY_BOY = {keys: factory_boy(*models) for keys, models in MODELS.items()}
FACTORY_BOY_FAIR = {
    keys: factory_boy(*models, faker=UnweightedFaker) for keys, models in MODELS.items()
}
POLYFACTORY = {keys: polyfactory(*models) for keys, models in MODELS.items()}
POLYFACTORY_FAIR = {
    keys: polyfactory(*models, fake=FakerGenerator(use_weighting=False))
    for keys, models in MODELS.items()
}
FAIR = "_fair"  # variant suffix: the baseline with aksara's Faker configuration
'''

COMMON = '''
"""Helpers shared by the benchmark tests: results file, baseline engines, checks."""

import json
import os

from sqlalchemy import create_engine, delete, event, func, select
from sqlalchemy.ext.asyncio import create_async_engine

from models import MODELS

N = int(os.environ["BENCH_N"])
BUILD_N = int(os.environ["BENCH_BUILD_N"])
INNER = int(os.environ["BENCH_INNER"])
WARM = 20
OUT = os.environ["BENCH_OUT"]


def record(**fields):
    fields.update(job=os.environ["BENCH_JOB"], round=int(os.environ["BENCH_ROUND"]))
    with open(OUT, "a") as out:
        out.write(json.dumps(fields) + "\\n")


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def baseline_async_engine():
    engine = create_async_engine(os.environ["BENCH_ASYNC_URL"])
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def baseline_sync_engine():
    engine = create_engine(os.environ["BENCH_SYNC_URL"])
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def check_posts(posts, n):
    assert len(posts) == n
    assert all(p.id is not None and p.author.id is not None for p in posts)
    assert all(p.author_id == p.author.id for p in posts)
    assert len({p.author.email for p in posts}) == n


async def count_rows(session, keys):
    author, post = MODELS[keys]
    return (
        await session.scalar(select(func.count()).select_from(author)),
        await session.scalar(select(func.count()).select_from(post)),
    )


async def empty_baseline(engine, keys):
    author, post = MODELS[keys]
    async with engine.begin() as connection:
        await connection.execute(delete(post))
        await connection.execute(delete(author))
'''

TEST_CREATE = '''
"""create_batch(N) of posts with their authors: ours and the baselines.

Each test warms its variant up on WARM objects, then takes INNER timed samples
(gc.collect() before each, untimed) and records their median.
"""

import gc
import statistics
import time

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

import benchfactories as bf
from benchcommon import (
    INNER, N, WARM, baseline_async_engine, baseline_sync_engine, check_posts, count_rows,
    empty_baseline, record,
)
from models import MODELS


def start():
    gc.collect()
    return time.perf_counter()


def save(variant, keys, samples):
    record(variant=variant, keys=keys, seconds=statistics.median(samples), samples=samples)


async def aksara(db_session, keys):
    factory = bf.OURS[keys]
    await factory.create_batch(WARM)
    samples = []
    for _ in range(INNER):
        db_session.expunge_all()  # each sample starts with an empty identity map
        began = start()
        posts = await factory.create_batch(N)
        samples.append(time.perf_counter() - began)
        check_posts(posts, N)
    rows = N * INNER + WARM
    assert await count_rows(db_session, keys) == (rows, rows)
    save("aksara", keys, samples)


async def raw_session(db_session, keys, fair=False):
    raw = bf.Raw(*MODELS[keys], weighting=not fair)
    db_session.add_all(raw.posts(WARM))
    await db_session.flush()
    samples = []
    for _ in range(INNER):
        db_session.expunge_all()
        began = start()
        posts = raw.posts(N)
        db_session.add_all(posts)
        await db_session.flush()
        samples.append(time.perf_counter() - began)
        check_posts(posts, N)
    rows = N * INNER + WARM
    assert await count_rows(db_session, keys) == (rows, rows)
    save("raw_session" + (bf.FAIR if fair else ""), keys, samples)


async def raw_engine(keys, fair=False):
    raw = bf.Raw(*MODELS[keys], weighting=not fair)
    engine = baseline_async_engine()
    samples = []
    try:
        async with AsyncSession(engine) as session:
            session.add_all(raw.posts(WARM))
            await session.flush()
            await session.rollback()
            for _ in range(INNER):
                began = start()
                posts = raw.posts(N)
                session.add_all(posts)
                await session.flush()
                samples.append(time.perf_counter() - began)
                check_posts(posts, N)
                assert await count_rows(session, keys) == (N, N)
                await session.rollback()
    finally:
        await engine.dispose()
    save("raw_engine" + (bf.FAIR if fair else ""), keys, samples)


def factory_boy(keys, fair=False):
    factory = (bf.FACTORY_BOY_FAIR if fair else bf.FACTORY_BOY)[keys]
    engine = baseline_sync_engine()
    samples = []
    try:
        with Session(engine) as session:
            factory._meta.sqlalchemy_session = session
            factory.author.get_factory()._meta.sqlalchemy_session = session
            factory.create_batch(WARM)
            session.flush()
            session.rollback()
            for _ in range(INNER):
                began = start()
                posts = factory.create_batch(N)
                session.flush()
                samples.append(time.perf_counter() - began)
                check_posts(posts, N)
                session.rollback()
    finally:
        engine.dispose()
    save("factory_boy" + (bf.FAIR if fair else ""), keys, samples)


async def polyfactory(keys, fair=False):
    factory = (bf.POLYFACTORY_FAIR if fair else bf.POLYFACTORY)[keys]
    engine = baseline_async_engine()
    samples = []
    try:
        await empty_baseline(engine, keys)
        async with AsyncSession(engine) as session:
            factory.__async_session__ = session
            await factory.create_batch_async(WARM)
        for _ in range(INNER):
            await empty_baseline(engine, keys)
            async with AsyncSession(engine) as session:
                factory.__async_session__ = session
                began = start()
                posts = await factory.create_batch_async(N)
                samples.append(time.perf_counter() - began)
                # Committed, so authors are expired: check them where lazy loads may run.
                await session.run_sync(lambda _: check_posts(posts, N))
                assert await count_rows(session, keys) == (N, N)
        await empty_baseline(engine, keys)
    finally:
        factory.__async_session__ = None
        await engine.dispose()
    save("polyfactory" + (bf.FAIR if fair else ""), keys, samples)
'''

TEST_CREATE_CASES = """

async def test_aksara_{keys}(db_session):
    await aksara(db_session, "{keys}")


async def test_raw_session_{keys}(db_session):
    await raw_session(db_session, "{keys}")


async def test_raw_engine_{keys}():
    await raw_engine("{keys}")


def test_factory_boy_{keys}():
    factory_boy("{keys}")


async def test_polyfactory_{keys}():
    await polyfactory("{keys}")


async def test_raw_session_fair_{keys}(db_session):
    await raw_session(db_session, "{keys}", fair=True)


async def test_raw_engine_fair_{keys}():
    await raw_engine("{keys}", fair=True)


def test_factory_boy_fair_{keys}():
    factory_boy("{keys}", fair=True)


async def test_polyfactory_fair_{keys}():
    await polyfactory("{keys}", fair=True)
"""

TEST_BUILD = '''
"""build_batch(BUILD_N) of posts with their authors, no database."""

import gc
import statistics
import time

import benchfactories as bf
from benchcommon import BUILD_N, INNER, record
from models import MODELS

KEYS = "int"


def timed(variant, make):
    make(50)  # warm-up
    samples = []
    for _ in range(INNER):
        gc.collect()
        began = time.perf_counter()
        built = make(BUILD_N)
        samples.append(time.perf_counter() - began)
        assert len(built) == BUILD_N
        assert all(p.title and p.body and p.author.name for p in built)
        assert len({p.author.email for p in built}) == BUILD_N
        del built
    record(variant=variant, keys=KEYS, seconds=statistics.median(samples), samples=samples)


def test_build_aksara():
    timed("aksara", bf.OURS[KEYS].build_batch)


def test_build_raw():
    timed("raw", bf.Raw(*MODELS[KEYS]).posts)


def test_build_factory_boy():
    timed("factory_boy", bf.FACTORY_BOY[KEYS].build_batch)


def test_build_polyfactory():
    timed("polyfactory", bf.POLYFACTORY[KEYS].batch)


def test_build_raw_fair():
    timed("raw" + bf.FAIR, bf.Raw(*MODELS[KEYS], weighting=False).posts)


def test_build_factory_boy_fair():
    timed("factory_boy" + bf.FAIR, bf.FACTORY_BOY_FAIR[KEYS].build_batch)


def test_build_polyfactory_fair():
    timed("polyfactory" + bf.FAIR, bf.POLYFACTORY_FAIR[KEYS].batch)
'''

TEST_PROFILE = '''
"""Where one create_batch(N) spends its time; and polyfactory with Faker emails."""

import cProfile
import gc
import os
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import aksara_testing._factories.persistence as persistence
import benchfactories as bf
from aksara_testing._factories.state import FactoryState
from benchcommon import N, WARM, baseline_async_engine, check_posts, empty_baseline, record
from faker import Faker as FakerGenerator
from models import MODELS

PROFILE_DIR = os.environ["BENCH_PROFILE_DIR"]


async def probe(db_session, keys):
    """One create_batch(N) with wall-clock probes around Faker, persist and statements."""
    factory = bf.OURS[keys]
    await factory.create_batch(WARM)
    spent = {"faker": 0.0, "persist": 0.0, "execute": 0.0}
    counts = {"faker": 0, "statements": 0, "rows": 0}
    verbs = {}
    original_persist, original_fake = persistence.persist, FactoryState.fake_synced

    async def timed_persist(factory_class, objects):
        start = time.perf_counter()
        try:
            return await original_persist(factory_class, objects)
        finally:
            spent["persist"] += time.perf_counter() - start

    def timed_fake(self, provider, **kwargs):
        start = time.perf_counter()
        try:
            return original_fake(self, provider, **kwargs)
        finally:
            spent["faker"] += time.perf_counter() - start
            counts["faker"] += 1

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_start"] = time.perf_counter()
        words = statement.split()
        verb = f"{words[0].upper()} {words[2] if words[0].upper() in ('INSERT', 'DELETE') else ''}"
        if words[0].upper() not in ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT"):
            counts["statements"] += 1
            many = executemany and parameters and isinstance(parameters[0], (tuple, list, dict))
            # insertmanyvalues sends one INSERT with a VALUES group per row
            rows = len(parameters) if many else statement.count("), (") + 1
            counts["rows"] += rows
            entry = verbs.setdefault(verb, [0, 0])
            entry[0] += 1
            entry[1] += rows

    def after(conn, cursor, statement, parameters, context, executemany):
        spent["execute"] += time.perf_counter() - conn.info.pop("bench_start")

    persistence.persist, FactoryState.fake_synced = timed_persist, timed_fake
    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    try:
        db_session.expunge_all()
        gc.collect()
        start = time.perf_counter()
        posts = await factory.create_batch(N)
        total = time.perf_counter() - start
    finally:
        persistence.persist, FactoryState.fake_synced = original_persist, original_fake
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)
    check_posts(posts, N)
    if not counts["faker"]:
        raise RuntimeError("the Faker probe saw no call: FactoryState.fake_synced changed shape")

    # Constructing the same objects from ready values: the ORM's own cost.
    fake = FakerGenerator()
    values = [
        (fake.sentence(), fake.paragraph(), fake.name(), f"x{i}@example.com") for i in range(N)
    ]
    author_model, post_model = MODELS[keys]
    start = time.perf_counter()
    [
        post_model(title=t, body=b, author=author_model(name=name, email=email))
        for t, b, name, email in values
    ]
    construct = time.perf_counter() - start

    # CPU time: under asyncio + SQLAlchemy's greenlets, wall time spent waiting for
    # the server lands on whatever frame cProfile thinks is running.
    profiler = cProfile.Profile(time.process_time)
    db_session.expunge_all()
    gc.collect()
    profiler.enable()
    posts = await factory.create_batch(N)
    profiler.disable()
    check_posts(posts, N)
    profiler.dump_stats(os.path.join(PROFILE_DIR, f"{os.environ['BENCH_JOB']}-{keys}.prof"))
    record(
        variant="probe", keys=keys, seconds=total, spent=spent, counts=counts,
        verbs=verbs, construct=construct,
    )


async def faker_email_collision(keys):
    """polyfactory with email = Use(faker.email), as one would write it without a Sequence."""
    factory = bf.polyfactory(*MODELS[keys], email_source=bf.SQLAlchemyFactory.__faker__.email)
    engine = baseline_async_engine()
    try:
        await empty_baseline(engine, keys)
        async with AsyncSession(engine) as session:
            factory.__async_session__ = session
            try:
                await factory.create_batch_async(N)
                collided = ""
            except IntegrityError as exc:
                collided = str(exc.orig).splitlines()[0][:160]
        await empty_baseline(engine, keys)
    finally:
        await engine.dispose()
    record(variant="polyfactory_faker_email", keys=keys, seconds=0.0, collided=collided)


async def test_probe_int(db_session):
    await probe(db_session, "int")


async def test_probe_uuid(db_session):
    await probe(db_session, "uuid")


async def test_polyfactory_faker_email_int():
    await faker_email_collision("int")


async def test_polyfactory_faker_email_uuid():
    await faker_email_collision("uuid")
'''


# --------------------------------------------------------------------------
# Jobs
# --------------------------------------------------------------------------


@dataclass
class Job:
    """One pytest subprocess per round: a project and the tests to run in it."""

    name: str  # "build", "sqlite" or "postgres"
    root: Path
    tests: list[str]  # node ids, rotated every round
    env: dict[str, str]


def clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ENV_TO_DROP and not k.startswith(("AKSARA_", "PYTEST_", "COV_CORE_"))
    }


def write_project(root: Path, database_url: str | None, baseline_url: str = "") -> None:
    root.mkdir(parents=True)
    # The baselines' own database is deliberate: the plugin's guard lets it through.
    aksara = (
        f'[tool.aksara]\ndatabase_url = "{database_url}"\nmodels = "models:Base"\n'
        f'allow_databases = ["{baseline_url}"]\n'
        if database_url
        else ""
    )
    (root / "pyproject.toml").write_text(f'[project]\nname = "bench"\nversion = "0"\n\n{aksara}')
    (root / "models.py").write_text(MODELS.lstrip())
    (root / "benchfactories.py").write_text(FACTORIES.lstrip())
    (root / "benchcommon.py").write_text(COMMON.lstrip())
    if database_url:
        cases = "".join(TEST_CREATE_CASES.format(keys=keys) for keys in KEYS)
        (root / "test_create.py").write_text(TEST_CREATE.lstrip() + cases)
        (root / "test_profile.py").write_text(TEST_PROFILE.lstrip())
    else:
        (root / "test_build.py").write_text(TEST_BUILD.lstrip())


def create_tests() -> list[str]:
    return [
        f"test_create.py::test_{variant}_{keys}" for keys in KEYS for variant in CREATE_VARIANTS
    ]


def run_pytest(job: Job, tests: Sequence[str], round_: int, out: Path) -> None:
    env = {**job.env, "BENCH_JOB": job.name, "BENCH_ROUND": str(round_)}
    env["BENCH_OUT"] = str(out)
    argv = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
        "--aksara-seed", "1", *tests,
    ]  # fmt: skip
    done = subprocess.run(
        argv, cwd=job.root, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    if done.returncode != 0 or f"{len(tests)} passed" not in done.stdout:
        sys.exit(
            f"{job.name} round {round_} failed (exit {done.returncode}):\n"
            f"{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
        )


# --------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------


def check_name(name: str) -> str:
    if not DB_NAME_RE.match(name):
        raise SystemExit(f"refusing to touch database {name!r}: not test_bench_factories_*")
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


def pg_urls(server_url: str, database: str) -> tuple[str, str]:
    from sqlalchemy.engine import make_url

    url = make_url(server_url).set(database=check_name(database))
    return (
        url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False),
        url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False),
    )


def create_schema(sync_url: str, root: Path) -> None:
    """The models' tables in a baseline database, from the generated models module."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(root)!r})
        from sqlalchemy import create_engine, text
        from models import Base
        engine = create_engine({sync_url!r})
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        Base.metadata.create_all(engine)
        engine.dispose()
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=clean_env())


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def pkg(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def machine(pg_version: str | None) -> str:
    parts = [
        machine_line(),
        f"Python {platform.python_version()}",
        f"SQLAlchemy {pkg('sqlalchemy')}",
        f"Faker {pkg('faker')}",
        f"factory_boy {pkg('factory-boy')}",
        f"polyfactory {pkg('polyfactory')}",
        f"aiosqlite {pkg('aiosqlite')}",
        f"asyncpg {pkg('asyncpg')}",
        f"psycopg {pkg('psycopg')}",
        f"pytest {pkg('pytest')}",
        f"aksara-testing {pkg('aksara-testing')}",
    ]
    if pg_version:
        parts.append(f"PostgreSQL {pg_version}")
    return ", ".join(parts) + f"; source {source_revision()}"


def package_fingerprint() -> str:
    """A hash of the installed package's source, to notice edits made during a run."""
    import hashlib
    import importlib.util

    spec = importlib.util.find_spec("aksara_testing")
    if spec is None or spec.origin is None:
        return "missing"
    digest = hashlib.sha256()
    for path in sorted(Path(spec.origin).parent.rglob("*.py")):
        digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def source_revision() -> str:
    """The commit measured, and whether the working tree had uncommitted changes to the package."""
    try:

        def git(*args: str) -> str:
            return subprocess.run(
                ["git", *args], cwd=HERE, capture_output=True, text=True, check=True
            ).stdout.strip()

        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "aksara_testing")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}" + (" + uncommitted changes in aksara_testing/" if dirty else "")


DEFAULT_FAKER = "default (weighted)"
SAME_FAKER = "same as ours (`use_weighting=False`)"
# (variant, label, the baseline's Faker, target ratio or None)
BASELINES = (
    ("raw_engine", "raw ORM `add_all` + flush, plain async engine", DEFAULT_FAKER, 1.0),
    ("raw_session", "raw ORM `add_all` + flush, same `db_session`", DEFAULT_FAKER, 1.0),
    ("factory_boy", "factory_boy, sync Session, one flush", DEFAULT_FAKER, 3.0),
    ("polyfactory", "polyfactory `create_batch_async`", DEFAULT_FAKER, 8.0),
    ("raw_engine" + FAIR, "raw ORM `add_all` + flush, plain async engine", SAME_FAKER, 1.0),
    ("raw_session" + FAIR, "raw ORM `add_all` + flush, same `db_session`", SAME_FAKER, 1.5),
    ("factory_boy" + FAIR, "factory_boy, sync Session, one flush", SAME_FAKER, 2.0),
    ("polyfactory" + FAIR, "polyfactory `create_batch_async`", SAME_FAKER, 6.0),
)
BUILD_BASELINES = (
    ("factory_boy", "factory_boy `build_batch`", DEFAULT_FAKER, 2.0),
    ("polyfactory", "polyfactory `batch`", DEFAULT_FAKER, None),
    ("raw", "by hand, same Faker calls", DEFAULT_FAKER, None),
    ("factory_boy" + FAIR, "factory_boy `build_batch`", SAME_FAKER, None),
    ("polyfactory" + FAIR, "polyfactory `batch`", SAME_FAKER, None),
    ("raw" + FAIR, "by hand, same Faker calls", SAME_FAKER, None),
)


def target_cells(r: float, target: float | None) -> str:
    if target is None:
        return "— | —"
    return f"≥ {target:g}{TIMES} | {'yes' if r >= target else 'no'}"


def by_round(records: list[dict[str, Any]], job: str, keys: str, variant: str) -> dict[int, float]:
    return {
        r["round"]: r["seconds"]
        for r in records
        if r["job"] == job and r["keys"] == keys and r["variant"] == variant
    }


def ratio(ours: dict[int, float], baseline: dict[int, float]) -> float:
    return statistics.median(baseline[k] / ours[k] for k in ours if k in baseline)


def create_table(records: list[dict[str, Any]], backends: Sequence[str], rows: int) -> str:
    lines = [
        "| backend | keys | aksara `create_batch` | baseline | baseline's Faker | baseline "
        "| ratio | target | met |",
        "|---|---|---:|---|---|---:|---:|---|---|",
    ]
    for backend in backends:
        for keys in KEYS:
            ours = by_round(records, backend, keys, "aksara")
            ours_rate = rows / statistics.median(ours.values())
            for variant, label, faker, target in BASELINES:
                theirs = by_round(records, backend, keys, variant)
                r = ratio(ours, theirs)
                rate = rows / statistics.median(theirs.values())
                lines.append(
                    f"| {backend} | {keys} | {ours_rate / 1e3:.1f}k rows/s | {label} | {faker} "
                    f"| {rate / 1e3:.1f}k rows/s | {r:.2f}{TIMES} | {target_cells(r, target)} |"
                )
    return "\n".join(lines)


def build_table(records: list[dict[str, Any]], size: int) -> str:
    lines = [
        "| measured | median | baseline | baseline's Faker | median | ratio | target | met |",
        "|---|---:|---|---|---:|---:|---|---|",
    ]
    ours = by_round(records, "build", "int", "aksara")
    ours_rate = size / statistics.median(ours.values())
    for variant, label, faker, target in BUILD_BASELINES:
        theirs = by_round(records, "build", "int", variant)
        r = ratio(ours, theirs)
        rate = size / statistics.median(theirs.values())
        lines.append(
            f"| aksara `build_batch({size:,})` | {ours_rate / 1e3:.1f}k posts/s | {label} "
            f"| {faker} | {rate / 1e3:.1f}k posts/s | {r:.2f}{TIMES} "
            f"| {target_cells(r, target)} |"
        )
    return "\n".join(lines)


CATEGORIES = (
    ("Faker", ("/faker/",)),
    ("aksara factories", ("/aksara_testing/_factories/",)),
    ("aksara runtime", ("/aksara_testing/",)),
    ("SQLAlchemy ORM", ("/sqlalchemy/orm/",)),
    ("SQLAlchemy Core", ("/sqlalchemy/",)),
    ("driver", ("/aiosqlite/", "/asyncpg/", "sqlite3", "asyncpg")),
    ("asyncio/greenlet", ("/asyncio/", "greenlet")),
)
OTHER = "other"


def own_category(filename: str, function: str) -> str | None:
    where = f"{filename} {function}"
    for name, needles in CATEGORIES:
        if any(n in where for n in needles):
            return name
    return None


def profile_summary(path: Path) -> tuple[float, dict[str, float], list[tuple[str, float, int]]]:
    """Own time per group, and the functions by own time.

    Functions of no group (the standard library: ``random``, ``re``, builtins
    such as ``isinstance``) are charged to their callers' groups, in proportion
    to the time each caller spent in them, so Faker's ``random.choices`` counts
    as Faker and the ORM's ``isinstance`` as the ORM.
    """
    stats = pstats.Stats(str(path))
    raw: Any = stats.stats  # type: ignore[attr-defined]
    shares: dict[Any, dict[str, float]] = {}

    def share(key: Any, seen: frozenset[Any]) -> dict[str, float]:
        if key in shares:
            return shares[key]
        category = own_category(key[0], key[2])
        if category is not None:
            result = {category: 1.0}
        else:
            callers = raw[key][4] if key in raw else {}
            weights: dict[str, float] = collections.defaultdict(float)
            total = sum(entry[2] for caller, entry in callers.items() if caller not in seen)
            for caller, entry in callers.items():
                if caller in seen or caller not in raw:
                    continue
                weight = entry[2] / total if total else 1.0 / len(callers)
                for name, part in share(caller, seen | {key}).items():
                    weights[name] += weight * part
            result = dict(weights) or {OTHER: 1.0}
        shares[key] = result  # cycles make this approximate; they are rare here
        return result

    total_time = 0.0
    groups: dict[str, float] = collections.defaultdict(float)
    functions: list[tuple[str, float, int]] = []
    for key, (_cc, calls, tottime, _ct, _callers) in raw.items():
        filename, line, function = key
        total_time += tottime
        for name, part in share(key, frozenset()).items():
            groups[name] += tottime * part
        short = re.sub(r"^.*/(site-packages|lib/python3\.\d+)/", "", filename)
        label = function if filename == "~" else f"{short}:{line}({function})"
        functions.append((label, tottime, calls))
    functions.sort(key=lambda f: f[1], reverse=True)
    return total_time, dict(groups), functions


FAKER_PROVIDERS = ("name", "sentence", "paragraph")


def faker_costs(calls: int = 3000) -> dict[tuple[str, bool], float]:
    """Microseconds per value of the providers the factories use, weighted and not."""
    import time

    from faker import Faker

    costs: dict[tuple[str, bool], float] = {}
    for weighting in (True, False):
        fake = Faker(use_weighting=weighting)
        fake.seed_instance(0)
        for provider in FAKER_PROVIDERS:
            method = getattr(fake, provider)
            method()
            samples = []
            for _ in range(3):
                start = time.perf_counter()
                for _ in range(calls):
                    method()
                samples.append((time.perf_counter() - start) / calls * 1e6)
            costs[provider, weighting] = min(samples)
    return costs


def where_time_goes(
    records: list[dict[str, Any]], backends: Sequence[str], profile_dir: Path, size: int
) -> str:
    ms = 1e3
    lines = [
        f"One `create_batch({size:,})` per backend and key type after a warm-up, with "
        "wall-clock probes (ms; the probes add a little): build = everything before "
        "`persist` (Faker + resolving declarations + making the objects, which for "
        "`create` go straight into `__dict__`, see `aksara_testing/_factories/construct.py`); "
        "resolving and making = build - Faker; persist = the batch writer "
        "(`aksara_testing/_factories/bulk.py`: one Core INSERT per table, the objects "
        "registered as persistent) + the layer session's `commit`, split into statement "
        "execution (between SQLAlchemy's before/after cursor events, savepoint statements "
        "included) and the writer's own work. For comparison, constructing the same "
        f"{2 * size:,} objects through the ORM's instrumented constructors from ready values "
        "takes the time in the last column.",
        "",
        "| backend | keys | total | Faker | resolving and making | writing | "
        "statements executing | statements (rows) | instrumented constructors |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for backend in backends:
        for keys in KEYS:
            probe = next(
                r
                for r in records
                if r["job"] == backend and r["keys"] == keys and r["variant"] == "probe"
            )
            spent, counts = probe["spent"], probe["counts"]
            build = probe["seconds"] - spent["persist"]
            resolving = build - spent["faker"]
            statements = "; ".join(
                f"{n:,}{TIMES} {verb.strip()}" + (f" ({rows:,} rows)" if rows != n else "")
                for verb, (n, rows) in sorted(probe["verbs"].items(), key=lambda v: -v[1][0])
            )
            lines.append(
                f"| {backend} | {keys} | {probe['seconds'] * ms:.0f} | {spent['faker'] * ms:.0f} "
                f"({counts['faker']:,} calls) | {resolving * ms:.0f} "
                f"| {(spent['persist'] - spent['execute']) * ms:.0f} "
                f"| {spent['execute'] * ms:.0f} | {statements} | {probe['construct'] * ms:.0f} |"
            )
    lines += [
        "",
        "cProfile of the same call, CPU time (waiting for the server is not counted; "
        "cProfile's per-call overhead inflates code made of many small calls): own time per "
        "group as a share of the profiled total, standard-library and builtin functions "
        "charged to their callers' groups; then the top functions by own time (ms/calls):",
        "",
    ]
    for backend in backends:
        for keys in KEYS:
            path = profile_dir / f"{backend}-{keys}.prof"
            total, groups, functions = profile_summary(path)
            shares = ", ".join(
                f"{name} {value / total:.0%}"
                for name, value in sorted(groups.items(), key=lambda g: -g[1])
                if value / total >= 0.02
            )
            top = "; ".join(
                f"`{label}` {t * ms:.0f} ms/{calls:,}" for label, t, calls in functions[:4]
            )
            lines.append(
                f"- {backend}/{keys} ({total * ms:.0f} ms profiled): {shares}. Top: {top}."
            )
    ceilings = []
    for backend in backends:
        for keys in KEYS:
            probe = next(
                r
                for r in records
                if r["job"] == backend and r["keys"] == keys and r["variant"] == "probe"
            )
            faker = probe["spent"]["faker"]
            floor = faker + probe["spent"]["execute"]

            def ceiling(variant: str, below: float) -> str:
                theirs = by_round(records, backend, keys, variant)  # noqa: B023
                return f"{statistics.median(theirs.values()) / below:.1f}{TIMES}"

            ceilings.append(
                f"{backend}/{keys} {ceiling('factory_boy', faker)} factory_boy, "
                f"{ceiling('polyfactory', faker)} polyfactory; with the same Faker "
                f"configuration, against Faker + statements ({faker * 1e3:.0f} + "
                f"{probe['spent']['execute'] * 1e3:.0f} ms): "
                f"{ceiling('factory_boy' + FAIR, floor)} factory_boy, "
                f"{ceiling('polyfactory' + FAIR, floor)} polyfactory, "
                f"{ceiling('raw_session' + FAIR, floor)} raw ORM on `db_session`"
            )

    def build_ratio(a: str, b: str) -> str:
        return f"{ratio(by_round(records, 'build', 'int', a), by_round(records, 'build', 'int', b)):.2f}{TIMES}"  # noqa: E501

    lines += [
        "",
        "Ceilings set by Faker: the same Faker values alone take the time in the Faker column, "
        "so a `create_batch` that spent nothing else could be at most "
        + "; ".join(ceilings)
        + " (medians of the baselines over the rounds against this one probed call). "
        "For building, hand-written construction with the same Faker calls is "
        f"{build_ratio('raw', 'factory_boy')} factory_boy with Faker's default and "
        f"{build_ratio('raw' + FAIR, 'factory_boy' + FAIR)} with the same Faker configuration "
        "as ours: a factory with zero overhead of its own could not do better.",
    ]
    costs = faker_costs()
    lines += [
        "",
        "Faker's cost per value (µs, best of 3 runs of 3,000 calls, in the harness process): "
        + "; ".join(
            f"`{provider}` {costs[provider, True]:.1f} with its default `use_weighting=True`, "
            f"{costs[provider, False]:.1f} with `Faker(use_weighting=False)`"
            for provider in FAKER_PROVIDERS
        )
        + ". Weighted sampling (names by real-world frequency) is most of the Faker column.",
    ]
    collisions = [
        f"{r['job']}/{r['keys']}: "
        + (f"collided (`{r['collided']}`)" if r["collided"] else "no collision")
        for r in records
        if r["variant"] == "polyfactory_faker_email"
    ]
    if collisions:
        lines += [
            "",
            "polyfactory with `email = Use(faker.email)` instead of the counter, one batch of "
            f"{size:,}: " + "; ".join(collisions) + ".",
        ]
    return "\n".join(lines)


def section(
    records: list[dict[str, Any]],
    backends: Sequence[str],
    options: argparse.Namespace,
    profile_dir: Path,
    pg_version: str | None,
) -> str:
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = 2 * options.size
    command = (
        f"python benchmarks/factories.py --backend {options.backend} --repeats {options.repeats}"
    )
    for flag, value, default in (
        ("--inner", options.inner, 3),
        ("--size", options.size, 1000),
        ("--build-size", options.build_size, 10000),
    ):
        if value != default:
            command += f" {flag} {value}"
    parts = [
        START_MARKER,
        "## Factories",
        "",
        f"`{command}` on {today}; {machine(pg_version)}; load average at the end {load}.",
        "",
        f"Each round runs one pytest subprocess per backend (and one for building), in an order "
        f"rotated every round, and the variants' tests inside it in a rotated order; "
        f"{options.repeats} rounds; each variant warms up on 20 objects, then takes "
        f"{options.inner} samples (`gc.collect()` before each, `time.perf_counter()` around "
        "the call) and keeps their median. Medians over rounds; ratio = median of per-round ratios "
        "(baseline time / aksara time: above 1 means aksara is faster). Ours runs inside the "
        "plugin (`[tool.aksara]` database_url + models; the test layer's session on the "
        "plugin's engine, in the test's savepoint, including its commit). Every variant makes "
        "the same Faker calls (`name`, `sentence`, `paragraph`) and a counter/Sequence "
        "email for the unique column; keys come from the database (int) or "
        "`default=uuid.uuid4`. Ours draws them from aksara's Faker, which runs with "
        "`use_weighting=False` (uniform sampling; `name()` about 10x faster). Every baseline "
        "runs twice: with Faker's default weighted sampling, as its users get it "
        "(*default (weighted)* rows, issue 6's targets), and with the same Faker "
        "configuration as ours (*same as ours* rows, issue 18's targets: factory_boy through a "
        "`factory.Faker` subclass whose registry holds `Faker(use_weighting=False)`; "
        "polyfactory with `__faker__ = Faker(use_weighting=False)` and `Use(fake.name)`...; "
        "the raw ORM calls a `Faker(use_weighting=False)`). With weighted sampling ours was "
        "1.17-1.36x factory_boy and 0.86-0.99x raw ORM on the same session (run of "
        "2026-11-24 before the switch). See the module docstring of "
        "`benchmarks/factories.py`.",
        "",
        "Baselines: *raw ORM, plain async engine* = objects built by hand with the same Faker "
        "calls, `add_all` + one `flush` on a `create_async_engine` session (stock aiosqlite, "
        "one worker-thread hop per statement; asyncpg), rolled back; *raw ORM, same "
        "`db_session`* = the same on the plugin's layer session and connection, so its ratio "
        "is the factory's own overhead; *factory_boy* = `SQLAlchemyModelFactory` with "
        "`sqlalchemy_session_persistence = None` on a sync `Session` (sqlite3 / psycopg 3), one "
        "`flush` at the end; *polyfactory* = `create_batch_async` with its default "
        "persistence (`add_all`, `commit`, `refresh` per post), `__set_primary_key__ = False`, "
        "author via `Use(AuthorFactory.build)`, email from a counter (it has no Sequence).",
        "",
        f"### `create_batch({options.size:,})` posts + SubFactory authors ({rows:,} rows)",
        "",
        create_table(records, backends, rows),
        "",
        f"### `build_batch({options.build_size:,})` posts + their authors, no database",
        "",
        build_table(records, options.build_size),
        "",
        "### Where the time goes",
        "",
        where_time_goes(records, backends, profile_dir, options.size),
    ]
    parts.append(END_MARKER)
    return "\n".join(parts)


def write_results(text: str, path: Path = RESULTS_FILE) -> None:
    """Replace only the factories section of ``path``; keep everything else."""
    replace_section(text, START_MARKER, END_MARKER, path)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def run(
    options: argparse.Namespace, root: Path
) -> tuple[list[dict[str, Any]], list[str], str | None]:
    backends = ["sqlite", "postgres"] if options.backend == "all" else [options.backend]
    server = os.environ.get(POSTGRES_ENV)
    if "postgres" in backends and not server:
        if options.backend == "postgres":
            sys.exit(f"PostgreSQL needs {POSTGRES_ENV}")
        print(f"{POSTGRES_ENV} is not set: PostgreSQL skipped", file=sys.stderr)
        backends.remove("postgres")
    out = root / "results.jsonl"
    profile_dir = root / "profiles"
    profile_dir.mkdir()
    base_env = {
        **clean_env(),
        "BENCH_N": str(options.size),
        "BENCH_BUILD_N": str(options.build_size),
        "BENCH_INNER": str(options.inner),
        "BENCH_PROFILE_DIR": str(profile_dir),
    }
    jobs: list[Job] = []
    write_project(root / "build", None)
    jobs.append(
        Job(
            "build",
            root / "build",
            [f"test_build.py::test_build_{v}" for v in BUILD_VARIANTS],
            base_env,
        )
    )
    pg_version = None
    for backend in backends:
        project = root / backend
        if backend == "sqlite":
            baseline = project / "baseline.db"
            write_project(project, "sqlite:///bench.db", f"sqlite:///{baseline}")
            async_url, sync_url = f"sqlite+aiosqlite:///{baseline}", f"sqlite:///{baseline}"
        else:
            assert server is not None
            from sqlalchemy.engine import make_url

            app_url = make_url(server).set(drivername="postgresql", database=PLUGIN_DB)
            check_name(f"test_{PLUGIN_DB}")
            name = check_name(BASELINE_DB)
            write_project(
                project,
                app_url.render_as_string(hide_password=False),
                app_url.set(database=name).render_as_string(hide_password=False),
            )
            pg_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            pg_admin(server, f'CREATE DATABASE "{name}"')
            async_url, sync_url = pg_urls(server, name)
            pg_version = pg_admin(server, "SHOW server_version")
        create_schema(sync_url, project)
        env = {**base_env, "BENCH_ASYNC_URL": async_url, "BENCH_SYNC_URL": sync_url}
        jobs.append(Job(backend, project, create_tests(), env))

    try:
        for job in jobs:  # warm-up round: bytecode caches, first database creation
            print(f"warm-up: {job.name}", file=sys.stderr, flush=True)
            run_pytest(job, job.tests, 0, root / "warmup.jsonl")
        for round_ in range(1, options.repeats + 1):
            # Rotations spread evenly over the rounds: every variant visits early and late.
            step = (round_ - 1) * len(jobs) // options.repeats
            order = jobs[step:] + jobs[:step]
            for job in order:
                shift = (round_ - 1) * len(job.tests) // options.repeats
                tests = job.tests[shift:] + job.tests[:shift]
                print(f"round {round_}/{options.repeats}: {job.name}", file=sys.stderr, flush=True)
                run_pytest(job, tests, round_, out)
        for job in jobs[1:]:
            print(f"profile: {job.name}", file=sys.stderr, flush=True)
            tests = [f"test_profile.py::{t}" for t in (
                "test_probe_int", "test_probe_uuid",
                "test_polyfactory_faker_email_int", "test_polyfactory_faker_email_uuid",
            )]  # fmt: skip
            run_pytest(job, tests, 0, out)
    finally:
        if server and "postgres" in backends:
            pg_admin(server, f'DROP DATABASE IF EXISTS "{check_name(BASELINE_DB)}" WITH (FORCE)')
    records = [json.loads(line) for line in out.read_text().splitlines()]
    return records, backends, pg_version


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="all")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument(
        "--inner", type=int, default=3, help="timed samples per test, median kept (default 3)"
    )
    parser.add_argument("--size", type=int, default=1000, help="create_batch size (default 1000)")
    parser.add_argument(
        "--build-size", type=int, default=10000, help="build_batch size (default 10000)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also save the raw records here")
    parser.add_argument(
        "--write", action="store_true", help=f"update the factories section of {RESULTS_FILE.name}"
    )
    options = parser.parse_args(argv)
    if options.repeats < 1:
        parser.error("--repeats must be at least 1")
    root = Path(tempfile.mkdtemp(prefix="aksara-factories-"))
    before = package_fingerprint()
    try:
        records, backends, pg_version = run(options, root)
        if package_fingerprint() != before:
            sys.exit(
                "aksara_testing's source changed during the run, so the rounds measured "
                "different code; nothing written: run it again"
            )
        if options.json:
            options.json.write_text("".join(json.dumps(r) + "\n" for r in records))
        text = section(records, backends, options, root / "profiles", pg_version)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(text)
    if options.write:
        write_results(text)
        print(f"wrote {RESULTS_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
