"""``create_batch`` writes new rows past the unit of work; the objects must not be able to tell.

Where a model or session has something only a flush honours (events, validators,
a custom constructor, many-to-many rows, rows of one table referring to each
other, objects already pending in the session), the rows must come out exactly
as a flush writes them.
"""

from __future__ import annotations

import pytest
from conftest import Project

MODELS = """
import datetime
import uuid

from sqlalchemy import Column, ForeignKey, String, Table, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates


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


book_tags = Table(
    "book_tags",
    Base.metadata,
    Column("book_id", ForeignKey("books.id"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id"), primary_key=True),
)


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("authors.id"), default=None)
    author: Mapped[Author | None] = relationship(back_populates="books")
    tags: Mapped[list["Tag"]] = relationship(secondary=book_tags)


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(20))


class Token(Base):  # key and a column from Python-side defaults
    __tablename__ = "tokens"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    issued: Mapped[datetime.datetime] = mapped_column(
        default=lambda: datetime.datetime(2020, 1, 2, 3, 4, 5)
    )
    owner_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))
    owner: Mapped[Author] = relationship()


class Category(Base):  # rows of one table referring to each other
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    parent: Mapped["Category | None"] = relationship(remote_side=[id])


class Slugged(Base):
    __tablename__ = "slugged"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(20))

    @validates("slug")
    def _lower(self, key, value):
        return value.lower()


class Stamped(Base):
    __tablename__ = "stamped"
    id: Mapped[int] = mapped_column(primary_key=True)
    note: Mapped[str | None] = mapped_column(String(20))


@event.listens_for(Stamped, "before_insert")
def _stamp(mapper, connection, target):
    target.note = "from the event"


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(3))

    def __init__(self, **fields):
        super().__init__(**fields)
        self.code = self.title[:3].upper()
"""

FACTORIES = """
from aksara_testing import Factory, Faker
from models import Author, Book, Category, Slugged, Stamped, Tag, Ticket, Token


class AuthorFactory(Factory):
    class Meta:
        model = Author

    name = Factory.Sequence(lambda n: f"author{n}")


class BookFactory(Factory):
    class Meta:
        model = Book

    title = Factory.Sequence(lambda n: f"book{n}")
    author = Factory.SubFactory(AuthorFactory)


class TagFactory(Factory):
    class Meta:
        model = Tag

    label = Factory.Sequence(lambda n: f"tag{n}")


class TokenFactory(Factory):
    class Meta:
        model = Token

    owner = Factory.SubFactory(AuthorFactory)


class CategoryFactory(Factory):
    class Meta:
        model = Category

    name = Factory.Sequence(lambda n: f"cat{n}")
    parent = Factory.SubFactory("factories.CategoryFactory", parent=None)


class SluggedFactory(Factory):
    class Meta:
        model = Slugged

    slug = Factory.Sequence(lambda n: f"SLUG-{n}")


class StampedFactory(Factory):
    class Meta:
        model = Stamped


class TicketFactory(Factory):
    class Meta:
        model = Ticket

    title = Factory.Sequence(lambda n: f"ticket{n}")
"""


def _project(project: Project, test: str) -> None:
    project.pytester.makepyfile(models=MODELS, factories=FACTORIES, test_it=test)


def test_batch_objects_are_persistent_rows_like_flushed_ones(project: Project) -> None:
    _project(
        project,
        """
        from sqlalchemy import func, inspect, select
        from aksara_testing import count_queries
        from factories import AuthorFactory, BookFactory, TokenFactory
        from models import Author, Book, Token

        async def test_rows(db_session):
            with count_queries() as queries:
                books = await BookFactory.create_batch(3)
            inserts = [s.split(" (")[0] for s in queries.statements if s.startswith("INSERT")]
            assert inserts == ["INSERT INTO authors", "INSERT INTO books"]
            assert all(inspect(b).persistent and inspect(b.author).persistent for b in books)
            assert books[0].id < books[1].id < books[2].id  # keys in the order made
            assert await db_session.get(Book, books[0].id) is books[0]  # one identity map
            assert not db_session.new and not db_session.dirty and books[1] in db_session
            with count_queries() as later:
                author = books[0].author
                assert author.books == [books[0]]  # the other side of the link, loaded
                assert (author.email, author.is_admin, author.status) == (None, False, "new")
                assert books[0].author_id == author.id
            assert later.count == 0

            books[0].title = "Changed"  # later changes flush as updates
            await db_session.delete(books[1])
            await db_session.flush()
            titles = (await db_session.scalars(select(Book.title).order_by(Book.id))).all()
            assert titles == ["Changed", "book2"]

        async def test_python_defaults_are_on_the_objects(db_session):
            tokens = await TokenFactory.create_batch(2)
            assert len({t.id for t in tokens}) == 2 and None not in {t.id for t in tokens}
            stored = (await db_session.execute(select(Token.id, Token.issued))).all()
            assert sorted(stored) == sorted((t.id, t.issued) for t in tokens)
            assert tokens[0].issued.year == 2020

        async def test_existing_and_new_parents(db_session):
            existing = await BookFactory.create()
            more = await BookFactory.create_batch(2, author=existing.author)
            assert {b.author_id for b in more} == {existing.author.id}
            author = await AuthorFactory.create(books=[Book(title="x"), Book(title="y")])
            rows = (await db_session.execute(
                select(Book.title, Book.author_id).where(Book.author_id == author.id)
            )).all()
            assert sorted(rows) == [("x", author.id), ("y", author.id)]
            assert await db_session.scalar(select(func.count()).select_from(Author)) == 2

        async def test_none_stands_for_the_default_as_in_a_flush(db_session):
            author = await AuthorFactory.create(status=None, is_admin=None, email=None)
            assert (author.status, author.is_admin, author.email) == ("new", False, None)
            row = (await db_session.execute(
                select(Author.status, Author.is_admin, Author.email).where(Author.id == author.id)
            )).one()
            assert tuple(row) == ("new", False, None)

        async def test_nothing_is_left(db_session):
            assert await db_session.scalar(select(func.count()).select_from(Book)) == 0
        """,
    )
    project.run().assert_outcomes(passed=5)


