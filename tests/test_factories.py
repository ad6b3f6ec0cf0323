"""Factories: declarations, strategies, persistence, auto-fill, errors and seeded data."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import faker  # noqa: F401  (imported once here: pytester runs would re-import it every run)
import pydantic
import pytest
from conftest import Project
from sqlalchemy import JSON, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aksara_testing import Factory, FactoryError, Faker

# The conftest's Author and Book, grown relationships, a server default and
# the models the auto-fill tests need. helpers.py keeps working on them.
MODELS = """
import datetime
import enum
import uuid
from decimal import Decimal

from sqlalchemy import (
    JSON, BigInteger, Date, DateTime, Enum, Float, ForeignKey, Integer, Interval,
    LargeBinary, Numeric, SmallInteger, String, Text, Time, Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    email: Mapped[str | None] = mapped_column(String(100), default=None)
    is_admin: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(10), server_default="new")
    books: Mapped[list["Book"]] = relationship(back_populates="author")


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("authors.id"), default=None)
    author: Mapped[Author | None] = relationship(back_populates="books")


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Country(Base):  # no factory: auto-filled parents come from an automatic one
    __tablename__ = "countries"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


class Publisher(Base):  # has PublisherFactory
    __tablename__ = "publishers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


class Everything(Base):
    __tablename__ = "everything"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(3), unique=True)
    initial: Mapped[str] = mapped_column(String(1))
    title: Mapped[str] = mapped_column(String(20))
    slug: Mapped[str] = mapped_column(String(30), unique=True)
    body: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer)
    big: Mapped[int] = mapped_column(BigInteger, unique=True)
    small: Mapped[int] = mapped_column(SmallInteger)
    ratio: Mapped[float] = mapped_column(Float)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    flag: Mapped[bool]
    day: Mapped[datetime.date] = mapped_column(Date)
    moment: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))
    at: Mapped[datetime.time] = mapped_column(Time)
    span: Mapped[datetime.timedelta] = mapped_column(Interval)
    color: Mapped[Color] = mapped_column(Enum(Color))
    data: Mapped[dict] = mapped_column(JSON)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    token: Mapped[uuid.UUID] = mapped_column(Uuid)
    country_id: Mapped[int] = mapped_column(ForeignKey("countries.id"))
    country: Mapped[Country] = relationship()
    publisher_id: Mapped[int] = mapped_column(ForeignKey("publishers.id"))
    publisher: Mapped[Publisher] = relationship()


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    happened_at: Mapped[datetime.datetime] = mapped_column(DateTime)  # no time zone


class Review(Base):
    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    rating: Mapped[Decimal] = mapped_column(Numeric(3, 1))  # 0.0 to 99.9


class City(Base):
    __tablename__ = "cities"
    id: Mapped[int] = mapped_column(primary_key=True)
    country_id: Mapped[int] = mapped_column(ForeignKey("countries.id"))  # no relationship
"""

FACTORIES = """
import itertools

from aksara_testing import Factory, Faker
from models import Author, Book, City, Event, Everything, Publisher, Review

_stamps = itertools.count()


class AuthorFactory(Factory):
    class Meta:
        model = Author

    name = Factory.Sequence(lambda n: f"author{n}")
    email = Faker("email")
    is_admin = False

    class Params:
        admin = Factory.Trait(is_admin=True, email="admin@example.com")


class BookFactory(Factory):
    class Meta:
        model = Book

    title = Factory.Faker("pystr", min_chars=12, max_chars=12)
    author = Factory.SubFactory(AuthorFactory, email="writer@example.com")


class TitledBookFactory(BookFactory):
    title = Factory.LazyAttribute(lambda o: f"by {o.author.name}")


class StampedAuthorFactory(AuthorFactory):
    name = Factory.LazyFunction(lambda: f"stamp{next(_stamps)}")


class LoudAuthorFactory(Factory):
    class Meta:
        model = Author
        exclude = ("first",)

    first = Factory.Sequence(lambda n: f"ann{n}")
    name = Factory.LazyAttribute(lambda o: o.first.upper() if o.shouting else o.first)

    class Params:
        shouting = False


class NamedFactory(Factory):
    class Meta:
        abstract = True

    name = Factory.Sequence(lambda n: f"named{n}")
    email = "named@example.com"


class NamedAuthorFactory(NamedFactory):
    class Meta:
        model = Author


class ProlificAuthorFactory(AuthorFactory):
    debut = Factory.RelatedFactory(BookFactory, "author", title="Debut")


