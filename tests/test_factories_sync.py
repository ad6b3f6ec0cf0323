"""Factories in sync tests and fixtures: ``create``/``create_batch`` without ``await``."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest
import sniffio
from conftest import Project

from aksara_testing import Factory

# An async app (async_sessionmaker in `session`, models in `models`) whose suite
# has sync tests and fixtures, as suites moving from factory_boy do.
MODELS = """
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    is_admin: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(10), server_default="active")
    posts: Mapped[list["Post"]] = relationship(back_populates="author")


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author: Mapped[User] = relationship(back_populates="posts")
"""

FACTORIES = """
from aksara_testing import Factory, Faker
from models import Post, User


class UserFactory(Factory):
    class Meta:
        model = User

    email = Factory.Sequence(lambda n: f"user{n}@example.com")
    name = Faker("first_name")

    class Params:
        admin = Factory.Trait(is_admin=True, name="Admin")


class PostFactory(Factory):
    class Meta:
        model = Post

    title = Factory.Sequence(lambda n: f"post {n}")
    author = Factory.SubFactory(UserFactory)


class AuthorFactory(UserFactory):
    first_post = Factory.RelatedFactory(PostFactory, "author", title="Hello")


class WriterFactory(UserFactory):
    @Factory.post_generation
    def drafts(user, create, extracted, **kwargs):  # a sync hook creating without await
        if create and extracted:
            user.drafts = PostFactory.create_batch(extracted, author=user, **kwargs)


class EditorFactory(UserFactory):
    @Factory.post_generation
    async def reviews(user, create, extracted, **kwargs):
        if create and extracted:
            user.reviews = await PostFactory.create_batch(extracted, author=user)
"""

# Reading rows from async tests: db_session is an AsyncSession in an async
# project and the app's sync Session in a sync one.
READING = """
from sqlalchemy import func, select
from models import User


async def count(session, model=User):
    return {wait}session.scalar(select(func.count()).select_from(model))


async def rows(session, statement):
    return ({wait}session.execute(statement)).all()
"""
WAIT = {"async": "await ", "sync": ""}

# The same app with a sync sessionmaker in `session`: a sync project, whose test
# layer is a sync connection on the app's driver.
SYNC_APP_DB = """
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