def test_what_only_a_flush_honours_is_still_honoured(project: Project) -> None:
    _project(
        project,
        """
        from sqlalchemy import event, select
        from factories import (
            AuthorFactory, BookFactory, CategoryFactory, SluggedFactory, StampedFactory,
            TagFactory, TicketFactory,
        )
        from models import Author, Book, Category, book_tags

        async def test_many_to_many_rows(db_session):
            book = await BookFactory.create(tags=TagFactory.build_batch(2))
            rows = (await db_session.execute(select(book_tags.c.book_id))).all()
            assert [r.book_id for r in rows] == [book.id, book.id]

        async def test_rows_referring_to_their_own_table(db_session):
            child = await CategoryFactory.create()
            assert child.parent_id == child.parent.id and child.parent.parent_id is None

        async def test_validators_custom_constructors_and_insert_events(db_session):
            assert [s.slug for s in await SluggedFactory.create_batch(2)] == ["slug-0", "slug-1"]
            assert (await TicketFactory.create()).code == "TIC"
            assert (await StampedFactory.create()).note == "from the event"

        async def test_session_flush_listeners(db_session):
            seen = []
            listener = lambda session, context, instances: seen.append(len(session.new))
            event.listen(db_session.sync_session, "before_flush", listener)
            books = await BookFactory.create_batch(3)
            assert seen == [6]
            assert [b.author_id for b in books] == [b.author.id for b in books]
            stored = (await db_session.execute(select(Book.author_id).order_by(Book.id))).all()
            assert [r.author_id for r in stored] == [b.author.id for b in books]

        async def test_session_lifecycle_listeners(db_session):
            seen = []
            listener = lambda session, instance: seen.append(type(instance).__name__)
            event.listen(db_session.sync_session, "pending_to_persistent", listener)
            await BookFactory.create_batch(2)
            assert sorted(seen) == ["Author", "Author", "Book", "Book"]

        async def test_objects_built_inside_a_create_are_ordinary(db_session):
            from aksara_testing import Factory

            kept = []

            class KeepingTagFactory(TagFactory):
                label = Factory.LazyFunction(lambda: kept.append(BookFactory.build()) or "kept")

            await KeepingTagFactory.create()
            spare = kept[0]  # built, with its author, while the tag was being created
            db_session.add(spare)
            await db_session.flush()
            assert spare.author.id is not None and spare.author_id == spare.author.id
            assert spare.author.books == [spare]

        async def test_objects_already_pending_in_the_session(db_session):
            pending = Author(name="pending")
            db_session.add(pending)
            book = await BookFactory.create(author=pending)
            assert pending.id is not None and book.author_id == pending.id
            assert pending.books == [book]
        """,
    )
    project.run().assert_outcomes(passed=7)


TYPED_MODELS = """
import datetime
import decimal
import enum
import uuid

from sqlalchemy import JSON, BigInteger, Computed, Enum, LargeBinary, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Mood(enum.Enum):
    calm = "calm"
    busy = "busy"


class Plain(Base):  # only types the driver takes as they are
    __tablename__ = "plain"
    id: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int]
    doubled: Mapped[int] = mapped_column(Computed("n * 2", persisted=True))
    label: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)
    big: Mapped[int] = mapped_column(BigInteger)
    ratio: Mapped[float]
    price: Mapped[decimal.Decimal] = mapped_column(Numeric(10, 2))
    day: Mapped[datetime.date]
    at: Mapped[datetime.datetime]
    clock: Mapped[datetime.time]
    ref: Mapped[uuid.UUID]
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    flag: Mapped[bool]
    note: Mapped[str | None] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(10), default="plain")


class Keyed(Base):  # the key from Python, a column from the server
    __tablename__ = "keyed"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    n: Mapped[int]
    doubled: Mapped[int] = mapped_column(Computed("n * 2", persisted=True))


class Mixed(Base):  # types with their own conversion
    __tablename__ = "mixed"
    id: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int]
    flag: Mapped[bool]
    mood: Mapped[Mood] = mapped_column(Enum(Mood))
    data: Mapped[dict] = mapped_column(JSON)


class Contextual(Base):  # a default that reads the row being inserted
    __tablename__ = "contextual"
    id: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int]
    code: Mapped[str] = mapped_column(
        String(20), default=lambda context: f"n{context.get_current_parameters()['n']}"
    )
"""