class WatchedAuthorFactory(AuthorFactory):
    @Factory.post_generation
    def seen(obj, create, extracted, **kwargs):
        obj.seen = (create, extracted, kwargs)


class AuthorWithBooksFactory(AuthorFactory):
    @Factory.post_generation
    async def books(obj, create, extracted, **kwargs):
        if create and extracted:
            await BookFactory.create_batch(extracted, author=obj, **kwargs)


class PublisherFactory(Factory):
    class Meta:
        model = Publisher

    name = Factory.Sequence(lambda n: f"pub{n}")


class EverythingFactory(Factory):
    class Meta:
        model = Everything


class EventFactory(Factory):
    class Meta:
        model = Event


class ReviewFactory(Factory):
    class Meta:
        model = Review


class CityFactory(Factory):
    class Meta:
        model = City
"""


def _factory_project(project: Project, **files: str) -> None:
    project.pytester.makepyfile(models=MODELS, factories=FACTORIES, **files)


def _xfail_on(request: pytest.FixtureRequest, project: Project, backend: str, reason: str) -> None:
    if project.backend == backend:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


# -- in-process models: what needs no database is tested without a pytester run -----


class _Base(DeclarativeBase):
    pass


class Member(_Base):
    __tablename__ = "members"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    is_admin: Mapped[bool] = mapped_column(default=False)


class MemberFactory(Factory[Member]):
    class Meta:
        model = Member

    name = Faker("first_name")

    class Params:
        admin = Factory.Trait(is_admin=True)


class Preference(_Base):
    __tablename__ = "preferences"
    id: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class PreferenceFactory(Factory[Preference]):
    class Meta:
        model = Preference


# -- declarations ------------------------------------------------------------------


def test_values_faker_sequence_and_lazy_declarations_fill_created_objects(
    project: Project,
) -> None:
    _factory_project(
        project,
        test_it="""
        from factories import AuthorFactory, BookFactory, StampedAuthorFactory, TitledBookFactory

        async def test_plain_values_faker_and_sequence(db_session):
            authors = await AuthorFactory.create_batch(3)
            assert [a.name for a in authors] == ["author0", "author1", "author2"]
            assert all("@" in a.email for a in authors)
            assert len({a.email for a in authors}) == 3
            assert [a.is_admin for a in authors] == [False] * 3

        async def test_factory_faker_passes_its_keyword_arguments(db_session):
            titles = [b.title for b in await BookFactory.create_batch(3)]
            assert [len(t) for t in titles] == [12, 12, 12]

        async def test_lazy_attribute_sees_the_other_attributes(db_session):
            book = await TitledBookFactory.create(author__name="Ann")
            assert book.title == "by Ann"

        async def test_lazy_function_runs_for_every_object(db_session):
            names = [a.name for a in await StampedAuthorFactory.create_batch(2)]
            assert names[0] != names[1] and all(n.startswith("stamp") for n in names)
        """,
    )
    project.run().assert_outcomes(passed=4)


def test_sub_factory_takes_its_keywords_and_double_underscore_overrides(
    project: Project,
) -> None:
    _factory_project(
        project,
        test_it="""
        from factories import AuthorFactory, BookFactory
        from helpers import count
        from models import Book

        async def test_sub_factory_creates_the_parent(db_session):
            book = await BookFactory.create()
            assert book.author.email == "writer@example.com"
            assert book.author.id is not None and book.author_id == book.author.id
            assert await count(db_session) == 1

        async def test_double_underscore_overrides_reach_the_parent(db_session):
            book = await BookFactory.create(author__name="Ann", author__email="ann@x.org")
            assert (book.author.name, book.author.email) == ("Ann", "ann@x.org")

        async def test_double_underscore_trait_reaches_the_parent(db_session):
            book = await BookFactory.create(author__admin=True)
            assert book.author.is_admin

        async def test_each_object_of_a_batch_gets_its_own_parent(db_session):
            books = await BookFactory.create_batch(3)
            assert len({b.author_id for b in books}) == 3
            assert await count(db_session) == 3

        async def test_a_given_parent_is_shared_by_the_batch(db_session):
            shared = await AuthorFactory.create()
            books = await BookFactory.create_batch(3, author=shared)
            assert {b.author_id for b in books} == {shared.id}
            assert await count(db_session) == 1
            assert await count(db_session, Book) == 3
        """,
    )
    project.run().assert_outcomes(passed=5)


def test_traits_params_exclude_abstract_and_inheritance(project: Project) -> None:
    _factory_project(
        project,
        test_it="""
        import pytest
        from aksara_testing import FactoryError
        from factories import (
            AuthorFactory, LoudAuthorFactory, NamedAuthorFactory, NamedFactory,
            StampedAuthorFactory,
        )

        async def test_a_trait_applies_its_values(db_session):
            admin = await AuthorFactory.create(admin=True)
            plain = await AuthorFactory.create()
            assert (admin.is_admin, admin.email) == (True, "admin@example.com")
            assert not plain.is_admin and plain.email != "admin@example.com"

        async def test_an_override_beats_the_trait(db_session):
            author = await AuthorFactory.create(admin=True, email="me@example.com")
            assert (author.is_admin, author.email) == (True, "me@example.com")
            demoted = await AuthorFactory.create(admin=True, is_admin=False)
            assert not demoted.is_admin

        async def test_a_trait_set_to_false_is_off(db_session):
            assert not (await AuthorFactory.create(admin=False)).is_admin

        async def test_plain_params_feed_lazy_attributes_and_excluded_fields(db_session):
            quiet = await LoudAuthorFactory.create()
            loud = await LoudAuthorFactory.create(shouting=True)
            assert (quiet.name, loud.name) == ("ann0", "ANN1")
            assert not hasattr(loud, "shouting") and not hasattr(loud, "first")
            assert (await LoudAuthorFactory.create(first="bo")).name == "bo"

        async def test_abstract_factories_are_inherited_not_used(db_session):
            author = await NamedAuthorFactory.create()
            assert (author.name, author.email) == ("named0", "named@example.com")
            with pytest.raises(FactoryError, match="NamedFactory is abstract"):
                NamedFactory.build()

        async def test_subclasses_inherit_and_override(db_session):
            author = await StampedAuthorFactory.create(admin=True)
            assert author.name.startswith("stamp")          # overridden
            assert "@" in author.email and author.is_admin   # inherited, trait too
        """,
    )
    project.run().assert_outcomes(passed=6)


def test_related_factories_and_post_generation_hooks(project: Project) -> None:
    _factory_project(
        project,
        test_it="""
        import pytest
        from aksara_testing import FactoryError
        from factories import AuthorWithBooksFactory, ProlificAuthorFactory, WatchedAuthorFactory
        from helpers import count
        from models import Book
        from sqlalchemy import select

        async def test_related_factory_creates_objects_pointing_back(db_session):
            author = await ProlificAuthorFactory.create()
            book = (await db_session.scalars(select(Book))).one()
            assert (book.author_id, book.title) == (author.id, "Debut")

        async def test_related_factory_builds_without_the_database(db_session):
            author = ProlificAuthorFactory.build()
            assert [b.title for b in author.books] == ["Debut"]
            assert await count(db_session, Book) == 0

        async def test_sync_hook_gets_create_extracted_and_kwargs(db_session):
            built = WatchedAuthorFactory.build()
            assert built.seen == (False, None, {})
            created = await WatchedAuthorFactory.create(seen="x", seen__level=2)
            assert created.seen == (True, "x", {"level": 2})
            assert created.id is not None

        async def test_async_hook_runs_after_the_object_is_created(db_session):
            author = await AuthorWithBooksFactory.create(books=2, books__title="Sequel")
            rows = (await db_session.execute(select(Book.author_id, Book.title))).all()
            assert rows == [(author.id, "Sequel"), (author.id, "Sequel")]
            assert (await AuthorWithBooksFactory.create()).name == "author1"
            assert await count(db_session, Book) == 2

        async def test_async_hook_refuses_build(db_session):
            with pytest.raises(FactoryError, match="async post-generation hook"):
                AuthorWithBooksFactory.build()
        """,
    )
    project.run().assert_outcomes(passed=5)


def test_related_factory_overrides_replace_its_declared_keywords(project: Project) -> None:
    _factory_project(
        project,
        test_it="""
        from factories import ProlificAuthorFactory
        from models import Book
        from sqlalchemy import select

        async def test_override(db_session):
            await ProlificAuthorFactory.create_batch(2, debut__title="Other")
            titles = (await db_session.scalars(select(Book.title))).all()
            assert titles == ["Other", "Other"]
        """,
    )
    project.run().assert_outcomes(passed=1)


# -- strategies ----------------------------------------------------------------------


def test_build_and_build_batch_write_nothing_and_create_no_database(project: Project) -> None:
    _factory_project(
        project,
        test_it="""
        from aksara_testing import count_queries
        from factories import AuthorFactory, BookFactory
        from models import Author, Book

        def test_build_in_a_sync_test():
            author = AuthorFactory.build(name="Ann")
            assert isinstance(author, Author) and author.name == "Ann"
            assert author.id is None

        async def test_build_batch_in_an_async_test():
            with count_queries() as queries:
                books = BookFactory.build_batch(3)
            assert queries.count == 0
            assert all(isinstance(b, Book) and b.id is None for b in books)
            assert len({id(b.author) for b in books}) == 3
            assert [b.author.name for b in books] == ["author0", "author1", "author2"]
            assert all(b.author_id is None for b in books)
        """,
    )
    result = project.run()
    result.assert_outcomes(passed=2)
    assert not [line for line in result.outlines if line.startswith("aksara: test database")]
    assert not list(project.pytester.path.glob("*.db"))


def test_created_rows_are_visible_everywhere_and_gone_in_the_next_test(project: Project) -> None:
    _factory_project(
        project,
        test_it="""
        from factories import AuthorFactory, BookFactory
        from helpers import app_count, count
        from models import Book

        async def test_create_and_create_batch(db_session):
            book = await BookFactory.create()
            authors = await AuthorFactory.create_batch(3)
            assert await count(db_session) == 4
            assert await count(db_session, Book) == 1
            assert await app_count() == 4

        async def test_keys_and_server_defaults_are_on_the_returned_objects(db_session):
            authors = await AuthorFactory.create_batch(3)
            book = await BookFactory.create()
            assert len({a.id for a in authors}) == 3 and None not in {a.id for a in authors}
            assert [a.status for a in authors] == ["new"] * 3
            assert book.id is not None and book.author_id == book.author.id
            assert book.author.status == "new"

        async def test_the_rows_are_gone(db_session):
            assert await count(db_session) == 0
            assert await count(db_session, Book) == 0
            assert await app_count() == 0

        async def test_created_outside_db_session_too():
            await AuthorFactory.create()
            assert await app_count() == 1
        """,
    )
    project.run().assert_outcomes(passed=4)


def test_objects_created_in_scoped_fixtures_live_as_long_as_the_scope(project: Project) -> None:
    _factory_project(
        project,
        conftest="""
        import pytest
        from factories import AuthorFactory

        @pytest.fixture(scope="session")
        async def session_author():
            return await AuthorFactory.create(name="session")
        """,
        test_a="""
        import pytest
        from factories import AuthorFactory, BookFactory
        from helpers import names

        @pytest.fixture(scope="module")
        async def module_books(session_author):
            return [
                await BookFactory.create(author__name="module0"),
                await BookFactory.create(author__name="module1"),
            ]

        async def test_sees_session_and_module_rows(db_session, module_books):
            assert module_books[0].id is not None
            await AuthorFactory.create(name="test")
            assert await names(db_session) == ["module0", "module1", "session", "test"]

        async def test_sees_them_again_without_the_test_row(db_session, module_books):
            assert await names(db_session) == ["module0", "module1", "session"]
        """,
        test_b="""
        from helpers import names

        async def test_only_the_session_row_is_left(db_session, session_author):
            assert session_author.id is not None
            assert await names(db_session) == ["session"]
        """,
    )
    project.run().assert_outcomes(passed=3)


def test_create_batch_writes_one_insert_per_table(project: Project) -> None:
    _factory_project(
        project,
        test_it="""
        from aksara_testing import count_queries
        from factories import BookFactory

        async def test_fifty_books(db_session):
            with count_queries() as queries:
                books = await BookFactory.create_batch(50)
            inserts = [s.split(" (")[0] for s in queries.statements if s.startswith("INSERT")]
            assert inserts == ["INSERT INTO authors", "INSERT INTO books"], (
                f"{queries.count} statements: " + ", ".join(sorted(set(inserts)))
            )
            assert len({b.id for b in books}) == 50
            assert len({b.author.id for b in books}) == 50
            # The server default (Author.status) is on every object without another query.
            with count_queries() as later:
                assert {b.author.status for b in books} == {"new"}
            assert later.count == 0
        """,
    )
    project.run().assert_outcomes(passed=1)


# -- auto-fill ------------------------------------------------------------------------


def test_auto_fill_makes_a_thousand_valid_rows_of_twenty_column_types(project: Project) -> None:
    _factory_project(
        project,
        test_it="""
        import datetime
        import uuid
        from decimal import Decimal

        from sqlalchemy import func, select
        from factories import EverythingFactory
        from models import Color, Country, Everything, Publisher

        async def test_a_thousand(db_session):
            rows = await EverythingFactory.create_batch(1000)
            assert await db_session.scalar(select(func.count()).select_from(Everything)) == 1000
            for column in Everything.__table__.columns:
                limit = getattr(column.type, "length", None)
                if limit and isinstance(getattr(rows[0], column.key), str):
                    longest = max(len(getattr(row, column.key)) for row in rows)
                    assert longest <= limit, (column.key, longest, limit)
            assert len({row.code for row in rows}) == 1000
            assert len({row.slug for row in rows}) == 1000
            row = rows[0]
            assert isinstance(row.body, str) and isinstance(row.count, int)
            assert isinstance(row.price, Decimal) and isinstance(row.flag, bool)
            assert isinstance(row.day, datetime.date) and isinstance(row.at, datetime.time)
            assert isinstance(row.moment, datetime.datetime)
            assert isinstance(row.span, datetime.timedelta)
            assert isinstance(row.color, Color) and row.data is not None
            assert isinstance(row.blob, bytes) and isinstance(row.token, uuid.UUID)
            # required foreign keys: a parent each, from PublisherFactory when there is one
            assert len({row.country_id for row in rows}) == 1000
            assert len({row.publisher_id for row in rows}) == 1000
            assert all(row.publisher.name.startswith("pub") for row in rows)
            assert await db_session.scalar(select(func.count()).select_from(Country)) == 1000
            assert await db_session.scalar(select(func.count()).select_from(Publisher)) == 1000

        async def test_the_next_test_can_fill_the_same_values_again(db_session):
            assert len(await EverythingFactory.create_batch(10)) == 10
        """,
    )
    project.run().assert_outcomes(passed=2)


def test_auto_fill_gives_plain_datetime_columns_a_naive_value(
    project: Project, request: pytest.FixtureRequest
) -> None:
    _factory_project(
        project,
        test_it="""
        from factories import EventFactory

        async def test_events(db_session):
            events = await EventFactory.create_batch(3)
            assert all(e.happened_at is not None for e in events)
        """,
    )
    project.run().assert_outcomes(passed=1)


def test_auto_fill_respects_numeric_precision(project: Project) -> None:
    _factory_project(
        project,
        test_it="""
        from factories import ReviewFactory

        async def test_reviews(db_session):
            reviews = await ReviewFactory.create_batch(200)
            assert all(abs(r.rating) < 100 for r in reviews)
        """,
    )
    project.run().assert_outcomes(passed=1)


def test_a_bare_required_foreign_key_is_a_clear_error(project: Project) -> None:
    _factory_project(
        project,
        test_it="""
        import pytest
        from aksara_testing import FactoryError
        from factories import CityFactory

        async def test_city(db_session):
            with pytest.raises(FactoryError, match="required foreign key 'country_id' has no"):
                await CityFactory.create()
        """,
    )
    project.run().assert_outcomes(passed=1)


def test_auto_fill_gives_json_columns_a_dict() -> None:
    assert isinstance(PreferenceFactory.build().data, dict)


# -- seeded data and sequences --------------------------------------------------------

SEEDED_TESTS = """
import json

