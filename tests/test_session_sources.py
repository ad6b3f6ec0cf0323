"""Apps whose sessions do not come from a sessionmaker we can name.

Real apps build sessions in a dependency-injection container, through FastAPI's
``dependency_overrides``, or from a sessionmaker made without ``bind=``; their
repository code reads ``session.bind.dialect``. ``db_sessionmaker`` and
``db_connection`` give such apps the test transaction, and every session we
hand out or reroute shows the test database as its ``bind``.
"""

from __future__ import annotations

from conftest import Project

REPOSITORY = """
from sqlalchemy import func, insert, select

from models import Author


class AuthorRepository:
    '''What repository libraries do: choose SQL by the session's dialect.'''

    def __init__(self, session):
        self.session = session
        self.dialect = session.bind.dialect.name

    async def add(self, name):
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement = pg_insert(Author).values(name=name).on_conflict_do_nothing()
        else:
            statement = insert(Author).values(name=name).prefix_with("OR IGNORE")
        await self.session.execute(statement)
        await self.session.commit()

    async def count(self):
        return await self.session.scalar(select(func.count()).select_from(Author))
"""

BACKEND_OF = {"sqlite": "sqlite", "postgres": "postgresql"}


def test_bind_and_get_bind_show_the_test_database_on_every_session(project: Project) -> None:
    project.pytester.makepyfile(
        repository=REPOSITORY,
        unbound="""
        from sqlalchemy.ext.asyncio import async_sessionmaker

        # Bound later in production (a lifespan hook); never in tests.
        SessionLocal = async_sessionmaker(expire_on_commit=False)
        """,
    )
    project.pytester.makepyprojecttoml(
        f"""
[tool.aksara]
database_url = "{project.database_url}"
models = "models:Base"
session = ["appdb:SessionLocal", "unbound:SessionLocal"]
"""
    )
    project.pytester.makepyfile(
        test_it=f"""
        import appdb
        import unbound
        from repository import AuthorRepository

        DIALECT = {BACKEND_OF[project.backend]!r}

        async def test_db_session(db_session):
            assert db_session.bind.dialect.name == DIALECT
            assert db_session.get_bind().dialect.name == DIALECT
            repository = AuthorRepository(db_session)
            await repository.add("ada")
            await repository.add("ada")
            assert await repository.count() == 1

        async def test_the_apps_bound_sessionmaker():
            async with appdb.SessionLocal() as session:
                assert "test_" in str(session.bind.url)
                await AuthorRepository(session).add("grace")

        async def test_a_sessionmaker_made_without_bind():
            async with unbound.SessionLocal() as session:
                assert session.bind.dialect.name == DIALECT
                assert session.get_bind().dialect.name == DIALECT
                await AuthorRepository(session).add("linus")
                assert await AuthorRepository(session).count() == 1  # others rolled back
        """
    )
    project.run().assert_outcomes(passed=3)


DI_APP = """
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from models import Author


class Container:
    '''A DI container: it builds sessions from an engine; there is no sessionmaker.'''

    def __init__(self, url):
        self.engine = create_async_engine(url)

    def session_factory(self):
        return AsyncSession(self.engine, expire_on_commit=False)


container = Container("sqlite+aiosqlite:///never-used.db")


async def get_session():
    async with container.session_factory() as session:
        yield session


app = FastAPI()


@app.post("/authors/{name}", status_code=201)
async def create(name: str, session: AsyncSession = Depends(get_session)):
    session.add(Author(name=name))
    await session.commit()
    return {"name": name}
"""


def test_dependency_overrides_with_db_sessionmaker_isolate_the_apps_writes(
    project: Project,
) -> None:
    project.pytester.makepyfile(diapp=DI_APP)
    project.write_settings('app = "diapp:app"')
    project.pytester.makeconftest(
        """
        import pytest

        import diapp


        @pytest.fixture
        def app(app, db_sessionmaker):
            async def session():
                async with db_sessionmaker() as session:
                    yield session

            app.dependency_overrides[diapp.get_session] = session
            yield app
            app.dependency_overrides.clear()
        """
    )
    project.pytester.makepyfile(
        test_it="""
        from helpers import count

        async def test_the_app_commits(client, db_session):
            response = await client.post("/authors/ada")
            assert response.status_code == 201
            assert await count(db_session) == 1

        async def test_and_it_was_rolled_back(client, db_session):
            assert await count(db_session) == 0
        """
    )
    project.run().assert_outcomes(passed=2)
    assert not (project.pytester.path / "never-used.db").exists()


def test_a_di_container_bound_to_db_connection_writes_inside_the_test(project: Project) -> None:
    project.pytester.makepyfile(diapp=DI_APP)
    project.write_settings('app = "diapp:app"')
    project.pytester.makeconftest(
        """
        import pytest
        from sqlalchemy.ext.asyncio import AsyncSession

        import diapp


        @pytest.fixture
        def container(db_connection, monkeypatch):
            def session_factory():
                return AsyncSession(
                    bind=db_connection,
                    expire_on_commit=False,
                    join_transaction_mode="create_savepoint",
                )

            monkeypatch.setattr(diapp.container, "session_factory", session_factory)
            return diapp.container
        """
    )
    project.pytester.makepyfile(
        test_it="""
        from helpers import count

        async def test_the_app_commits(client, container, db_session):
            assert (await client.post("/authors/ada")).status_code == 201
            assert (await client.post("/authors/bob")).status_code == 201
            assert await count(db_session) == 2

        async def test_and_it_was_rolled_back(client, container, db_session):
            assert await count(db_session) == 0
        """
    )
    project.run().assert_outcomes(passed=2)


def test_db_sessionmaker_in_a_module_fixture_keeps_data_for_the_module(project: Project) -> None:
    project.pytester.makepyfile(
        test_a="""
        import pytest
        from helpers import count
        from models import Author

        @pytest.fixture(scope="module")
        async def authors(db_sessionmaker):
            async with db_sessionmaker() as session:
                session.add_all([Author(name="ada"), Author(name="bob")])
                await session.commit()

        async def test_one(authors, db_session):
            assert await count(db_session) == 2
            db_session.add(Author(name="cy"))
            await db_session.commit()

        async def test_two(authors, db_session):
            assert await count(db_session) == 2
        """,
        test_b="""
        from helpers import count

        async def test_other_module(db_session):
            assert await count(db_session) == 0
        """,
    )
    project.run().assert_outcomes(passed=3)


def test_db_connection_in_a_transactional_test_commits_for_real(project: Project) -> None:
    project.pytester.makepyfile(
        test_it="""
        import pytest
        from sqlalchemy import text
        from helpers import app_count, count

        @pytest.mark.transactional
        async def test_commits(db_connection):
            await db_connection.execute(text("INSERT INTO authors (name) VALUES ('ada')"))
            await db_connection.commit()
            assert await app_count() == 1  # another connection sees it

        async def test_emptied_afterwards(db_session):
            assert await count(db_session) == 0
        """
    )
    project.run().assert_outcomes(passed=2)
