"""Sync SQLAlchemy apps: the shapes real sync suites have, isolated like async ones.

Each project is a FastAPI app with sync endpoints, run through Starlette's
TestClient in a module-scoped fixture (its sync endpoints run in a thread
pool), on SQLite and on PostgreSQL with psycopg 3 and psycopg2.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

BACKENDS = [
    "sqlite",
    pytest.param("psycopg", marks=pytest.mark.postgres),
    pytest.param("psycopg2", marks=pytest.mark.postgres),
]


class SyncProject:
    """A sync app project for pytester; ``shape`` picks how the app makes sessions."""

    def __init__(self, pytester: pytest.Pytester, driver: str, server: str | None) -> None:
        self.pytester = pytester
        name = f"syncapp_{id(self) % 100000}"
        if driver == "sqlite":
            self.database_url = f"sqlite:///{name}.db"
        else:
            assert server is not None
            base = server.rsplit("/", 1)[0].split("://", 1)[1]
            self.database_url = f"postgresql+{driver}://{base}/{name}"

    def write(self, files: dict[str, str], settings: str) -> None:
        for path, text in files.items():
            target = self.pytester.path / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text).replace("{URL}", self.database_url))
        self.pytester.makepyprojecttoml(
            f'[tool.aksara]\ndatabase_url = "{self.database_url}"\n' + textwrap.dedent(settings)
        )

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", *args)


@pytest.fixture(params=BACKENDS)
def sync_project(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> SyncProject:
    server = request.getfixturevalue("postgres_url") if request.param != "sqlite" else None
    return SyncProject(pytester, request.param, server)


SQLMODEL_APP = {
    "app/__init__.py": "",
    "app/core/__init__.py": "",
    "app/core/db.py": """
        from sqlmodel import Session, create_engine

        # The app's own database: tests must never reach it.
        engine = create_engine("{URL}")


        def get_db():
            with Session(engine) as session:
                yield session
        """,
    "app/models.py": """
        from sqlmodel import Field, SQLModel


        class Item(SQLModel, table=True):
            id: int | None = Field(default=None, primary_key=True)
            name: str = Field(unique=True)
        """,
    "app/main.py": """
        from fastapi import Depends, FastAPI, HTTPException
        from sqlmodel import Session, func, select

        from app.core.db import get_db
        from app.models import Item

        app = FastAPI()


        @app.post("/items", status_code=201)
        def create_item(name: str, session: Session = Depends(get_db)):
            if session.exec(select(Item).where(Item.name == name)).first():
                raise HTTPException(409, "exists")
            item = Item(name=name)
            session.add(item)
            session.commit()
            session.refresh(item)
            return {"id": item.id, "name": item.name}


        @app.get("/items")
        def list_items(session: Session = Depends(get_db)):
            return sorted(i.name for i in session.exec(select(Item)).all())


        @app.get("/count")
        async def count_items():  # an async endpoint on the same engine
            from app.core.db import engine

            with Session(engine) as session:
                return session.exec(select(func.count()).select_from(Item)).one()
        """,
}
SQLMODEL_SETTINGS = """
    models = "app.models:SQLModel"
    engine = "app.core.db:engine"
    session = "sqlmodel:Session"
"""

CLASSIC_APP = {
    "database.py": """
        from sqlalchemy import create_engine
        from sqlalchemy.orm import declarative_base, sessionmaker

        engine = create_engine("{URL}")
        SessionLocal = sessionmaker(autocommit=False, autoflush=False, bind=engine)
        Base = declarative_base()


        def get_db():
            db = SessionLocal()
            try:
                yield db
            finally:
                db.close()
        """,
    "models.py": """
        from sqlalchemy import Column, Integer, String

        from database import Base


        class Item(Base):
            __tablename__ = "items"
            id = Column(Integer, primary_key=True)
            name = Column(String(50), unique=True)
        """,
    "main.py": """
        from fastapi import Depends, FastAPI
        from sqlalchemy import select
        from sqlalchemy.orm import Session

        from database import get_db
        from models import Item

        app = FastAPI()


        @app.post("/items", status_code=201)
        def create_item(name: str, db: Session = Depends(get_db)):
            item = Item(name=name)
            db.add(item)
            db.commit()
            db.refresh(item)
            return {"id": item.id, "name": item.name}


        @app.get("/items")
        def list_items(db: Session = Depends(get_db)):
            return sorted(db.scalars(select(Item.name)).all())
        """,
}
CLASSIC_SETTINGS = """
    models = "models:Base"
    session = "database:SessionLocal"