import pytest
from factories import AuthorFactory, BookFactory


def record(request, values):
    with open("values.jsonl", "a") as out:
        out.write(json.dumps({"test": request.node.name, "values": values}) + "\\n")


@pytest.fixture(scope="module")
def module_emails():
    return [a.email for a in AuthorFactory.build_batch(2)]


@pytest.fixture
def titles():
    return [b.title for b in BookFactory.build_batch(2)]


def test_one(request):
    record(request, [a.email for a in AuthorFactory.build_batch(3)])


def test_two(request, module_emails, titles):
    record(request, module_emails + titles + [a.email for a in AuthorFactory.build_batch(5)])


class TestThree:
    def test_three(self, request):
        record(request, [a.email for a in AuthorFactory.build_batch(2)])
"""


def _seeded_values(project: Project, *args: str) -> dict[str, list[Any]]:
    values = project.pytester.path / "values.jsonl"
    values.unlink(missing_ok=True)
    result = project.pytester.runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == 0, result.stdout.str()
    lines = [json.loads(line) for line in values.read_text().splitlines()]
    return {line["test"]: line["values"] for line in lines}


def test_the_same_seed_gives_a_test_the_same_data_in_any_order(sqlite_project: Project) -> None:
    _factory_project(sqlite_project, test_it=SEEDED_TESTS)
    seed = ("--aksara-seed", "1234")
    every = _seeded_values(sqlite_project, "-p", "no:randomly", *seed)
    assert list(every) == ["test_one", "test_two", "test_three"]
    for name in every:  # each test alone
        assert _seeded_values(sqlite_project, "-p", "no:randomly", "-k", name, *seed) == {
            name: every[name]
        }
    reversed_order = _seeded_values(
        sqlite_project,
        "-p",
        "no:randomly",
        *seed,
        "test_it.py::TestThree::test_three",
        "test_it.py::test_two",
        "test_it.py::test_one",
    )
    assert list(reversed_order) == ["test_three", "test_two", "test_one"]
    assert reversed_order == every
    orders = set()
    for shuffle in ("1", "2", "3", "4"):
        shuffled = _seeded_values(
            sqlite_project, "-p", "randomly", f"--randomly-seed={shuffle}", *seed
        )
        assert shuffled == every
        orders.add(tuple(shuffled))
    assert len(orders) > 1, "pytest-randomly did not reorder the tests"
    other = _seeded_values(sqlite_project, "-p", "no:randomly", "--aksara-seed", "99")
    assert all(other[name] != every[name] for name in every)


def test_the_seed_is_shown_in_the_header(sqlite_project: Project) -> None:
    sqlite_project.pytester.makepyfile(test_it="def test_ok(): pass")
    result = sqlite_project.run("--aksara-seed", "1234")
    result.stdout.fnmatch_lines(["aksara: *, seed 1234"])


def test_sequences_restart_per_test_from_the_enclosing_scope(project: Project) -> None:
    _factory_project(
        project,
        test_a="""
        import pytest
        from factories import AuthorFactory

        @pytest.fixture(scope="module")
        async def two_authors():
            return await AuthorFactory.create_batch(2)

        async def test_first_test_continues_after_the_module_fixture(two_authors):
            assert [a.name for a in two_authors] == ["author0", "author1"]
            assert (await AuthorFactory.create()).name == "author2"
            await AuthorFactory.create_batch(3)

        async def test_next_test_starts_there_again(two_authors):
            assert (await AuthorFactory.create()).name == "author2"

        class TestInAClass:
            async def test_so_does_a_test_in_a_class(self, two_authors):
                assert (await AuthorFactory.create()).name == "author2"
        """,
        test_b="""
        from factories import AuthorFactory

        async def test_another_module_starts_from_zero():
            assert (await AuthorFactory.create()).name == "author0"
        """,
    )
    project.run().assert_outcomes(passed=4)


def test_sequences_continue_after_session_scoped_fixtures(project: Project) -> None:
    _factory_project(
        project,
        conftest="""
        import pytest
        from factories import AuthorFactory

        @pytest.fixture(scope="session")
        async def first_author():
            return await AuthorFactory.create()
        """,
        test_it="""
        from factories import AuthorFactory

        async def test_continues(first_author):
            assert first_author.name == "author0"
            assert (await AuthorFactory.create()).name == "author1"
        """,
    )
    project.run().assert_outcomes(passed=1)


def test_a_subclass_factory_of_the_same_model_shares_its_parents_sequence(
    project: Project,
) -> None:
    """As in factory_boy: a test using both never repeats a value of a unique column."""
    _factory_project(
        project,
        test_it="""
        from aksara_testing import Factory
        from models import Author

        class MemberFactory(Factory):
            class Meta:
                model = Author

            name = Factory.Sequence(lambda n: f"member{n}@example.com")

        class BorrowerFactory(MemberFactory):  # inherits Meta.model
            is_admin = False

        class LibrarianFactory(MemberFactory):  # names the same model again
            class Meta:
                model = Author

            is_admin = True

        async def test_parent_and_subclasses_draw_from_one_counter(db_session):
            member = await MemberFactory.create()
            borrowers = await BorrowerFactory.create_batch(2)
            librarian = await LibrarianFactory.create()
            last = await MemberFactory.create()
            names = [a.name for a in (member, *borrowers, librarian, last)]
            assert names == [f"member{n}@example.com" for n in range(5)]

        async def test_the_shared_counter_restarts_in_the_next_test(db_session):
            assert (await BorrowerFactory.create()).name == "member0@example.com"
            assert (await MemberFactory.create()).name == "member1@example.com"
        """,
    )
    project.run().assert_outcomes(passed=2)


class Card:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


class GoldCard(Card):
    pass


class Ticket:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


class CardFactory(Factory[Card]):
    class Meta:
        model = Card

    number = Factory.Sequence(lambda n: n)


class GoldCardFactory(CardFactory):
    class Meta:
        model = GoldCard


class TicketFactory(CardFactory):
    class Meta:
        model = Ticket


class GoldTicketFactory(TicketFactory):
    pass


class NumberedFactory(Factory[Any]):
    class Meta:
        abstract = True

    number = Factory.Sequence(lambda n: n)


class NumberedCardFactory(NumberedFactory):
    class Meta:
        model = Card


def _numbers(*factories: type[Factory[Any]]) -> list[int]:
    return [factory.build().number for factory in factories]


def test_a_subclass_factory_of_a_subclass_model_shares_the_counter_as_in_factory_boy() -> None:
    assert _numbers(CardFactory, GoldCardFactory, CardFactory, GoldCardFactory) == [0, 1, 2, 3]


def test_a_subclass_factory_of_another_model_counts_on_its_own() -> None:
    assert _numbers(CardFactory, CardFactory, TicketFactory, GoldTicketFactory) == [0, 1, 0, 1]


def test_a_factory_under_an_abstract_parent_without_a_model_counts_on_its_own() -> None:
    assert _numbers(CardFactory, NumberedCardFactory, NumberedCardFactory) == [0, 0, 1]


# -- models that are not SQLAlchemy's -------------------------------------------------


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Profile(pydantic.BaseModel):
    handle: str
    age: int


class PointFactory(Factory[Point]):
    class Meta:
        model = Point

    x = Factory.Sequence(lambda n: n)
    y = Faker("pyint", min_value=0, max_value=9)


class ProfileFactory(Factory[Profile]):
    class Meta:
        model = Profile

    handle = Faker("user_name")
    age = 30


class _Manager:
    """An async ``objects`` manager keeping rows in memory, like the seed's models."""

    def __init__(self, model: type) -> None:
        self.model = model
        self.rows: list[Any] = []

    async def create(self, **fields: Any) -> Any:
        return self.create_now(**fields)

    def create_now(self, **fields: Any) -> Any:
        row = self.model(**fields)
        row.id = len(self.rows) + 1
        self.rows.append(row)
        return row


