"""The private internals of other libraries that aksara relies on without a fallback.

Each test exercises one internal the way our code uses it, and fails with
one line naming the internal, our module that relies on it and what breaks
for users, so a dependency upgrade that changes it is caught here rather
than in a confusing failure elsewhere. docs/internals.md lists every internal
we use, with these tests and the fallbacks of the others.

Our own helpers are imported inside each test: a module moving breaks one
test, not the collection of this file.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import inspect
import sys
import threading
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import ForeignKey, String, create_engine, pool, select, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


@contextlib.contextmanager
def relied_on(internal: str, where: str, breaks: str) -> Iterator[None]:
    """Turn any failure inside into one line: the internal, our code using it, what breaks."""
    __tracebackhide__ = True
    try:
        yield
    except Exception as exc:
        failure = exc
    else:
        return
    detail = (str(failure).strip().splitlines() or [""])[0]
    pytest.fail(
        f"{internal} changed ({type(failure).__name__}: {detail}): {where} relies on it; {breaks}",
        pytrace=False,
    )


def passed(result: pytest.HookRecorder, count: int) -> None:
    """Assert a pytester run passed ``count`` tests; else name each failure by its ``E`` line."""
    __tracebackhide__ = True
    passed, _, failed = result.listoutcomes()
    why = [f"{report.head_line}: {_error_line(report)}" for report in failed]
    assert len(passed) == count and not failed, "; ".join(why) or f"{len(passed)} passed"


def _error_line(report: pytest.TestReport) -> str:
    lines = [line.strip() for line in str(report.longrepr).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E ")]
    return (errors or lines[-1:] or [""])[0]


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(10), server_default=text("'new'"))
    books: Mapped[list[Book]] = relationship(back_populates="author")


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("authors.id"), default=None)
    author: Mapped[Author | None] = relationship(back_populates="books")


# -- SQLAlchemy: the greenlet bridge ------------------------------------------------------


async def test_sync_code_awaits_through_sqlalchemys_greenlet_bridge() -> None:
    from sqlalchemy.util import await_only, greenlet_spawn

    from aksara_testing._db import in_greenlet

    async def answer() -> int:
        return 42

    def sync_part() -> tuple[bool, int]:
        return in_greenlet(), await_only(answer())

    with relied_on(
        "sqlalchemy.util.greenlet_spawn / await_only / concurrency.in_greenlet",
        "_loops.wait_on, _factories/running.py, _db/savepoints.py, _db/sessions.py "
        "(RoutingSession.get_bind), _db/leftovers.py and _migrations/runner.py",
        "sync code could no longer wait for the test database, and sessions could not "
        "tell a statement from the app asking for session.get_bind()",
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # await_only is to be deprecated for await_ (2.2)
            inside, value = await greenlet_spawn(sync_part)
        assert (inside, value, in_greenlet()) == (True, 42, False)


# -- SQLAlchemy: an app engine routed to the test layer (_db/engines.py) ---------------------


def test_a_replacement_pool_keeps_the_engines_connect_hooks_and_dialect(tmp_path: Path) -> None:
    import sqlite3

    from sqlalchemy import event

    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    connected: list[object] = []
    event.listen(engine, "connect", lambda raw, _record: connected.append(raw))
    original = engine.pool
    with relied_on(
        "SQLAlchemy's Pool(_dispatch=..., dialect=...) and Pool._orig_logging_name / _dialect",
        "_db/engines.py (EngineRouting._route)",
        "the app's own engines (the engine setting) cannot be routed to the test layer",
    ):
        engine.pool = pool.NullPool(
            lambda: sqlite3.connect(tmp_path / "layer.db"),
            logging_name=original._orig_logging_name,  # type: ignore[attr-defined]
            reset_on_return=True,
            _dispatch=original.dispatch,
            dialect=original._dialect,  # type: ignore[attr-defined]
        )
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
        assert engine.pool._dialect is engine.dialect  # type: ignore[attr-defined]
        assert len(connected) == 1, "the engine's connect listeners did not run"
    engine.dispose()


def test_an_engines_transactions_go_through_its_dialect_instance(tmp_path: Path) -> None:
    import sqlite3

    from aksara_testing._db.engines import _pop_checkout

    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}", poolclass=pool.NullPool)
    dialect: Any = engine.dialect
    calls: list[tuple[str, Any, Any]] = []

    def record(name: str, original: Any, connection: Any) -> None:
        if name == "do_rollback":
            _pop_checkout(connection)  # the dialect's first connect passes an ad hoc connection
        raw = getattr(connection, "dbapi_connection", connection)  # as EngineRouting._wrap
        calls.append((name, connection if name == "do_begin" else None, raw))
        original(connection)

    names = ("do_begin", "do_commit", "do_rollback", "do_close")
    with relied_on(
        "SQLAlchemy's Dialect.do_begin/do_commit/do_rollback/do_close called on the "
        "engine's dialect instance",
        "_db/engines.py (EngineRouting._route, _wrap, restore)",
        "an app engine's commit would end the test's transaction instead of a savepoint",
    ):
        for name in names:
            setattr(dialect, name, functools.partial(record, name, getattr(dialect, name)))
        with engine.connect() as connection:
            connection.begin()
            connection.commit()
            connection.begin()
            connection.rollback()
        seen = [name for name, *_ in calls]
        assert {"do_begin", "do_commit", "do_rollback", "do_close"} <= set(seen), seen
        assert all(isinstance(raw, sqlite3.Connection) for *_, raw in calls)
        begun = next(connection for name, connection, _ in calls if name == "do_begin")
        assert isinstance(begun.info, dict)
        for name in names:
            dialect.__dict__.pop(name)
        assert dialect.do_begin.__func__ is type(dialect).do_begin
    engine.dispose()


def test_savepoints_go_through_the_dialect_instance_with_the_connection(tmp_path: Path) -> None:
    import sqlite3

    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    dialect: Any = engine.dialect
    calls: list[tuple[str, Any, str]] = []
    names = ("do_savepoint", "do_release_savepoint", "do_rollback_to_savepoint")

    def record(name: str, connection: Any, savepoint: str) -> None:
        calls.append((name, connection.connection.driver_connection, savepoint))

    for name in names:
        setattr(dialect, name, functools.partial(record, name))
    with relied_on(
        "SQLAlchemy's Dialect.do_savepoint/do_release_savepoint/do_rollback_to_savepoint "
        "called on the engine's dialect instance with the Connection",
        "_db/savepoints.py (SavepointChannel)",
        "savepoints would go through SQLAlchemy's execute path, or not be sent at all",
    ):
        with engine.connect() as connection:
            connection.begin_nested().commit()
            connection.begin_nested().rollback()
        assert [name for name, *_ in calls] == [
            "do_savepoint",
            "do_release_savepoint",
            "do_savepoint",
            "do_rollback_to_savepoint",
        ]
        assert all(isinstance(driver, sqlite3.Connection) for _, driver, _ in calls)
    engine.dispose()


# -- SQLAlchemy: db_session, a proxy over the current layer's session (_db/sessions.py) -------


async def test_db_sessions_proxy_has_everything_an_async_session_sets() -> None:
    from aksara_testing._db.sessions import LayerSession

    engine = create_async_engine("sqlite+aiosqlite://", poolclass=pool.StaticPool)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    real = AsyncSession(engine, expire_on_commit=False)
    layer = LayerSession(lambda: real)
    with relied_on(
        "SQLAlchemy's AsyncSession internals (the attributes __init__ sets, _proxied)",
        "_db/sessions.py (LayerSession, the db_session fixture)",
        "db_session fails on first use",
    ):
        set_by_init = vars(AsyncSession())
        missing = [
            name
            for name in set_by_init
            if name not in vars(layer)
            and not isinstance(inspect.getattr_static(LayerSession, name, None), property)
        ]
        assert not missing, f"LayerSession does not provide {missing}"
        author = Author(name="Ada")
        layer.add(author)
        await layer.flush()
        assert author in real and author in layer
        assert await layer.get(Author, author.id) is author
        found = (await layer.execute(select(Author.name))).scalars().all()
        assert found == ["Ada"] and layer.identity_map is real.identity_map
        await layer.commit()
    await real.close()
    await engine.dispose()


# -- SQLAlchemy: create_batch's writer and raw constructor (_factories/) ---------------------


def test_rows_written_past_the_unit_of_work_are_registered_as_a_flush_does() -> None:
    from sqlalchemy import inspect as sa_inspect

    from aksara_testing._factories import bulk, registration

    engine = create_engine("sqlite://", poolclass=pool.StaticPool)
    Base.metadata.create_all(engine)
    with (
        Session(engine) as session,
        relied_on(
            "SQLAlchemy's identity-map internals (InstanceState._instance_dict, "
            "_orphaned_outside_of_session, Mapper._identity_class, SessionTransaction._new)",
            "_factories/registration.py (_register)",
            "objects from create_batch would look persistent yet be missing from the "
            "session's identity map or survive its rollback",
        ),
    ):
        flushed = Author(name="flushed")
        session.add(flushed)
        session.flush()
        written = Author(name="written")
        assert registration._lean_registration(session), "the lean registration is not taken"
        assert bulk.write(session, [written])
        expected = set(vars(sa_inspect(flushed))) - {"insert_order"}  # for pending rows only
        assert set(vars(sa_inspect(written))) == expected
        state = sa_inspect(written)
        assert state.key == sa_inspect(Author).identity_key_from_instance(written)
        assert session.identity_map[state.key] is written and state.persistent
        session.rollback()
        assert state.transient and written not in session
    engine.dispose()


def test_server_defaults_are_listed_per_table_on_the_mapper() -> None:
    from sqlalchemy import inspect as sa_inspect

    with relied_on(
        "SQLAlchemy's Mapper._server_default_col_keys",
        "_factories/persistence.py (_defers_server_defaults) and orm.py (load_server_defaults)",
        "create() and create_batch() on SQLite fail for every model",
    ):
        keys = sa_inspect(Author)._server_default_col_keys
        assert dict(keys) == {Author.__table__: frozenset({"status"})}


def test_relationships_know_their_other_side() -> None:
    from sqlalchemy import inspect as sa_inspect

    with relied_on(
        "SQLAlchemy's RelationshipProperty._reverse_property",
        "_factories/write_plan.py (write_plan) and bulk.py (_fill_backrefs)",
        "parents made by create_batch would not list their new children, and reading "
        "the list in async code would lazy-load (MissingGreenlet)",
    ):
        books = sa_inspect(Author).relationships["books"]
        assert books._reverse_property == {sa_inspect(Book).relationships["author"]}


def test_mapped_objects_keep_their_state_in_sa_instance_state() -> None:
    from sqlalchemy import inspect as sa_inspect

    with relied_on(
        "SQLAlchemy's _sa_instance_state attribute",
        "_factories/bulk.py, construct.py and orm.py",
        "create_batch would fail or stop seeing which objects are new",
    ):
        author = Author(name="Ada")
        assert author._sa_instance_state is sa_inspect(author)  # type: ignore[attr-defined]


def test_sqlalchemys_own_attribute_listeners_are_recognised() -> None:
    from aksara_testing._factories.construct import raw_constructor

    with relied_on(
        "the names of SQLAlchemy's own attribute listeners (_track_cascade_events, "
        "_backref_listeners, _event_on_init) or ClassManager internals",
        "_factories/construct.py (raw_constructor, _only_own)",
        "create_batch builds every object through its constructor: the same rows, more slowly",
    ):
        assert raw_constructor(Author) is not None, "no raw constructor for a plain model"
        assert raw_constructor(Book) is not None, "no raw constructor for a plain model"


def test_the_apps_event_listeners_show_on_mappers_and_sessions() -> None:
    from sqlalchemy import event
    from sqlalchemy import inspect as sa_inspect

    from aksara_testing._factories import bulk, registration, write_plan
    from aksara_testing._factories.construct import raw_constructor

    class Own(DeclarativeBase):
        pass

    class Listened(Own):
        __tablename__ = "listened"
        id: Mapped[int] = mapped_column(primary_key=True)

    event.listen(Listened, "init", lambda *_: None)
    event.listen(Listened, "before_insert", lambda *_: None)
    session = Session()
    event.listen(session, "before_flush", lambda *_: None)
    event.listen(session, "after_attach", lambda *_: None)
    with relied_on(
        "SQLAlchemy's event dispatch collections (true when a listener is registered, "
        "iterable, listed in _event_names)",
        "_factories/write_plan.py (write_plan), bulk.py (_session_listens), "
        "registration.py (_lean_registration) and construct.py (_only_own)",
        "create_batch would skip the app's init, insert, flush and attach listeners",
    ):
        assert raw_constructor(Listened) is None, "an init listener went unseen"
        assert not write_plan.writable(sa_inspect(Listened)), "a before_insert listener went unseen"
        assert bulk._session_listens(session), "a before_flush listener went unseen"
        assert not registration._lean_registration(session), "an after_attach listener went unseen"


# -- aiosqlite: connections on the event-loop thread (_db/sqlite.py) -------------------------


async def test_sqlite_test_connections_run_on_the_loop_thread(tmp_path: Path) -> None:
    import aiosqlite
    from sqlalchemy.engine import make_url

    from aksara_testing._db.sqlite import LoopThreadConnection, create_sqlite_engine

    threads = set(threading.enumerate())
    with relied_on(
        "aiosqlite.Connection internals (__init__(connector, iter_chunk_size), _tx, "
        "_execute, _connect, _connection, _running, _conn)",
        "_db/sqlite.py (LoopThreadConnection, the SQLite test engine)",
        "every test on SQLite fails, or hops to a worker thread per statement",
    ):
        assert {"connector", "iter_chunk_size"} <= set(
            inspect.signature(aiosqlite.Connection.__init__).parameters
        )
        engine = create_sqlite_engine(make_url(f"sqlite+aiosqlite:///{tmp_path / 't.db'}"))
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            assert isinstance(raw.driver_connection, LoopThreadConnection)
            await connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            await connection.exec_driver_sql("INSERT INTO t VALUES (1), (2), (3)")
            async with connection.begin_nested() as savepoint:
                await connection.exec_driver_sql("INSERT INTO t VALUES (4)")
                await savepoint.rollback()
            rows = (await connection.exec_driver_sql("SELECT x FROM t ORDER BY x")).all()
            assert [row[0] for row in rows] == [1, 2, 3]
        await engine.dispose()
        started = [t.name for t in set(threading.enumerate()) - threads]
        assert not started, f"threads started: {started}"


async def test_the_sqlite_test_engine_adapts_sqlalchemys_aiosqlite_connection(
    tmp_path: Path,
) -> None:
    from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection
    from sqlalchemy.engine import make_url

    from aksara_testing._db.sqlite import InlineAdaptedConnection, create_sqlite_engine

    with relied_on(
        "SQLAlchemy's AsyncAdapt_aiosqlite_connection (__init__(dbapi, connection), "
        "_connection, _handle_exception) and AsyncConnection.execute's check that its "
        "greenlet switched (AwaitRequired)",
        "_db/sqlite.py (InlineAdaptedConnection, the SQLite test engine)",
        "every test on SQLite fails at its first statement",
    ):
        parameters = list(inspect.signature(AsyncAdapt_aiosqlite_connection.__init__).parameters)
        assert parameters[1:3] == ["dbapi", "connection"]
        assert callable(AsyncAdapt_aiosqlite_connection._handle_exception)
        engine = create_sqlite_engine(make_url(f"sqlite+aiosqlite:///{tmp_path / 't.db'}"))
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            assert isinstance(raw.dbapi_connection, InlineAdaptedConnection)
            assert (await connection.execute(text("SELECT 41 + 1"))).scalar() == 42
            assert (await connection.exec_driver_sql("SELECT 'x'")).scalar() == "x"
        await engine.dispose()


async def test_aiosqlite_engines_built_from_a_url_can_be_given_our_connection(
    tmp_path: Path,
) -> None:
    from aksara_testing._db.sqlite import LoopThreadConnection, inline_aiosqlite

    path = tmp_path / "env.db"
    with (
        relied_on(
            "SQLAlchemy's aiosqlite dialect reading the async_creator_fn connect argument",
            "_db/sqlite.py (inline_aiosqlite, used while env.py migrates)",
            "migrations on SQLite fail with an unexpected keyword argument",
        ),
        inline_aiosqlite(str(path)),
    ):
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            assert isinstance(raw.driver_connection, LoopThreadConnection)
            assert (await connection.exec_driver_sql("SELECT 1")).scalar() == 1
        await engine.dispose()


# -- the drivers' connect functions (_db/drivers.py, the connection guard) --------------------


class _Refused(Exception):
    def __init__(self, endpoint: Any) -> None:
        super().__init__(endpoint.where())
        self.endpoint = endpoint


def _refuse(endpoint: Any) -> None:
    raise _Refused(endpoint)


@contextlib.contextmanager
def _guarded() -> Iterator[None]:
    from aksara_testing._db import drivers

    previous = drivers._check  # a run configured for aksara has its own guard: put it back
    drivers.install(_refuse)  # installing again replaces the check
    try:
        yield
    finally:
        if previous is not None:
            drivers.install(previous)
        else:
            drivers.uninstall()


POSTGRES_URLS = {
    "psycopg2": "postgresql+psycopg2://u:p@127.0.0.1:5999/appdb",
    "psycopg": "postgresql+psycopg://u:p@127.0.0.1:5999/appdb",
    "pg8000": "postgresql+pg8000://u:p@127.0.0.1:5999/appdb",
}
ASYNC_POSTGRES_URLS = {
    "asyncpg": "postgresql+asyncpg://u:p@127.0.0.1:5999/appdb",
    "psycopg (async)": "postgresql+psycopg://u:p@127.0.0.1:5999/appdb",
}
_GUARD_BREAKS = (
    "the connection guard no longer sees these connections: tests could reach the "
    "app's own database"
)


def _refused_endpoint(connect: Any) -> Any:
    with pytest.raises(_Refused) as refused:
        connect()
    return refused.value.endpoint


@pytest.mark.parametrize("driver", list(POSTGRES_URLS))
def test_sync_engines_connect_through_the_functions_the_guard_wraps(driver: str) -> None:
    pytest.importorskip(driver)
    engine = create_engine(POSTGRES_URLS[driver])
    with (
        relied_on(
            f"{driver}'s connect function (pg8000: CoreConnection.__init__ and its parameters)",
            "_db/drivers.py (_HOOKS)",
            _GUARD_BREAKS,
        ),
        _guarded(),
    ):
        endpoint = _refused_endpoint(engine.connect)
        assert (endpoint.database, endpoint.port, endpoint.driver) == ("appdb", 5999, driver)
    engine.dispose()


@pytest.mark.parametrize("driver", list(ASYNC_POSTGRES_URLS))
async def test_async_engines_connect_through_the_functions_the_guard_wraps(driver: str) -> None:
    pytest.importorskip(driver.split()[0])
    engine = create_async_engine(ASYNC_POSTGRES_URLS[driver])
    with (
        relied_on(
            f"{driver}'s connect function (psycopg: AsyncConnection.connect)",
            "_db/drivers.py (_HOOKS)",
            _GUARD_BREAKS,
        ),
        _guarded(),
    ):
        with pytest.raises(_Refused) as refused:
            await engine.connect()
        assert (refused.value.endpoint.database, refused.value.endpoint.port) == ("appdb", 5999)
    await engine.dispose()


async def test_asyncpg_pools_connect_through_the_function_the_guard_wraps() -> None:
    asyncpg = pytest.importorskip("asyncpg")
    with (
        relied_on(
            "asyncpg's pools calling asyncpg.connection.connect",
            "_db/drivers.py (_HOOKS)",
            _GUARD_BREAKS,
        ),
        _guarded(),
    ):
        with pytest.raises(_Refused) as refused:
            await asyncpg.create_pool("postgresql://u:p@127.0.0.1:5999/appdb", min_size=1)
        assert refused.value.endpoint.database == "appdb"


async def test_sqlite_engines_connect_through_the_functions_the_guard_wraps(
    tmp_path: Path,
) -> None:
    with (
        relied_on(
            "SQLAlchemy's pysqlite dialect calling sqlite3.dbapi2.connect, its aiosqlite "
            "dialect calling aiosqlite.connect",
            "_db/drivers.py (_HOOKS)",
            _GUARD_BREAKS,
        ),
        _guarded(),
    ):
        engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
        assert _refused_endpoint(engine.connect).database == str(tmp_path / "app.db")
        async_engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
        with pytest.raises(_Refused):
            await async_engine.connect()
        await async_engine.dispose()
        engine.dispose()


# -- Alembic (_migrations/) ------------------------------------------------------------------

REVISION = """
revision = {revision!r}
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
"""


def _script_directory(root: Path) -> Any:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    for revision, down, labels in (("a1", None, ("core",)), ("b2", "a1", None)):
        text_ = REVISION.format(revision=revision, down=down, labels=labels)
        (versions / f"{revision}_step.py").write_text(text_)
    config = Config()
    config.set_main_option("script_location", str(root / "migrations"))
    return ScriptDirectory.from_config(config)


def test_alembic_lists_the_steps_of_an_upgrade_and_a_downgrade(tmp_path: Path) -> None:
    script = _script_directory(tmp_path)
    with relied_on(
        "Alembic's ScriptDirectory._upgrade_revs / _downgrade_revs and the steps they "
        "return (.revision.revision, .is_upgrade)",
        "_migrations/moves.py (upgrade_to_heads, migrate), _migrations/checks.py "
        "(CheckRun._work), _migrations/runner.py (_describe)",
        "the test database cannot be migrated, nor migrate() or the migration checks run",
    ):
        up = script._upgrade_revs("heads", ())
        assert [(s.revision.revision, s.is_upgrade) for s in up] == [("a1", True), ("b2", True)]
        down = script._downgrade_revs("base", ("b2",))
        assert [(s.revision.revision, s.is_upgrade) for s in down] == [
            ("b2", False),
            ("a1", False),
        ]


def test_alembic_walks_a_revisions_ancestors_and_descendants(tmp_path: Path) -> None:
    script = _script_directory(tmp_path)
    with relied_on(
        "Alembic's RevisionMap._get_ancestor_nodes / _get_descendant_nodes",
        "_migrations/moves.py (_is_below, labels_of_branch)",
        "migrate() cannot tell a move backward or check a revision's branch label",
    ):
        revision_map = script.revision_map
        below = revision_map._get_ancestor_nodes([script.get_revision("b2")])
        above = revision_map._get_descendant_nodes([script.get_revision("a1")])
        assert sorted(rev.revision for rev in below) == ["a1", "b2"]
        assert sorted(rev.revision for rev in above) == ["a1", "b2"]


def test_alembic_says_where_the_revision_files_are(tmp_path: Path) -> None:
    script = _script_directory(tmp_path)
    with relied_on(
        "Alembic's ScriptDirectory._version_locations",
        "_migrations/runner.py (_mtimes, script_directory)",
        "every use of the migrations fails (the cache of parsed revisions cannot be checked)",
    ):
        folders = [Path(folder) for folder in script._version_locations]
        assert folders == [tmp_path / "migrations" / "versions"]


# -- pytest (_asyncio_options.py, plugin.py, _secrets.py) ---------------------------------


# Runs under pytester: pytest-asyncio warns when this is unset.
QUIET_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


class _EarlyProbe:
    """A plugin registered before pytest parses the command line, as ours is."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    def pytest_addoption(self, parser: pytest.Parser) -> None:
        parser.addoption("--probe-flag", default=None)

    @pytest.hookimpl(tryfirst=True)
    def pytest_load_initial_conftests(
        self, early_config: pytest.Config, parser: pytest.Parser, args: list[str]
    ) -> None:
        from aksara_testing._asyncio_options import FIXTURE_SCOPE, fill_unset

        self.seen["flag"] = early_config.known_args_namespace.probe_flag
        self.seen["defaults"] = fill_unset(early_config, parser)
        self.seen["fixture scope"] = early_config.getini(FIXTURE_SCOPE)