"""

SCOPED_APP = {
    "database.py": """
        from sqlalchemy import create_engine
        from sqlalchemy.orm import declarative_base, scoped_session, sessionmaker

        engine = create_engine("{URL}")
        db_session = scoped_session(sessionmaker(bind=engine))
        Base = declarative_base()
        """,
    "models.py": CLASSIC_APP["models.py"],
    "main.py": """
        from fastapi import FastAPI
        from sqlalchemy import select

        from database import db_session
        from models import Item

        app = FastAPI()


        @app.post("/items", status_code=201)
        def create_item(name: str):
            try:
                item = Item(name=name)
                db_session.add(item)
                db_session.commit()
                return {"id": item.id, "name": item.name}
            finally:
                db_session.remove()  # in the thread that used it


        @app.get("/items")
        def list_items():
            try:
                return sorted(db_session.scalars(select(Item.name)).all())
            finally:
                db_session.remove()
        """,
}
SCOPED_SETTINGS = """
    models = "models:Base"
    session = "database:db_session"
"""

SUBCLASS_APP = {
    "database.py": """
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session, declarative_base

        engine = create_engine("{URL}")
        Base = declarative_base()


        class AppSession(Session):
            pass  # the app's own Session class, made per request with AppSession(engine)


        def get_db():
            with AppSession(engine) as session:
                yield session
        """,
    "models.py": CLASSIC_APP["models.py"],
    "main.py": CLASSIC_APP["main.py"],
}
SUBCLASS_SETTINGS = """
    models = "models:Base"
    session = "database:AppSession"
"""

SHAPES = {
    "subclass": (SUBCLASS_APP, SUBCLASS_SETTINGS, "main", "models", "AppSession"),
    "sqlmodel": (SQLMODEL_APP, SQLMODEL_SETTINGS, "app.main", "app.models", "Session"),
    "classic": (CLASSIC_APP, CLASSIC_SETTINGS, "main", "models", "Session"),
    "scoped": (SCOPED_APP, SCOPED_SETTINGS, "main", "models", "Session"),
}

TESTS = """
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from {main} import app
from {models} import Item


def count(db_session):
    return db_session.scalar(select(func.count()).select_from(Item))


@pytest.fixture(scope="module")
def test_client():
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def seeded(db_session):
    db_session.add(Item(name="module-row"))
    db_session.commit()  # kept for this module's tests, rolled back after it


def test_the_app_commits_through_its_own_sessions(test_client, seeded, db_session):
    response = test_client.post("/items", params={{"name": "first"}})
    assert response.status_code == 201, response.text
    assert count(db_session) == 2
    assert test_client.get("/items").json() == ["first", "module-row"]


def test_the_next_test_starts_from_the_module_data(test_client, seeded, db_session):
    assert test_client.get("/items").json() == ["module-row"]
    db_session.add(Item(name="own"))
    db_session.commit()
    assert test_client.get("/items").json() == ["module-row", "own"]


def test_a_failed_request_rolls_back_only_itself(test_client, seeded, db_session):
    assert test_client.post("/items", params={{"name": "twice"}}).status_code == 201
    again = test_client.post("/items", params={{"name": "twice"}})  # a unique name: it fails
    assert again.status_code >= 400
    assert test_client.get("/items").json() == ["module-row", "twice"]


def test_db_session_is_the_apps_session_class(db_session):
    from sqlalchemy.orm import Session

    assert isinstance(db_session, Session)
    assert "{session_class}" in {{c.__name__ for c in db_session.__class__.__mro__}}