# The app's own database: tests must never reach it.
engine = create_engine("{url}")
SessionLocal = sessionmaker(engine, expire_on_commit=False)
"""

APPS = [
    pytest.param(("async", "sqlite"), id="async-sqlite"),
    pytest.param(("async", "asyncpg"), id="async-postgres", marks=pytest.mark.postgres),
    pytest.param(("sync", "sqlite"), id="sync-sqlite"),
    pytest.param(("sync", "psycopg"), id="sync-psycopg", marks=pytest.mark.postgres),
    pytest.param(("sync", "psycopg2"), id="sync-psycopg2", marks=pytest.mark.postgres),
]


@pytest.fixture(params=APPS)
def project(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> Project:
    """The app as an async project and as a sync one, on SQLite and PostgreSQL."""
    kind, driver = request.param
    server = request.getfixturevalue("postgres_url") if driver != "sqlite" else None
    project = Project(pytester, "sqlite" if server is None else "postgres", server)
    project.kind = kind  # type: ignore[attr-defined]
    if kind == "sync":
        if server is not None:
            project.database_url = project.database_url.replace(
                "postgresql://", f"postgresql+{driver}://", 1
            )
            project.write_settings()
        pytester.makepyfile(appdb=SYNC_APP_DB.replace("{url}", project.database_url))
    return project


@dataclasses.dataclass
class Note:
    text: str = ""


def _project(project: Project, **files: str) -> Project:
    reading = READING.format(wait=WAIT[getattr(project, "kind", "async")])
    project.pytester.makepyfile(models=MODELS, factories=FACTORIES, reading=reading, **files)
    return project


def test_sync_tests_and_fixtures_of_any_scope_create_without_await(project: Project) -> None:
    _project(
        project,
        conftest="""
        import pytest
        from factories import UserFactory

        @pytest.fixture(scope="session")
        def root():
            return UserFactory.create(email="root@example.com")

        @pytest.fixture(scope="module")
        def staff():
            return UserFactory.create_batch(3, admin=True)

        @pytest.fixture
        def ann():
            return UserFactory.create(email="ann@example.com")
        """,
        test_a="""
        from reading import count
        from factories import PostFactory, UserFactory
        from models import Post, User

        def test_fixtures_hand_over_saved_objects(staff, ann):
            assert all(isinstance(u, User) and u.id is not None for u in [*staff, ann])
            assert [u.name for u in staff] == ["Admin"] * 3
            assert ann.status == "active"  # the server default is read back
            post = PostFactory.create(author=ann)
            assert (post.id is not None, post.author_id) == (True, ann.id)

        async def test_the_module_fixture_rows_are_left_alone(db_session, staff):
            assert await count(db_session) == 3
            assert await count(db_session, Post) == 0

        def test_the_function_fixture_row_is_gone(ann):
            # ann's email is unique: its row from the first test would collide.
            assert UserFactory.create().email == "user4@example.com"  # after staff's and ann's
        """,
        test_b="""
        from reading import count
        from factories import UserFactory

        async def test_another_module_starts_empty(db_session):
            assert await count(db_session) == 0

        def test_a_session_fixture_row_stays_for_the_run(root):
            assert root.id is not None and root.email == "root@example.com"

        async def test_and_is_seen_by_the_tests_after_it(db_session, root):
            assert await count(db_session) == 1
            assert UserFactory.build().email == "user1@example.com"  # counting after root's
        """,
    )
    project.run().assert_outcomes(passed=6)


def test_sub_factories_related_factories_traits_and_hooks_work_in_sync_code(
    project: Project,
) -> None:
    _project(
        project,
        test_it="""
        import pytest
        from sqlalchemy import select
        from factories import AuthorFactory, EditorFactory, PostFactory, UserFactory, WriterFactory
        from models import Post
        from reading import rows

        @pytest.fixture(scope="module")
        def authors():
            return AuthorFactory.create_batch(2)

        def test_sub_factory_and_double_underscore_overrides():
            post = PostFactory.create(author__name="Ann", author__admin=True)
            assert post.author.id is not None and post.author_id == post.author.id
            assert (post.author.name, post.author.is_admin) == ("Ann", True)
            posts = PostFactory.create_batch(3)
            assert len({p.author_id for p in posts}) == 3

        def test_traits():
            admin, plain = UserFactory.create(admin=True), UserFactory.create()
            assert (admin.is_admin, admin.name, plain.is_admin) == (True, "Admin", False)

        async def test_related_factories_of_a_sync_fixture(db_session, authors):
            found = await rows(db_session, select(Post.author_id, Post.title))
            assert sorted(found) == sorted((a.id, "Hello") for a in authors)

        def test_a_sync_hook_creates_without_await():
            writer = WriterFactory.create(drafts=2, drafts__title="Draft")
            assert [(p.title, p.author_id) for p in writer.drafts] == [("Draft", writer.id)] * 2
            assert all(p.id is not None for p in writer.drafts)

        def test_an_async_hook_runs_for_a_sync_call():
            editor = EditorFactory.create(reviews=2)
            assert [p.author_id for p in editor.reviews] == [editor.id] * 2

        async def test_a_sync_hook_in_an_async_test(db_session):
            writer = await WriterFactory.create(drafts=3)
            assert len({p.id for p in writer.drafts}) == 3
            found = await rows(db_session, select(Post.author_id))
            assert found.count((writer.id,)) == 3
        """,
    )
    project.run().assert_outcomes(passed=6)


def test_sync_and_async_tests_in_one_module_each_start_from_an_empty_layer(
    project: Project,
) -> None:
    _project(
        project,
        test_it="""
        from reading import count
        from factories import PostFactory, UserFactory

        def test_sync_writes():
            assert UserFactory.create(email="same@example.com").email == "same@example.com"
            assert [u.email for u in UserFactory.create_batch(2)] == [
                "user1@example.com", "user2@example.com",
            ]

        async def test_async_sees_none_of_it(db_session):
            assert await count(db_session) == 0
            await UserFactory.create(email="same@example.com")
            assert await count(db_session) == 1

        def test_sync_writes_the_same_unique_values_again():
            UserFactory.create(email="same@example.com")
            assert UserFactory.create().email == "user1@example.com"

        class TestInAClass:
            def test_sync_method(self):
                assert PostFactory.create().title == "post 0"

            async def test_async_method_sees_none_of_it(self, db_session):
                assert await count(db_session) == 0
        """,
    )
    project.run().assert_outcomes(passed=5)


def test_a_sync_batch_writes_one_insert_per_table(project: Project) -> None:
    _project(
        project,
        test_it="""
        from aksara_testing import count_queries
        from factories import PostFactory

        def test_twenty_posts():
            with count_queries() as queries:
                posts = PostFactory.create_batch(20)
            inserts = [s.split(" (")[0] for s in queries.statements if s.startswith("INSERT")]
            assert inserts == ["INSERT INTO users", "INSERT INTO posts"], queries.statements
            assert len({p.id for p in posts}) == 20
            assert {p.author.status for p in posts} == {"active"}
        """,
    )
    project.run().assert_outcomes(passed=1)


def test_a_sync_function_an_async_test_runs_in_a_thread_creates(project: Project) -> None:
    _project(
        project,
        test_it="""
        import asyncio
        from reading import count
        from factories import UserFactory

        async def test_to_thread(db_session):
            users = await asyncio.to_thread(UserFactory.create_batch, 2)
            assert [u.id is not None for u in users] == [True, True]
            assert await count(db_session) == 2
        """,
    )
    project.run().assert_outcomes(passed=1)


SQLMODEL_APP = {
    "app/__init__.py": "",
    "app/db.py": """
        from sqlmodel import Session, create_engine

        engine = create_engine("{url}")


        def get_db():
            with Session(engine) as session:
                yield session
        """,
    "app/models.py": """
        from sqlmodel import Field, Relationship, SQLModel


        class Team(SQLModel, table=True):
            id: int | None = Field(default=None, primary_key=True)
            name: str = Field(unique=True)
            heroes: list["Hero"] = Relationship(back_populates="team")


        class Hero(SQLModel, table=True):
            id: int | None = Field(default=None, primary_key=True)
            name: str
            team_id: int | None = Field(default=None, foreign_key="team.id")
            team: Team | None = Relationship(back_populates="heroes")
        """,
    "test_heroes.py": """
        import pytest
        from sqlmodel import Session, func, select

        from aksara_testing import Factory, Faker
        from app.db import engine
        from app.models import Hero, Team


        class TeamFactory(Factory):
            class Meta:
                model = Team

            name = Factory.Sequence(lambda n: f"team{n}")


        class HeroFactory(Factory):
            class Meta:
                model = Hero

            name = Faker("first_name")
            team = Factory.SubFactory(TeamFactory)


        def count(model):
            with Session(engine) as session:  # the app's way: straight from its engine
                return session.exec(select(func.count()).select_from(model)).one()


        @pytest.fixture(scope="module")
        def heroes():
            return HeroFactory.create_batch(3)


        def test_the_app_sees_the_rows(heroes, db_session):
            team = TeamFactory.create()
            pair = HeroFactory.create_batch(2, team=team)
            assert (count(Hero), count(Team)) == (5, 4)
            assert db_session.exec(select(Hero.name).where(Hero.id == pair[0].id)).one() == (
                pair[0].name
            )
            db_session.expire(team)
            assert sorted(h.id for h in team.heroes) == sorted(h.id for h in pair)  # lazy load


        def test_only_the_module_rows_are_left(heroes):
            assert (count(Hero), count(Team)) == (3, 3)
        """,
}


@pytest.mark.parametrize("driver", ["sqlite", pytest.param("psycopg", marks=pytest.mark.postgres)])
def test_a_sqlmodel_app_making_sessions_from_its_engine(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, driver: str
) -> None:
    """The commonest sync shape: `Session(engine)` in the app, no sessionmaker."""
    name = f"heroes_{id(request) % 100000}"
    url = f"sqlite:///{name}.db"
    if driver != "sqlite":
        server: str = request.getfixturevalue("postgres_url")
        url = server.rsplit("/", 1)[0].replace("postgresql://", f"postgresql+{driver}://")
        url += f"/{name}"
    for path, text in SQLMODEL_APP.items():
        target = pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(dedent(text).replace("{url}", url))
    pytester.makepyprojecttoml(
        f"""
        [tool.aksara]
        database_url = "{url}"
        models = "app.models:SQLModel"
        engine = "app.db:engine"
        session = "sqlmodel:Session"
        """
    )
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


# -- errors ---------------------------------------------------------------------------


def test_a_project_without_aksara_settings_gets_the_set_up_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        models=MODELS,
        factories=FACTORIES,
        test_it="""
        import pytest
        from factories import UserFactory

        def test_sync():
            UserFactory.create()

        @pytest.mark.asyncio
        async def test_async():
            await UserFactory.create_batch(2)
        """,
    )
    result = pytester.runpytest(
        "-p", "no:randomly", "-o", "asyncio_default_fixture_loop_scope=function"
    )
    result.assert_outcomes(failed=2)
    message = (
        "AksaraError: the test database was requested before aksara's session set-up ran; "
        "add a [tool.aksara] table to pyproject.toml, or request the db_session or "
        "test_settings fixture in the fixture that needs the database"
    )
    errors = [line for line in result.outlines if line.startswith("E ")]
    assert [line.split("errors.", 1)[-1] for line in errors] == [message, message]


def test_a_sync_call_where_it_cannot_wait_is_one_line(sqlite_project: Project) -> None:
    _project(
        sqlite_project,
        conftest="""
        from factories import UserFactory

        def pytest_sessionfinish(session):
            try:
                UserFactory.create()
            except Exception as exc:
                print(f"at the end: {exc}")
        """,
        test_it="""
        import asyncio
        import pytest
        from aksara_testing import FactoryError
        from factories import UserFactory

        async def test_on_the_loops_own_thread_with_the_loop_hidden(db_session):
            loop = asyncio.get_running_loop()
            asyncio.events._set_running_loop(None)  # as code that swaps loops out does
            try:
                with pytest.raises(FactoryError) as error:
                    UserFactory.create_batch(2)
            finally:
                asyncio.events._set_running_loop(loop)
            assert str(error.value) == (
                "UserFactory.create_batch() was called without await on the thread running "
                "aksara's event loop, which cannot wait for itself; await it there: "
                "await UserFactory.create_batch()"
            )
        """,
    )
    result = sqlite_project.run("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*at the end: UserFactory.create() was called after aksara's event loop closed at "
            "the end of the run; call it in a test or fixture"
        ]
    )


def test_where_sniffio_sees_another_async_library_create_stays_awaitable() -> None:
    """trio (or anyio on trio) runs no asyncio loop; sniffio tells its code apart."""

    class NoteFactory(Factory[Note]):
        class Meta:
            model = Note

    token = sniffio.current_async_library_cvar.set("trio")
    try:
        work = NoteFactory.create()
    finally:
        sniffio.current_async_library_cvar.reset(token)
    assert inspect.iscoroutine(work)
    work.close()


# -- typing -----------------------------------------------------------------------------

TYPED = """
import dataclasses
from typing import assert_type

from aksara_testing import Factory


@dataclasses.dataclass
class User:
    id: int


class UserFactory(Factory[User]):
    class Meta:
        model = User


async def in_async_code() -> None:
    assert_type(await UserFactory.create(), User)
    assert_type(await UserFactory.create_batch(2), list[User])


def a_sync_fixture() -> User:
    return UserFactory.create()


def in_sync_code() -> None:
    users: list[User] = UserFactory.create_batch(2)
    assert_type(UserFactory.create_batch(2)[0], User)
    for user in UserFactory.create_batch(2):
        assert_type(user, User)
    assert users and a_sync_fixture().id
"""


def test_mypy_accepts_create_awaited_in_async_code_and_called_in_sync_code(
    tmp_path: Path,
) -> None:
    snippet = tmp_path / "typed.py"
    snippet.write_text(dedent(TYPED))
    cache = str(tmp_path / "cache")
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", cache, str(snippet)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