def test_command_line_options_are_read_before_the_conftests_load(
    pytester: pytest.Pytester,
) -> None:
    probe = _EarlyProbe()
    pytester.makeini(QUIET_INI)
    pytester.makepyfile("def test_it(): pass")
    with relied_on(
        "pytest's Config.known_args_namespace",
        "plugin.py (pytest_load_initial_conftests) and _asyncio_options.py",
        "--aksara-settings, --aksara-app and --aksara-database-url are ignored, and "
        "--asyncio-mode is not seen",
    ):
        pytester.inline_run("-p", "no:randomly", "--probe-flag=on", plugins=[probe])
        assert probe.seen["flag"] == "on"


def test_pytest_asyncio_defaults_can_be_registered_again_before_it_reads_them(
    pytester: pytest.Pytester,
) -> None:
    from aksara_testing._asyncio_options import FIXTURE_SCOPE, MODE, TEST_SCOPE

    probe = _EarlyProbe()
    pytester.makeini("[pytest]\nasyncio_default_test_loop_scope = module\n")
    pytester.makepyfile(
        f"""
        def test_pytest_asyncio_reads_our_values(request):
            assert request.config.getini({MODE!r}) == "auto"
            assert request.config.getini({FIXTURE_SCOPE!r}) == "module"
        """
    )
    with relied_on(
        "pytest's Parser.addini registering a key again (a new default) and the "
        "Config._inicache of getini()",
        "_asyncio_options.py (_register, fill_unset)",
        "a project configured for aksara gets pytest-asyncio's defaults, not one loop",
    ):
        passed(pytester.inline_run("-p", "no:randomly", plugins=[probe]), 1)
        defaults = probe.seen["defaults"]
        assert defaults.filled == {MODE: "auto", FIXTURE_SCOPE: "module"}
        assert defaults.follows == TEST_SCOPE and probe.seen["fixture scope"] == "module"