"""

AFTER = """
from sqlalchemy import func, select

from {models} import Item


def test_nothing_is_left_by_the_other_module(db_session):
    assert db_session.scalar(select(func.count()).select_from(Item)) == 0
"""


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_sync_app_shapes_are_isolated(sync_project: SyncProject, shape: str) -> None:
    files, settings, main, models, session_class = SHAPES[shape]
    sync_project.write(files, settings)
    sync_project.pytester.makepyfile(
        test_a=TESTS.format(main=main, models=models, session_class=session_class),
        test_b=AFTER.format(models=models),
    )
    result = sync_project.run("-v")
    result.assert_outcomes(passed=5)


FEATURES = """
import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

from aksara_testing import count_queries
from app.core.db import engine
from app.models import Item


def count():
    with Session(engine) as session:  # the app's way: straight from its engine
        return session.exec(select(func.count()).select_from(Item)).one()


@pytest.mark.transactional
def test_transactional_commits_for_real(db_session):
    with Session(engine) as session:
        session.add(Item(name="real"))
        session.commit()
    with engine.connect() as connection:  # another connection sees the commit
        assert connection.scalar(select(func.count()).select_from(Item)) == 1


def test_then_the_rows_are_gone():
    assert count() == 0


def test_count_queries_counts_the_apps_statements():
    with count_queries() as queries:
        count()
        count()
    assert queries.count == 2, queries.statements


def test_db_connection_is_a_sync_connection_on_the_layer(db_connection):
    db_connection.execute(text("INSERT INTO item (name) VALUES ('raw')"))
    assert count() == 1


def test_and_it_was_rolled_back(db_sessionmaker):
    with db_sessionmaker() as session:
        assert session.exec(select(Item)).all() == []
        session.add(Item(name="made"))
        session.commit()
    assert count() == 1


def test_the_app_rolls_back_its_own_transaction(db_session):
    db_session.add(Item(name="kept"))
    db_session.commit()
    with Session(engine) as session:
        session.add(Item(name="dropped"))
        session.flush()
        session.rollback()
    assert sorted(db_session.exec(select(Item.name)).all()) == ["kept"]


async def test_an_async_test_in_a_sync_project_uses_the_same_layer(db_session):
    db_session.add(Item(name="async"))
    db_session.commit()
    assert count() == 1


def test_threads_find_the_test_layer():
    import threading

    seen = []
    worker = threading.Thread(target=lambda: seen.append(count()))
    with Session(engine) as session:
        session.add(Item(name="main"))
        session.commit()
    worker.start()
    worker.join()
    assert seen == [1]
