"""Stress: over 100 generated tests that write and commit in every way, shuffled by pytest-randomly.

Every generated test first checks that the tables hold exactly the rows its
scopes' fixtures wrote (session, package, sub-package, module, class,
function), then writes in one of the ways below. Any row that outlives its
scope, or any scope whose rows vanish too early, fails the next test that
checks. pytest-randomly reorders modules (across packages, so a package's
modules are interleaved with others'), classes and functions, per seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from textwrap import dedent, indent

import pytest
from conftest import Project

SEEDS = [1, 22, 333, 4444]

STRESS_HELPERS = '''
from sqlalchemy import select

from helpers import app_count, names
from models import Book


async def titles(session):
    return sorted((await session.scalars(select(Book.title))).all())


async def check(session, expected_names, expected_titles):
    """The tables hold exactly what the enclosing scopes wrote: no more, no less."""
    found = await names(session)
    assert found == expected_names, f"authors {found}, expected {expected_names}"
    found = await titles(session)
    assert found == expected_titles, f"books {found}, expected {expected_titles}"
    found = await app_count()
    assert found == len(expected_names), f"the app sees {found} authors"
'''

COMMON_IMPORTS = """
import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import IntegrityError

from appdb import SessionLocal
from helpers import app_count, app_creates, names
from models import Author, Book
from stress import check
"""

# How a scoped fixture writes its row (NAME), through db_session or the app's sessions.
FIXTURE_WRITES = {
    "commit": """
        db_session.add(Author(name=NAME))
        await db_session.commit()
    """,
    "app": """
        await app_creates(NAME)
    """,
    "flush": """
        db_session.add(Author(name=NAME))
        await db_session.flush()
    """,
    "nested": """
        async with db_session.begin_nested():
            db_session.add(Author(name=NAME))
        await db_session.commit()
    """,
    "app_begin": """
        async with SessionLocal.begin() as session:
            session.add(Author(name=NAME))
    """,
}

FUNCTION_FIXTURE = """

@pytest.fixture
async def function_rows(request):
    await app_creates(f"fn_{request.node.name}")
"""

# How a test writes; each ends by checking its write took effect. ``EXPECTED`` is
# the list of names the scopes hold.
TEST_WRITES = {
    "db_commit": """
        db_session.add(Author(name=NAME))
        await db_session.commit()
        assert NAME in await names(db_session)
    """,
    "app_commit": """
        await app_creates(NAME)
        assert NAME in await names(db_session)
        assert await app_count() == len(EXPECTED) + 1
    """,
    "nested_commit": """
        async with db_session.begin_nested():
            db_session.add(Author(name=NAME))
        await db_session.commit()
        assert NAME in await names(db_session)
    """,
    "nested_rollback": """
        nested = await db_session.begin_nested()
        db_session.add(Author(name=NAME + "_undone"))
        await db_session.flush()
        await nested.rollback()
        db_session.add(Author(name=NAME))
        await db_session.commit()
        got = await names(db_session)
        assert NAME in got and NAME + "_undone" not in got
    """,
    "begin_block": """
        await db_session.commit()  # ends the transaction the check began
        async with db_session.begin():
            db_session.add(Author(name=NAME))
        assert NAME in await names(db_session)
    """,
    "app_begin_block": """
        async with SessionLocal.begin() as session:
            session.add(Author(name=NAME))
        assert NAME in await names(db_session)
    """,
    "flush_only": """
        db_session.add(Author(name=NAME))
        await db_session.flush()
        assert NAME in await names(db_session)
    """,
    "explicit_rollback": """
        db_session.add(Author(name=NAME))
        await db_session.commit()
        db_session.add(Author(name=NAME + "_undone"))
        await db_session.flush()
        await db_session.rollback()
        got = await names(db_session)
        assert NAME in got and NAME + "_undone" not in got
    """,
    "app_nested": """
        async with SessionLocal() as session:
            async with session.begin_nested():
                session.add(Author(name=NAME))
            undone = await session.begin_nested()
            session.add(Author(name=NAME + "_undone"))
            await session.flush()
            await undone.rollback()
            await session.commit()
        got = await names(db_session)
        assert NAME in got and NAME + "_undone" not in got
    """,
    "delete_everything": """
        await db_session.execute(delete(Book))
        await db_session.execute(delete(Author))
        await db_session.commit()
        assert await names(db_session) == []
        assert await app_count() == 0
    """,
    "update_and_book": """
        author = Author(name=NAME)
        db_session.add(author)
        await db_session.flush()
        db_session.add(Book(title=NAME, author_id=author.id))
        await db_session.execute(
            update(Author).where(Author.name == "session").values(name="renamed")
        )
        await db_session.commit()
        got = await names(db_session)
        assert "renamed" in got and "session" not in got and NAME in got
    """,
    "raw_sql": """
        await db_session.execute(text("INSERT INTO authors (name) VALUES (:n)"), {"n": NAME})
        await db_session.commit()
        await app_creates(NAME + "_app")
        assert {NAME, NAME + "_app"} <= set(await names(db_session))
    """,
    "integrity_error": """
        db_session.add(Author(name="session"))
        with pytest.raises(IntegrityError):
            await db_session.flush()
        await db_session.rollback()
        db_session.add(Author(name=NAME))
        await db_session.commit()
        assert NAME in await names(db_session)
    """,
}


@dataclass
class Scope:
    """A scope's rows: names of authors and titles of books."""

    names: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)

    def plus(self, other: Scope) -> Scope:
        return Scope(self.names + other.names, self.titles + other.titles)