TYPED_FACTORIES = """
import datetime
import decimal
import uuid

from aksara_testing import Factory
from models import Contextual, Keyed, Mixed, Mood, Plain


class PlainFactory(Factory):
    class Meta:
        model = Plain

    n = Factory.Sequence(lambda n: n)
    label = Factory.Sequence(lambda n: f"label{n}")
    body = "a longer text"
    big = 2**40
    ratio = 0.5
    price = decimal.Decimal("12.34")
    day = datetime.date(2024, 2, 29)
    at = datetime.datetime(2024, 2, 29, 12, 30, 15)
    clock = datetime.time(23, 59, 1)
    ref = Factory.LazyFunction(uuid.uuid4)
    blob = b"\\x00\\xff"
    flag = Factory.Sequence(lambda n: n % 2 == 0)


class KeyedFactory(Factory):
    class Meta:
        model = Keyed

    n = Factory.Sequence(lambda n: n)


class MixedFactory(Factory):
    class Meta:
        model = Mixed

    n = Factory.Sequence(lambda n: n)
    flag = True
    mood = Mood.busy
    data = Factory.LazyAttribute(lambda o: {"n": o.n})


class ContextualFactory(Factory):
    class Meta:
        model = Contextual

    n = Factory.Sequence(lambda n: n)
"""

TYPED_TESTS = """
from sqlalchemy import select
from aksara_testing import count_queries
from factories import ContextualFactory, KeyedFactory, MixedFactory, PlainFactory
from models import Contextual, Keyed, Mixed, Plain


async def stored(db_session, model):
    columns = model.__table__.c
    rows = (await db_session.execute(select(*columns))).all()
    return sorted(tuple(row) for row in rows)


def held(objects, model):
    return sorted(tuple(getattr(o, c.key) for c in model.__table__.c) for o in objects)


async def test_every_column_type_is_stored_as_the_objects_hold_it(db_session):
    made = [(PlainFactory, Plain), (KeyedFactory, Keyed), (MixedFactory, Mixed)]
    for factory, model in made + [(ContextualFactory, Contextual)]:
        with count_queries() as queries:
            objects = await factory.create_batch(3)
        inserts = [s for s in queries.statements if s.startswith("INSERT")]
        assert [s.split(" (")[0] for s in inserts] == [f"INSERT INTO {model.__tablename__}"]
        if (await db_session.connection()).dialect.name == "postgresql":  # arrays, or not
            assert ("FROM unnest(" in inserts[0]) == (model in (Plain, Keyed)), inserts[0]
        assert await stored(db_session, model) == held(objects, model)
        assert [o.n for o in objects] == [0, 1, 2]
    plain = (await db_session.scalars(select(Plain).order_by(Plain.id))).all()
    expected = [(n * 2, "plain", None) for n in range(3)]
    assert [(p.doubled, p.kind, p.note) for p in plain] == expected
    keyed = await KeyedFactory.create_batch(50, n=7)
    assert {k.doubled for k in keyed} == {14}
    contextual = await ContextualFactory.create_batch(2)
    assert [c.code for c in contextual] == ["n3", "n4"]
"""


def test_every_column_type_is_written_as_a_flush_writes_it(project: Project) -> None:
    project.pytester.makepyfile(models=TYPED_MODELS, factories=TYPED_FACTORIES, test_it=TYPED_TESTS)
    project.run().assert_outcomes(passed=1)


@pytest.mark.postgres
def test_values_the_column_cannot_hold_fail_as_in_a_flush(
    pytester: pytest.Pytester, postgres_url: str
) -> None:
    project = Project(pytester, "postgres", postgres_url)
    pytester.makepyfile(
        models=TYPED_MODELS,
        factories=TYPED_FACTORIES,
        test_it="""
        import decimal
        import pytest
        from sqlalchemy.exc import DBAPIError
        from factories import PlainFactory

        async def test_a_string_too_long_is_refused_not_cut(db_session):
            with pytest.raises(DBAPIError, match="value too long for type character varying"):
                await PlainFactory.create_batch(2, label="eleven char")

        async def test_a_number_too_large_is_refused(db_session):
            with pytest.raises(DBAPIError, match="numeric field overflow"):
                await PlainFactory.create_batch(2, price=decimal.Decimal("123456789.5"))
        """,
    )
    project.run().assert_outcomes(passed=2)