"""


def test_sync_features_work_the_async_way(sync_project: SyncProject) -> None:
    sync_project.write(SQLMODEL_APP, SQLMODEL_SETTINGS)
    sync_project.pytester.makepyfile(test_features=FEATURES)
    result = sync_project.run("-v")
    result.assert_outcomes(passed=8)


def test_sync_runs_with_workers_and_reused_databases(sync_project: SyncProject) -> None:
    sync_project.write(SQLMODEL_APP, SQLMODEL_SETTINGS)
    sync_project.pytester.makepyfile(
        test_a=TESTS.format(main="app.main", models="app.models", session_class="Session"),
        test_b=AFTER.format(models="app.models"),
    )
    aksara = str(Path(sys.executable).with_name("aksara"))
    runs = [
        ("-n", "2"),
        ("--reuse-db",),
        ("--reuse-db",),  # the kept database, reused
        (),  # without --reuse-db: dropped at the end
    ]
    outputs = []
    for args in runs:
        result = sync_project.pytester.run(aksara, "test", "-p", "no:randomly", *args)
        assert result.ret == 0, result.stdout.str()
        outputs.append(result.stdout.str())
        result.stdout.fnmatch_lines(["*5 passed*"])
    assert "reused" in outputs[2]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            'engine = "app.core.db:engine"\nsession = "async_db:SessionLocal"',
            "*setting session = 'async_db:SessionLocal' is async (async_sessionmaker) but "
            "engine = 'app.core.db:engine' is sync (Engine); a run isolates one kind of app*",
        ),
        (
            'session = "sqlmodel:Session"',
            "*setting session = 'sqlmodel:Session' (from pyproject.toml) is sqlmodel's own "
            "Session class, whose sessions use the engine they are given; also set engine = *",
        ),
        (
            'engine = "app.core.db:get_db"',
            "*setting engine = 'app.core.db:get_db' (from pyproject.toml) is a function, not an "
            "Engine or AsyncEngine*",
        ),
        (
            'session = "app.core.db:engine"',
            "*setting session = 'app.core.db:engine' (from pyproject.toml) is an Engine, not an "
            "async_sessionmaker, a sessionmaker, a scoped_session or a Session class*",
        ),
        (
            'engine = "pgdb:engine"',
            "*setting engine = 'pgdb:engine' uses a postgresql engine but the test database is "
            "sqlite (from database_url); point database_url at the kind of database the app uses*",
        ),
    ],
    ids=[
        "mixed-kinds",
        "library-session-without-engine",
        "engine-not-an-engine",
        "session-engine",
        "engine-on-another-backend",
    ],
)
def test_sync_configuration_errors_are_one_line(
    pytester: pytest.Pytester, settings: str, expected: str
) -> None:
    project = SyncProject(pytester, "sqlite", None)
    project.write(
        {
            **SQLMODEL_APP,
            "pgdb.py": """
                from sqlalchemy import create_engine

                engine = create_engine("postgresql+psycopg2://u@h/app")
                """,
            "async_db.py": """
                from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

                SessionLocal = async_sessionmaker(create_async_engine("sqlite+aiosqlite://"))
                """,
        },
        'models = "app.models:SQLModel"\n' + settings,
    )
    pytester.makepyfile(test_one="def test_one(db_session):\n    db_session.execute(1)\n")
    result = project.run()
    assert result.ret == 4
    result.stdout.fnmatch_lines([expected])
    assert "Traceback" not in result.stdout.str()


UNCONFIGURED_CONFTEST = """
import pytest
from sqlalchemy import create_engine, event
from sqlmodel import Session

from app.core.db import engine as app_engine
from app.models import SQLModel

engine = create_engine("sqlite:///own_test.db")


@event.listens_for(engine, "connect")
def no_pysqlite_transactions(dbapi_connection, record):  # SQLAlchemy's pysqlite recipe
    dbapi_connection.isolation_level = None


@event.listens_for(engine, "begin")
def begin(connection):
    connection.exec_driver_sql("BEGIN")


@pytest.fixture(scope="session", autouse=True)
def schema():
    SQLModel.metadata.create_all(engine)
    yield
    SQLModel.metadata.drop_all(engine)


@pytest.fixture
def session():
    connection = engine.connect()
    transaction = connection.begin()
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        yield session
    transaction.rollback()
    connection.close()
"""

UNCONFIGURED_TESTS = """
from sqlmodel import select

from app.models import Item


def test_writes(session):
    session.add(Item(name="a"))
    session.commit()
    assert len(session.exec(select(Item)).all()) == 1


def test_hand_written_rollback_still_works(session):
    assert session.exec(select(Item)).all() == []