@dataclass
class Layout:
    """The generated files, the expected number of tests, and the order they are written in."""

    files: dict[str, str] = field(default_factory=dict)
    tests: int = 0
    modules: list[str] = field(default_factory=list)
    styles: set[str] = field(default_factory=set)


def _fixture_body(style: str, name: str, book: bool) -> str:
    body = dedent(FIXTURE_WRITES[style]).replace("NAME", repr(name))
    if book:
        body += dedent(
            f"""
            async with SessionLocal.begin() as session:
                author = Author(name={name + "_b"!r})
                session.add(author)
                await session.flush()
                session.add(Book(title={name!r}, author_id=author.id))
            """
        )
    return indent(body, "    ")


def _fixture(fixture: str, scope: str, style: str, name: str, *, autouse: bool, book: bool) -> str:
    return (
        f'\n@pytest.fixture(scope="{scope}"{", autouse=True" if autouse else ""})\n'
        f"async def {fixture}(db_session):\n{_fixture_body(style, name, book)}"
    )


def _written(name: str, book: bool) -> Scope:
    return Scope([name, name + "_b"], [name]) if book else Scope([name])


class Generator:
    """Writes the stress project: packages, modules, classes and tests."""

    def __init__(self) -> None:
        self.layout = Layout()
        self.counter = 0

    def next_style(self, styles: dict[str, str]) -> str:
        self.counter += 1
        keys = list(styles)
        style = keys[self.counter % len(keys)]
        self.layout.styles.add(style)
        return style

    def build(self) -> Layout:
        session = Scope(["session", "session_b"], ["session"])
        self.layout.files["conftest.py"] = COMMON_IMPORTS + dedent(
            """
            @pytest.fixture(scope="session", autouse=True)
            async def session_rows(db_session):
                author = Author(name="session")
                db_session.add(author)
                await db_session.flush()
                db_session.add(Book(title="session", author_id=author.id))
                db_session.add(Author(name="session_b"))
                await db_session.commit()
            """
        )
        self.layout.files["stress.py"] = STRESS_HELPERS
        for index in range(3):
            self.module(f"test_top{index}.py", session, with_fixture=index != 1)
        packages = {
            "pkg_a": ("app", None),
            "pkg_a/sub": ("flush", "pkg_a"),
            "pkg_b": ("nested", None),
            "pkg_c": (None, None),  # a package without a package fixture
        }
        scopes: dict[str, Scope] = {}
        for package, (style, parent) in packages.items():
            outer = scopes[parent] if parent else session
            conftest = COMMON_IMPORTS
            scope = outer
            if style is not None:
                name = package.replace("/", "_")
                book = package == "pkg_b"
                fixture = _fixture(
                    f"package_rows_{name}", "package", style, name, autouse=True, book=book
                )
                conftest += fixture
                scope = outer.plus(_written(name, book))
            scopes[package] = scope
            self.layout.files[f"{package}/__init__.py"] = ""
            self.layout.files[f"{package}/conftest.py"] = conftest
            for index in range(2):
                stem = f"test_{package.replace('/', '_')}{index}"
                self.module(f"{package}/{stem}.py", scope, with_fixture=index == 0)
        return self.layout

    def module(self, path: str, outer: Scope, *, with_fixture: bool) -> None:
        stem = path.rsplit("/", 1)[-1].removesuffix(".py")
        self.layout.modules.append(path)
        text = COMMON_IMPORTS
        scope = outer
        if with_fixture:
            name = f"m_{stem}"
            book = self.counter % 2 == 0
            style = self.next_style(FIXTURE_WRITES)
            text += _fixture("module_rows", "module", style, name, autouse=True, book=book)
            scope = outer.plus(_written(name, book))
        text += FUNCTION_FIXTURE
        for index in range(3):
            text += self.test(f"test_f{index}", scope, stem, in_class=False)
        for klass in ("TestWithRows", "TestPlain"):
            inner = scope
            if klass == "TestWithRows":
                name = f"c_{stem}"
                style = self.next_style(FIXTURE_WRITES)
                fixture = f"class_rows_{stem}"
                text += _fixture(fixture, "class", style, name, autouse=False, book=False)
                text += f'\n\n@pytest.mark.usefixtures("{fixture}")'
                inner = scope.plus(_written(name, False))
            text += f"\nclass {klass}:\n"
            for index in range(5):
                test = self.test(f"test_c{index}", inner, f"{stem}_{klass}", in_class=True)
                text += indent(test, "    ")
        self.layout.files[path] = text

    def test(self, test: str, scope: Scope, stem: str, *, in_class: bool) -> str:
        self.layout.tests += 1
        style = self.next_style(TEST_WRITES)
        uses_function_fixture = self.counter % 4 == 0
        expected = scope
        if uses_function_fixture:
            expected = scope.plus(Scope([f"fn_{test}"]))
        params = ["self"] if in_class else []
        params.append("db_session")
        if uses_function_fixture:
            params.append("function_rows")
        body = dedent(TEST_WRITES[style]).replace("NAME", repr(f"t_{stem}_{test}"))
        body = body.replace("EXPECTED", repr(sorted(expected.names)))
        head = f"await check(db_session, {sorted(expected.names)!r}, {sorted(expected.titles)!r})\n"
        return f"\n\nasync def {test}({', '.join(params)}):\n" + indent(head + body, "    ")