def test_a_fixture_name_put_first_in_fixturenames_is_set_up_first(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(QUIET_INI)
    pytester.makeconftest(
        """
        import pytest

        ORDER = []


        @pytest.fixture
        def put_first():
            ORDER.append("put_first")


        @pytest.fixture
        def own():
            ORDER.append("own")


        def pytest_collection_modifyitems(items):
            for item in items:
                item.fixturenames.insert(0, "put_first")
        """
    )
    pytester.makepyfile(
        """
        from conftest import ORDER


        def test_it(own):
            assert ORDER == ["put_first", "own"]
        """
    )
    with relied_on(
        "pytest's Item.fixturenames (the fixture closure, set up in its order)",
        "plugin.py (_use_session_fixture)",
        "tests of a configured project run without aksara's session set-up",
    ):
        passed(pytester.inline_run("-p", "no:randomly"), 1)


def test_everything_the_terminal_writes_goes_through_the_method_secrets_patches() -> None:
    import io

    from _pytest._io import TerminalWriter  # the class config.get_terminal_writer() returns

    writer = TerminalWriter(io.StringIO())
    written: list[str] = []
    patched = "write_raw" if callable(getattr(TerminalWriter, "write_raw", None)) else "write"
    setattr(writer, patched, lambda msg, *, flush=False, **markup: written.append(msg))
    with relied_on(
        f"pytest's TerminalWriter.{patched} (write_raw from pytest 9, write before)",
        "_secrets.py (SecretsPlugin.pytest_configure)",
        "database passwords would show in pytest's terminal output (not in its reports)",
    ):
        if patched == "write_raw":
            writer.write("one")
        writer.line("two")
        writer.sep("-", "three")
        words = ("one", "two", "three") if patched == "write_raw" else ("two", "three")
        assert all(any(word in chunk for chunk in written) for word in words)


# -- pytest-asyncio and anyio (_loops.py) --------------------------------------------------


def test_pytest_asyncio_runs_the_session_loop_with_an_asyncio_runner(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(QUIET_INI)
    pytester.makepyfile(
        """
        import asyncio

        import pytest

        LOOPS = []


        @pytest.mark.asyncio(loop_scope="session")
        async def test_async():
            LOOPS.append(asyncio.get_running_loop())


        def test_runner(_session_scoped_runner):
            assert isinstance(_session_scoped_runner, asyncio.Runner)
            assert _session_scoped_runner.get_loop() is LOOPS[0]
        """
    )
    with relied_on(
        "pytest-asyncio's _session_scoped_runner fixture (an asyncio.Runner, since 1.1)",
        "_loops.py (SessionLoop.open)",
        "every run configured for aksara stops with a configuration error",
    ):
        passed(pytester.inline_run("-p", "no:randomly"), 2)
        items, _ = pytester.inline_genitems("-p", "no:randomly")
        async_item = items[0]
        assert isinstance(async_item, pytest.Function)
        assert type(async_item).runtest is not pytest.Function.runtest


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def test_anyios_pytest_plugin_asks_get_runner_for_every_call() -> None:
    from anyio import pytest_plugin
    from anyio.abc import TestRunner

    from aksara_testing._loops import AnyioRunner

    with relied_on(
        "anyio.pytest_plugin.get_runner(backend_name, backend_options), looked up by "
        "its hooks at each call, and the anyio.abc.TestRunner methods",
        "_loops.py (SessionLoop._lend_to_anyio, AnyioRunner)",
        "@pytest.mark.anyio tests run on a loop of their own and cannot use the test database",
    ):
        parameters = list(inspect.signature(pytest_plugin.get_runner).parameters)
        assert parameters == ["backend_name", "backend_options"]
        for hook in (pytest_plugin.pytest_fixture_setup, pytest_plugin.pytest_pyfunc_call):
            assert "get_runner" in _global_names(hook.__code__), hook.__name__
        not_ours = sorted(
            name for name in TestRunner.__abstractmethods__ if name not in vars(AnyioRunner)
        )
        assert not not_ours, f"AnyioRunner lacks {not_ours}"


# -- httpx, httpcore and respx (_mock_ai/) --------------------------------------------------


def _stacks(*names: str) -> list[types.ModuleType]:
    import importlib

    found = []
    for name in names:
        with contextlib.suppress(ImportError):
            found.append(importlib.import_module(name))
    return found


def test_http_transports_define_the_methods_mock_ai_replaces() -> None:
    with relied_on(
        "httpx's HTTPTransport.handle_request / AsyncHTTPTransport.handle_async_request "
        "(defined on those classes)",
        "_mock_ai/_intercept.py (Interceptor._patch)",
        "mock_ai fails with a KeyError when it starts",
    ):
        for module in _stacks("httpx", "httpx2"):
            assert "handle_request" in vars(module.HTTPTransport), module.__name__
            assert "handle_async_request" in vars(module.AsyncHTTPTransport), module.__name__


@contextlib.contextmanager
def _ai_net(*extra_hosts: str) -> Iterator[None]:
    from aksara_testing._mock_ai import _net

    _net.install(extra_hosts)
    previous = _net.enter_test("tests/test_internals.py::probe", allowed=False)
    try:
        yield
    finally:
        _net.leave_test(previous)
        _net.uninstall()


async def test_httpx_requests_pass_the_connection_pool_methods_the_ai_net_guards() -> None:
    import httpx

    with (
        relied_on(
            "httpcore's ConnectionPool.handle_request / AsyncConnectionPool.handle_async_request, "
            "called by httpx's default transports",
            "_mock_ai/_net.py (the safety net against real AI calls)",
            "tests could call real AI services without a word",
        ),
        _ai_net("127.0.0.1:5999"),
    ):
        with httpx.Client() as client, pytest.raises(pytest.fail.Exception, match="real AI"):
            client.get("http://127.0.0.1:5999/v1/models")
        async with httpx.AsyncClient() as aclient:
            with pytest.raises(pytest.fail.Exception, match="real AI"):
                await aclient.get("http://127.0.0.1:5999/v1/models")


def test_a_respx_route_answers_above_the_ai_net() -> None:
    respx = pytest.importorskip("respx")
    import httpx

    with (
        relied_on(
            "respx wrapping only methods named handle_request / handle_async_request and "
            "reading their request argument by name",
            "_mock_ai/_net.py (_guard_sync, _guard_async)",
            "a test's own respx routes for an AI host would be blocked or bypassed",
        ),
        _ai_net("127.0.0.1:5999"),
        respx.mock(using="httpcore") as router,
    ):
        router.get("http://127.0.0.1:5999/v1/models").respond(200, json={"data": []})
        with httpx.Client() as client:
            assert client.get("http://127.0.0.1:5999/v1/models").json() == {"data": []}


# -- Starlette, Celery and pytest-split -------------------------------------------------------


@pytest.fixture
def imports_undone() -> Iterator[None]:
    """Forget the modules a test imports: a Starlette imported here, in the process that
    later runs in-process pytester projects, would be shared with their freshly imported
    FastAPI, and their routes would answer 307."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


@pytest.mark.usefixtures("imports_undone")
def test_starlette_builds_each_background_task_with_background_task() -> None:
    pytest.importorskip("starlette")
    from starlette.background import BackgroundTask, BackgroundTasks

    def send(to: str) -> None:
        pass

    with relied_on(
        "Starlette's BackgroundTasks.add_task making a BackgroundTask per task",
        "_tasks/starlette_backend.py",
        "capture_tasks would miss tasks added with add_task: they would run after the response",
    ):
        tasks = BackgroundTasks()
        tasks.add_task(send, "ada@example.com")
        assert [type(task) for task in tasks.tasks] == [BackgroundTask]
        assert (tasks.tasks[0].func, tasks.tasks[0].args) == (send, ("ada@example.com",))


def test_celery_apply_async_takes_the_arguments_we_read_in_order() -> None:
    pytest.importorskip("celery")
    from celery.app.task import Task

    expected = ["self", "args", "kwargs", "task_id", "producer", "link", "link_error", "shadow"]
    with relied_on(
        "Celery's Task.apply_async parameters",
        "_tasks/celery_backend.py (describe_apply_async)",
        "capture_tasks would record a Celery task's arguments under the wrong names",
    ):
        parameters = list(inspect.signature(Task.apply_async).parameters)
        assert parameters[: len(expected)] == expected


class _PluginsProbe:
    def __init__(self) -> None:
        self.plugins: dict[str, Any] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        manager = session.config.pluginmanager
        self.plugins = {name: plugin for name, plugin in manager.list_name_plugin()}


def test_pytest_split_registers_the_selection_we_take_over(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_split")
    probe = _PluginsProbe()
    pytester.makeini(QUIET_INI)
    pytester.makepyfile("def test_a(): pass\ndef test_b(): pass\n")
    with relied_on(
        "pytest-split's plugin name pytestsplitplugin and its "
        "pytest_collection_modifyitems(config, items)",
        "_sharding.py (pytest_configure, StableSplit)",
        "groups of --splits would depend on pytest-randomly's order: tests run twice or never",
    ):
        result = pytester.inline_run(
            "-p",
            "no:randomly",
            "-p",
            "aksara_testing._sharding",
            "--splits=2",
            "--group=1",
            plugins=[probe],
        )
        passed(result, 1)
        stable = probe.plugins.get("aksara-stable-split")
        assert stable is not None, "pytest-split's plugin was not found to take over"
        selection = stable._split.pytest_collection_modifyitems
        assert list(inspect.signature(selection).parameters) == ["config", "items"]


def test_xdist_reads_the_callback_after_configure_node_and_sends_the_events_we_hold() -> None:
    from xdist import remote, workermanage

    with relied_on(
        "pytest-xdist's WorkerController.setup (pytest_configure_node before the channel "
        "callback self.process_from_remote) and WorkerInteractor.sendevent(name, **kwargs)",
        "_xdist_messages.py (ask, hold_back)",
        "a worker's grouped messages would reach a controller that cannot read them: "
        "the run ends in an INTERNALERROR",
    ):
        setup = inspect.getsource(workermanage.WorkerController.setup)
        configured = setup.index("pytest_configure_node(node=self)")
        assert setup.index("setcallback(self.process_from_remote", configured) > configured
        assert list(inspect.signature(remote.WorkerInteractor.sendevent).parameters) == [
            "self",
            "name",
            "kwargs",
        ]
        # Read from the file: inside an xdist worker (this suite's own) the class comes
        # from the module xdist sent over the channel, which has no source to inspect.
        spec = importlib.util.find_spec("xdist.remote")
        assert spec is not None and spec.origin is not None
        source = Path(spec.origin).read_text()
        for event in ("logstart", "testreport", "logfinish", "runtest_protocol_complete"):
            assert f'"{event}"' in source, f"no {event} event"