"""


def test_a_sync_project_that_did_not_opt_in_is_left_alone(pytester: pytest.Pytester) -> None:
    """The plugin installed, no [tool.aksara]: the suite's own savepoint fixture runs as before."""
    for path, text in SQLMODEL_APP.items():
        target = pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).replace("{URL}", "sqlite:///app.db"))
    pytester.makeconftest(UNCONFIGURED_CONFTEST)
    pytester.makepyfile(test_own=UNCONFIGURED_TESTS)
    # In a process of its own: pytest-asyncio warns there about its own unset option.
    result = pytester.runpytest_subprocess("-v", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert "aksara" not in result.stdout.str().split("rootdir")[0]


# A sync app's env.py: it reads the app's own (sync-driver) URL and builds its own engine.
SYNC_APP_ENV = """
from alembic import context
from sqlalchemy import engine_from_config, pool

import database

config = context.config
config.set_main_option("sqlalchemy.url", database.DATABASE_URL)


def run_migrations_online():
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
"""

MIGRATED_DATABASE = """
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

DATABASE_URL = "{URL}"
engine = create_engine(DATABASE_URL)
SessionLocal = sessionmaker(bind=engine)
"""

MIGRATED_TESTS = """
from sqlalchemy import func, select, text

from aksara_testing import MigrationTestCase
from database import SessionLocal
from models import Author


def test_the_migrated_schema_serves_the_app(db_session):
    with SessionLocal() as session:
        session.add(Author(name="migrated"))
        session.commit()
    assert db_session.scalar(select(func.count()).select_from(Author)) == 1


def test_and_rolls_back(db_session):
    assert db_session.scalar(select(func.count()).select_from(Author)) == 0


class TestBookTitles(MigrationTestCase):
    async def test_titles_become_capitals(self):
        await self.migrate("default", "bb02")
        await self.execute("INSERT INTO authors (id, name) VALUES (1, 'a')")
        await self.execute("INSERT INTO books (title, author_id) VALUES ('dune', 1)")
        await self.migrate("default", "bc03")
        assert await self.execute("SELECT title FROM books") == [{"title": "DUNE"}]
"""


def test_a_sync_env_py_builds_the_test_database_and_checks_pass(
    sync_project: SyncProject,
) -> None:
    from conftest import MODELS
    from migration_project import write_alembic

    root = sync_project.pytester.path
    write_alembic(root, "sync")
    (root / "migrations" / "env.py").write_text(SYNC_APP_ENV.lstrip())
    sync_project.write(
        {"database.py": MIGRATED_DATABASE, "models.py": MODELS},
        'models = "models:Base"\nsession = "database:SessionLocal"\nmigrations = "alembic.ini"\n',
    )
    sync_project.pytester.makepyfile(test_migrated=MIGRATED_TESTS)
    result = sync_project.run("-v", "--aksara-migrations")
    result.assert_outcomes(passed=3 + 9)  # 9 checks
    result.stdout.fnmatch_lines(["*aksara-migrations::*PASSED*"])


ASYNC_ENGINE_APP = """
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from models import Author

engine = create_async_engine("{URL}")


async def app_creates(name):
    async with AsyncSession(engine) as session:  # no sessionmaker: straight from the engine
        session.add(Author(name=name))
        await session.commit()


async def app_count():
    async with engine.connect() as connection:
        return await connection.scalar(select(func.count()).select_from(Author))
"""

ASYNC_AFTER = """
from sqlalchemy import func, select

from models import Author


async def test_nothing_is_left_by_the_other_module(db_session):
    assert await db_session.scalar(select(func.count()).select_from(Author)) == 0
"""

ASYNC_ENGINE_TESTS = """
import pytest
from sqlalchemy import func, select

from appengine import app_count, app_creates
from models import Author


@pytest.fixture(scope="module")
async def seeded():
    await app_creates("module-row")


async def test_the_apps_engine_writes_on_the_layer(seeded, db_session):
    await app_creates("test-row")
    assert await app_count() == 2
    assert await db_session.scalar(select(func.count()).select_from(Author)) == 2


async def test_and_the_test_row_is_gone(seeded):
    assert await app_count() == 1


async def test_a_rolled_back_app_transaction_stays_rolled_back(seeded):
    from sqlalchemy.ext.asyncio import AsyncSession

    from appengine import engine

    async with AsyncSession(engine) as session:
        session.add(Author(name="dropped"))
        await session.flush()
        await session.rollback()
    assert await app_count() == 1
"""


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("asyncpg", marks=pytest.mark.postgres)])
def test_an_async_engine_named_in_engine_is_routed_too(
    request: pytest.FixtureRequest, pytester: pytest.Pytester, backend: str
) -> None:
    from conftest import MODELS

    server = request.getfixturevalue("postgres_url") if backend != "sqlite" else None
    project = SyncProject(pytester, "sqlite" if backend == "sqlite" else "psycopg", server)
    url = project.database_url
    project.database_url = (
        url.replace("sqlite://", "sqlite+aiosqlite://")
        if backend == "sqlite"
        else url.replace("+psycopg", "+asyncpg")
    )
    project.write(
        {"appengine.py": ASYNC_ENGINE_APP, "models.py": MODELS},
        'models = "models:Base"\nengine = "appengine:engine"\n',
    )
    pytester.makepyfile(test_engine=ASYNC_ENGINE_TESTS, test_after=ASYNC_AFTER)
    result = project.run("-v")
    result.assert_outcomes(passed=4)