class _SyncManager(_Manager):
    """A manager whose ``create`` is a plain function."""

    def create(self, **fields: Any) -> Any:  # type: ignore[override]
        return self.create_now(**fields)


class Person:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


class Note:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


class PersonFactory(Factory[Person]):
    class Meta:
        model = Person

    name = Faker("name")


class NoteFactory(Factory[Note]):
    class Meta:
        model = Note

    title = Factory.Sequence(lambda n: f"note{n}")


class AuthoredNoteFactory(NoteFactory):
    person = Factory.SubFactory(PersonFactory)


class MarkedNoteFactory(NoteFactory):
    @Factory.post_generation
    def marked(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
        obj.marked = True


@pytest.fixture(params=[_Manager, _SyncManager], ids=["async manager", "sync manager"])
def managers(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> tuple[_Manager, _Manager]:
    people, notes = request.param(Person), request.param(Note)
    monkeypatch.setattr(Person, "objects", people, raising=False)
    monkeypatch.setattr(Note, "objects", notes, raising=False)
    return people, notes


def test_dataclasses_and_pydantic_models_are_built() -> None:
    points = PointFactory.build_batch(2, y=5)
    assert points == [Point(0, 5), Point(1, 5)]
    assert 0 <= PointFactory.build().y <= 9
    profile = ProfileFactory.build(age=41)
    assert isinstance(profile, Profile) and profile.age == 41 and profile.handle


@pytest.mark.parametrize("factory", [PointFactory, ProfileFactory])
def test_create_on_a_model_that_cannot_be_saved_is_one_line_naming_the_factory(
    factory: type[Factory[Any]],
) -> None:
    with pytest.raises(FactoryError) as error:
        factory.create()
    message = str(error.value)
    assert message.startswith(f"{factory.__name__}.create() cannot save ")
    assert "build()" in message and "\n" not in message


async def test_a_model_with_an_objects_manager_is_created_through_it(
    managers: tuple[_Manager, _Manager],
) -> None:
    _, notes = managers
    created = await NoteFactory.create_batch(2, body="text")
    assert notes.rows == created
    assert [(n.id, n.title, n.body) for n in created] == [
        (1, "note0", "text"),
        (2, "note1", "text"),
    ]


def test_sync_code_creates_through_the_manager_without_await(
    managers: tuple[_Manager, _Manager],
) -> None:
    _, notes = managers
    created = NoteFactory.create_batch(2, body="text")
    assert notes.rows == created
    assert (NoteFactory.create().id, len(notes.rows)) == (3, 3)


async def test_post_generation_hooks_see_the_object_the_manager_created(
    managers: tuple[_Manager, _Manager],
) -> None:
    note = await MarkedNoteFactory.create()
    assert getattr(note, "marked", False)


async def test_sub_factory_parents_of_manager_models_are_created_through_their_manager(
    managers: tuple[_Manager, _Manager],
) -> None:
    people, _ = managers
    note = await AuthoredNoteFactory.create()
    assert people.rows == [note.person]


# -- errors -----------------------------------------------------------------------------


def _one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_field_the_model_lacks_is_refused_when_the_class_is_created() -> None:
    with pytest.raises(FactoryError) as error:

        class TypoFactory(Factory[Member]):
            class Meta:
                model = Member

            nmae = "x"

    assert _one_line(error) == (
        "TypoFactory declares 'nmae', which Member does not have; valid fields: id, is_admin, name"
    )


@pytest.mark.parametrize("strategy", ["build", "build_batch", "create"])
def test_an_unknown_override_is_refused_naming_fields_and_traits(strategy: str) -> None:
    call = {
        "build": lambda: MemberFactory.build(nmae="x"),
        "build_batch": lambda: MemberFactory.build_batch(2, nmae="x"),
        "create": lambda: MemberFactory.create(nmae="x"),
    }[strategy]
    with pytest.raises(FactoryError) as error:
        call()
    assert _one_line(error) == (
        "MemberFactory got unknown field or trait 'nmae'; fields: id, is_admin, name; traits: admin"
    )


def test_an_unknown_trait_is_refused() -> None:
    with pytest.raises(FactoryError) as error:
        MemberFactory.build(superuser=True)
    message = _one_line(error)
    assert message.startswith("MemberFactory got unknown field or trait 'superuser'")
    assert message.endswith("traits: admin")


def test_an_unknown_meta_option_is_refused_listing_the_valid_ones() -> None:
    with pytest.raises(FactoryError) as error:

        class SessionFactory(Factory[Member]):
            class Meta:
                model = Member
                sqlalchemy_session = None

    assert _one_line(error) == (
        "SessionFactory.Meta has unknown option 'sqlalchemy_session'; "
        "valid options: abstract, exclude, model"
    )


def test_a_factory_without_a_model_is_refused() -> None:
    with pytest.raises(FactoryError) as error:

        class ModellessFactory(Factory[Any]):
            name = "x"

    assert _one_line(error) == "ModellessFactory needs a model: add class Meta: model = YourModel"


def test_a_trait_naming_a_field_the_model_lacks_is_refused_when_the_class_is_created() -> None:
    with pytest.raises(FactoryError, match=r"BadTraitFactory.*'nmae'"):

        class BadTraitFactory(MemberFactory):
            class Params:
                renamed = Factory.Trait(nmae="x")


def test_an_unknown_faker_provider_is_refused_naming_the_factory_and_field() -> None:
    class ProviderTypoFactory(Factory[Member]):
        class Meta:
            model = Member

        name = Faker("nmae")

    with pytest.raises(FactoryError, match=r"ProviderTypoFactory\.name"):
        ProviderTypoFactory.build()


def test_create_batch_without_server_defaults_is_one_insert_per_table(
    sqlite_project: Project,
) -> None:
    sqlite_project.pytester.makepyfile(
        test_it="""
        from aksara_testing import Factory, Faker, count_queries
        from models import Author, Book

        class AuthorFactory(Factory):
            class Meta:
                model = Author
            name = Factory.Sequence(lambda n: f"author {n}")

        class BookFactory(Factory):
            class Meta:
                model = Book
            title = Faker("sentence")
            author_id = None

        async def test_batch(db_session):
            with count_queries() as queries:
                authors = await AuthorFactory.create_batch(100)
            inserts = [s for s in queries.statements if s.startswith("INSERT")]
            assert len(inserts) == 1
            assert len({a.id for a in authors}) == 100
        """
    )
    sqlite_project.run().assert_outcomes(passed=1)
