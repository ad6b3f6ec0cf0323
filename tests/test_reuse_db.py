"""``--reuse-db`` and ``--create-db``, through real ``aksara test`` runs of a project.

A kept database is reused while the models are unchanged (and set up fast),
rebuilt when they change or when ``--create-db`` asks, and dropped after every
run without ``--reuse-db``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from app_process import AppProject, Outcome

EMAIL_MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    email: Mapped[str | None] = mapped_column(String(80), default=None)
"""

TEST_EMAIL = """
from sqlalchemy import select

from models import Author


async def test_the_new_column_works(db_session):
    db_session.add(Author(name="mailed", email="a@example.com"))
    await db_session.commit()
    assert await db_session.scalar(select(Author.email)) == "a@example.com"
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AppProject]:
    """A project on SQLite and, when a server is configured, on PostgreSQL."""
    server = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    project = AppProject(tmp_path, request.param, server)
    yield project
    project.drop_test_database()


def passed(outcome: Outcome, tests: int = 1) -> Outcome:
    assert outcome.code == 0, str(outcome)
    assert f"{tests} passed" in outcome.stdout, str(outcome)
    return outcome


def test_a_second_reuse_run_reuses_the_database(app: AppProject) -> None:
    first = passed(app.run("--reuse-db"))
    assert first.note == "created"
    assert app.test_database_exists()

    second = passed(app.run("--reuse-db"))
    assert second.note == "reused (schema unchanged)"
    assert second.database_url == first.database_url
    # The rows the first run committed were rolled back, not kept.
    assert app.read("seen.txt") == "0"
    assert app.test_database_exists()


def test_a_model_change_rebuilds_the_kept_database(app: AppProject) -> None:
    assert passed(app.run("--reuse-db")).note == "created"
    app.write("models.py", EMAIL_MODELS)
    app.write("test_email.py", TEST_EMAIL)

    rebuilt = passed(app.run("--reuse-db"), tests=2)
    assert rebuilt.note == "rebuilt (schema changed)"

    again = passed(app.run("--reuse-db"), tests=2)
    assert again.note == "reused (schema unchanged)"


def test_reuse_keeps_the_database_and_create_db_rebuilds_it(app: AppProject) -> None:
    passed(app.run("--reuse-db"))
    app.insert_outside_tests("written outside the tests")

    reused = passed(app.run("--reuse-db"))
    assert reused.note == "reused (schema unchanged)"
    assert app.read("seen.txt") == "1"  # the same database, not a copy

    rebuilt = passed(app.run("--reuse-db", "--create-db"))
    assert rebuilt.note == "rebuilt (--create-db)"
    assert app.read("seen.txt") == "0"
    assert app.test_database_exists()

    assert passed(app.run("--reuse-db")).note == "reused (schema unchanged)"
    assert app.read("seen.txt") == "0"


def test_without_reuse_db_the_database_is_gone_after_the_run(app: AppProject) -> None:
    outcome = passed(app.run())
    assert outcome.note == "created"
    assert not app.test_database_exists()
    assert app.leftovers() == []  # the per-run directory goes too, journals and all

    again = passed(app.run())
    assert again.note == "created"
    assert not app.test_database_exists()


def test_a_reuse_run_keeps_the_database_and_nothing_else(app: AppProject) -> None:
    outcome = passed(app.run("--reuse-db"))
    files = {p for p in app.temp.rglob("*") if p.is_file()}
    if app.backend == "postgres":
        assert files == set()
        return
    [kept] = app.sqlite_files()
    assert str(kept) in outcome.database_url
    marker = kept.with_name(kept.name + ".aksara")  # the schema fingerprint
    journals = {kept.with_name(kept.name + suffix) for suffix in ("-wal", "-shm")}
    assert {kept, marker} <= files <= {kept, marker, *journals}


def test_a_refused_run_leaves_no_temporary_directory(app: AppProject) -> None:
    app.write_settings(f'test_database_url = "{app.database_url}"')  # the app's own database
    outcome = app.run()
    assert outcome.code == 4, str(outcome)
    assert "refusing to create, migrate, empty or drop" in outcome.stdout + outcome.stderr
    assert app.leftovers() == []