REFUSED_TESTS = """
from sqlalchemy import text

from database import engine


def test_the_apps_own_engine_is_refused_when_not_routed():
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
"""


def test_an_app_engine_that_is_not_routed_never_reaches_the_apps_database(
    sync_project: SyncProject,
) -> None:
    """Only the sessionmaker is named: the engine itself is still the app's, and refused."""
    sync_project.write(CLASSIC_APP, CLASSIC_SETTINGS)
    sync_project.pytester.makepyfile(test_refused=REFUSED_TESTS)
    result = sync_project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*refused*syncapp_*test_refused.py:7*its engine in the engine setting*"]
    )


CLIENT_TESTS = """
import pytest
from sqlmodel import select

from aksara_testing import sync_client
from app.models import Item


@pytest.fixture(scope="module")
def shared(app):
    with sync_client(app) as client:
        yield client


def test_the_client_fixture_is_sync_in_sync_tests(client, db_session):
    response = client.post("/items", params={"name": "via-client"})
    assert response.status_code == 201, response
    assert [i.name for i in db_session.exec(select(Item))] == ["via-client"]


def test_a_module_scoped_client_and_a_clean_layer(shared):
    assert shared.get("/items").json() == []
    shared.post("/items", params={"name": "shared"})
    assert shared.get("/count").json() == 1


async def test_async_tests_get_the_async_client_on_the_same_layer(client, db_session):
    response = await client.post("/items", params={"name": "async"})
    assert response.status_code == 201
    assert [i.name for i in db_session.exec(select(Item))] == ["async"]
"""


def test_sync_and_async_tests_use_our_client_on_a_sync_app(sync_project: SyncProject) -> None:
    sync_project.write(SQLMODEL_APP, SQLMODEL_SETTINGS + 'app = "app.main:app"\n')
    sync_project.pytester.makepyfile(test_our_client=CLIENT_TESTS)
    sync_project.run("-v").assert_outcomes(passed=3)


STRICT_TESTS = """
import pytest
from sqlmodel import Session, select

from app.core.db import engine
from app.models import Item


@pytest.fixture
def anyio_backend():
    return "asyncio"


def test_a_sync_test_writes_through_the_app(db_session):
    with Session(engine) as session:
        session.add(Item(name="sync"))
        session.commit()
    assert [i.name for i in db_session.exec(select(Item))] == ["sync"]


@pytest.mark.anyio
async def test_an_anyio_test_sees_a_clean_layer(db_session):
    assert db_session.exec(select(Item)).all() == []


@pytest.mark.asyncio
async def test_a_strict_mode_asyncio_test_too(db_session):
    assert db_session.exec(select(Item)).all() == []
"""


def test_a_sync_project_in_strict_mode_with_anyio_tests(sync_project: SyncProject) -> None:
    """The project's own pytest-asyncio mode (strict) and anyio marks, on a sync app's layer."""
    sync_project.write(
        SQLMODEL_APP,
        SQLMODEL_SETTINGS + '\n[tool.pytest.ini_options]\nasyncio_mode = "strict"\n',
    )
    sync_project.pytester.makepyfile(test_strict=STRICT_TESTS)
    sync_project.run("-v").assert_outcomes(passed=3)