LAYOUT = Generator().build()


def test_the_generated_project_has_at_least_100_tests() -> None:
    assert LAYOUT.tests >= 100
    assert LAYOUT.styles == {*FIXTURE_WRITES, *TEST_WRITES}  # every way of writing is used
    for path, text in LAYOUT.files.items():
        compile(text, path, "exec")  # the generator writes valid Python


def write_project(project: Project) -> None:
    for path, text in LAYOUT.files.items():
        target = project.pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def module_order(output: str) -> list[str]:
    """The test modules in the order their tests ran (from ``-v`` output)."""
    order: list[str] = []
    for match in re.finditer(r"^(\S+\.py)::\S+ PASSED", output, re.MULTILINE):
        if not order or order[-1] != match.group(1):
            order.append(match.group(1))
    return order


@pytest.mark.parametrize("seed", SEEDS)
def test_every_test_sees_only_its_scopes_rows_in_any_order(project: Project, seed: int) -> None:
    write_project(project)
    result = project.pytester.runpytest(
        "-p", "randomly", f"--randomly-seed={seed}", "-p", "no:cacheprovider", "-v"
    )
    result.assert_outcomes(passed=LAYOUT.tests)
    order = module_order(result.stdout.str())
    # Shuffled: the modules ran in an order other than the one they were written in,
    # and each module's tests ran together.
    assert sorted(order) == sorted(LAYOUT.modules)
    assert order != sorted(LAYOUT.modules)
