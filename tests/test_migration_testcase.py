"""``MigrationTestCase``: a scratch database per test, moved between revisions.

Real pytest runs of throwaway projects on SQLite and PostgreSQL. The chain is
``aa01`` (authors) -> ``bb02`` (books) -> ``bc03`` (book titles upper-cased).
"""

from __future__ import annotations

import pytest
from conftest import Project
from migration_project import (
    FIRST,
    HEAD,
    MIDDLE,
    REVISIONS,
    add_migrations,
    pg_databases,
    revision_file,
    write_revision,
)

# Each generated module gets the backend's way to list tables and name the database.
SQLITE_HELPERS = """
TABLES = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
WHERE = "SELECT file AS name FROM pragma_database_list WHERE name = 'main'"
"""
POSTGRES_HELPERS = """
TABLES = "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
WHERE = "SELECT current_database() AS name"
"""


def write_tests(project: Project, body: str) -> None:
    helpers = SQLITE_HELPERS if project.backend == "sqlite" else POSTGRES_HELPERS
    project.pytester.makepyfile(
        test_moves=f"""
from pathlib import Path

from sqlalchemy import text

from aksara_testing import MigrationTestCase
{helpers}

async def tables(case):
    return [row["name"] for row in await case.execute(TABLES)]


async def version(case):
    return [row["version_num"] for row in await case.execute("SELECT * FROM alembic_version")]

{body}
"""
    )


MOVES = f"""
class TestMoves(MigrationTestCase):
    async def test_1_forward_head_and_zero(self):
        assert await tables(self) == []
        await self.migrate("app", "a")  # a unique prefix of {FIRST}
        assert await version(self) == ["{FIRST}"]
        assert await tables(self) == ["alembic_version", "authors"]
        await self.migrate("app", "{MIDDLE}")
        assert await version(self) == ["{MIDDLE}"]
        await self.migrate("app", "head")
        assert await version(self) == ["{HEAD}"]
        assert await tables(self) == ["alembic_version", "authors", "books"]
        await self.migrate("app", "zero")
        assert await version(self) == []
        assert await tables(self) == ["alembic_version"]
        await self.migrate("app", "bc")  # from empty straight to a prefix of the head
        assert await version(self) == ["{HEAD}"]

    async def test_2_every_test_starts_on_an_empty_database(self):
        assert await tables(self) == []
"""


@pytest.mark.parametrize("env", ["sync", "async"])
def test_migrate_goes_forward_by_id_or_prefix_and_to_head_and_zero(
    project: Project, env: str
) -> None:
    add_migrations(project, env)
    write_tests(project, MOVES)
    project.run().assert_outcomes(passed=2)


BACKWARD = f"""
class TestBackward(MigrationTestCase):
    async def test_back_to_a_revision(self):
        await self.migrate("app", "head")
        await self.migrate("app", "{MIDDLE}")
        assert await version(self) == ["{MIDDLE}"]
        await self.migrate("app", "a")
        assert await version(self) == ["{FIRST}"]
        assert await tables(self) == ["alembic_version", "authors"]
"""


def test_migrate_goes_backward_to_a_revision(project: Project) -> None:
    add_migrations(project, "async")
    write_tests(project, BACKWARD)
    project.run().assert_outcomes(passed=1)


EXECUTE = f"""
class TestExecute(MigrationTestCase):
    async def test_rows_and_counts(self):
        await self.migrate("app", "{MIDDLE}")
        added = await self.execute(
            "INSERT INTO authors (id, name) VALUES (:id, :name)", {{"id": 7, "name": "Ann"}}
        )
        assert added == 1
        books = "INSERT INTO books (id, title, author_id) VALUES (1, 'dune', 7), (2, 'emma', 7)"
        assert await self.execute(books) == 2
        await self.migrate("app", "{HEAD}")  # the data migration sees the rows
        rows = await self.execute("SELECT id, title, author_id FROM books ORDER BY id")
        assert rows == [
            {{"id": 1, "title": "DUNE", "author_id": 7}},
            {{"id": 2, "title": "EMMA", "author_id": 7}},
        ]
        changed = await self.execute(
            "UPDATE books SET title = :title WHERE author_id = :author",
            {{"title": "x", "author": 7}},
        )
        assert changed == 2
        assert await self.execute("DELETE FROM books WHERE title = 'none'") == 0
        assert await self.execute("SELECT * FROM books WHERE id = :id", {{"id": 99}}) == []
"""


def test_execute_returns_row_dicts_or_the_row_count(project: Project) -> None:
    add_migrations(project, "async")
    write_tests(project, EXECUTE)
    project.run().assert_outcomes(passed=1)


SEPARATE = f"""
class TestScratch(MigrationTestCase):
    async def test_a_database_of_its_own(self):
        await self.migrate("app", "head")
        await self.execute("INSERT INTO authors (name) VALUES ('only in the scratch database')")
        [scratch] = await self.execute(WHERE)
        shared = (await self.db.execute(text(WHERE))).scalar_one()
        assert scratch["name"] != shared
        # db_session is on the shared test database, migrated once for the whole run.
        assert await self.db.scalar(text("SELECT count(*) FROM authors")) == 0
        assert await self.db.scalar(text("SELECT version_num FROM alembic_version")) == "{HEAD}"
        Path("scratch.txt").write_text(scratch["name"])


async def test_afterwards_it_is_gone(db_session):
    name = Path("scratch.txt").read_text()
    if name.endswith(".db"):
        assert not Path(name).exists()
    else:
        found = "SELECT count(*) FROM pg_database WHERE datname = :name"
        assert await db_session.scalar(text(found), {{"name": name}}) == 0
"""


def test_the_scratch_database_is_not_db_sessions_and_is_dropped_after_the_test(
    project: Project,
) -> None:
    add_migrations(project, "async")
    write_tests(project, SEPARATE)
    project.run().assert_outcomes(passed=2)
    scratch = (project.pytester.path / "scratch.txt").read_text()
    if project.backend == "sqlite":
        assert scratch.endswith(f"/test_{project.name}_migrations.db")
    else:
        assert scratch == f"test_{project.name}_migrations"
        server = project.database_url.rsplit("/", 1)[0] + "/postgres"
        assert pg_databases(server, f"test_{project.name}") == []


def test_the_guides_example_moves_data_through_a_revision(sqlite_project: Project) -> None:
    # The seed's shape: any label works for a project with one head and no branch labels.
    add_migrations(sqlite_project, "async")
    sqlite_project.pytester.makepyfile(
        test_guide=f"""
        from aksara_testing import MigrationTestCase

        class TestMigrations(MigrationTestCase):
            async def test_migration_{HEAD}(self):
                await self.migrate("myapp", "{MIDDLE}")
                await self.execute("INSERT INTO books (title) VALUES ('Test')")
                await self.migrate("myapp", "{HEAD}")
                result = await self.execute("SELECT title FROM books")
                assert result[0]["title"] == "TEST"
        """
    )
    sqlite_project.run().assert_outcomes(passed=1)


# -- errors ---------------------------------------------------------------------------------


def failure_lines(project: Project, body: str) -> list[str]:
    """The ``E`` lines of a run of ``body`` whose one test must fail."""
    write_tests(project, body)
    result = project.run()
    result.assert_outcomes(failed=1)
    return [line[1:].strip() for line in result.stdout.lines if line.startswith("E ")]


def test_an_unknown_or_ambiguous_revision_lists_the_known_ones(sqlite_project: Project) -> None:
    add_migrations(sqlite_project, "async")
    known = f"known revisions: {FIRST}, {MIDDLE}, {HEAD} (heads: {HEAD}), or 'head' / 'zero'"
    for revision in ("zz99", "b"):  # "b" starts both bb02 and bc03
        body = f"""
class TestUnknown(MigrationTestCase):
    async def test_it(self):
        await self.migrate("app", "{revision}")
"""
        [line] = failure_lines(sqlite_project, body)
        error = "aksara_testing.errors.MigrationError"
        assert line.startswith(f"{error}: migrate('app', '{revision}'): "), line
        assert line.endswith(known), line


def test_an_unknown_revision_shows_no_frames_from_aksara(sqlite_project: Project) -> None:
    add_migrations(sqlite_project, "async")
    write_tests(
        sqlite_project,
        """
class TestUnknown(MigrationTestCase):
    async def test_it(self):
        await self.migrate("app", "zz99")
""",
    )
    result = sqlite_project.run()
    result.assert_outcomes(failed=1)
    assert "aksara_testing/" not in result.stdout.str()


NOTES = 'op.create_table("notes", sa.Column("id", sa.Integer(), primary_key=True))'


def test_branch_labels_choose_the_branch_and_unknown_ones_are_listed(
    project: Project,
) -> None:
    # Two branches from two bases: core (authors, books) and extra (notes).
    root = add_migrations(project, "async", revisions=[REVISIONS[1]])
    _, _, message, upgrade, downgrade = REVISIONS[0]
    core = revision_file(FIRST, None, message, upgrade, downgrade, ("core",))
    extra = revision_file("dd01", None, "notes", NOTES, 'op.drop_table("notes")', ("extra",))
    write_revision(root, FIRST, core)
    write_revision(root, "dd01", extra)
    write_tests(
        project,
        f"""
class TestBranches(MigrationTestCase):
    async def test_each_branch_on_its_own(self):
        await self.migrate("core", "head")
        assert await tables(self) == ["alembic_version", "authors", "books"]
        await self.migrate("extra", "head")
        assert await tables(self) == ["alembic_version", "authors", "books", "notes"]
        await self.migrate("core", "zero")
        assert await tables(self) == ["alembic_version", "notes"]
        await self.migrate("core", "{FIRST}")
        assert sorted(await version(self)) == ["{FIRST}", "dd01"]

    async def test_unknown_label(self):
        await self.migrate("myapp", "head")

    async def test_revision_of_another_branch(self):
        await self.migrate("extra", "{MIDDLE}")
""",
    )
    result = project.run()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*MigrationError: migrate('myapp', ...): unknown label; "
            "known branch labels: core, extra",
            f"*MigrationError: migrate('extra', '{MIDDLE}'): revision {MIDDLE} is not on "
            "branch 'extra'",
        ],
        consecutive=False,
    )


def test_two_heads_without_labels_cannot_be_told_apart(sqlite_project: Project) -> None:
    root = add_migrations(sqlite_project, "async")
    write_revision(root, "cc04", revision_file("cc04", MIDDLE, "a fork", "pass", "pass"))
    body = """
class TestForked(MigrationTestCase):
    async def test_it(self):
        await self.migrate("app", "head")
"""
    [line] = failure_lines(sqlite_project, body)
    assert line.endswith(
        f"migrate('app', ...): the migrations have 2 heads ({HEAD}, cc04) and no branch "
        "labels; merge them or label the branches"
    ), line


def test_a_failing_revision_names_itself_and_the_sql_error(project: Project) -> None:
    root = add_migrations(project, "async")
    failing = 'op.execute("ALTER TABLE nowhere ADD COLUMN x INTEGER")'
    write_revision(root, MIDDLE, revision_file(MIDDLE, FIRST, "books", failing, "pass"))
    body = """
class TestBroken(MigrationTestCase):
    async def test_it(self):
        await self.migrate("app", "head")
"""
    [line] = failure_lines(project, body)
    if project.backend == "sqlite":
        error = "OperationalError: no such table: nowhere"
    else:
        error = 'ProgrammingError: relation "nowhere" does not exist'
    assert line.endswith(f"MigrationError: revision {MIDDLE}: upgrade failed: {error}"), line


def test_migration_test_case_needs_the_migrations_setting(sqlite_project: Project) -> None:
    body = """
class TestNoSetting(MigrationTestCase):
    async def test_it(self):
        await self.migrate("app", "head")
"""
    [line] = failure_lines(sqlite_project, body)
    assert line.endswith(
        "MigrationTestCase needs the migrations setting: set migrations = 'alembic.ini' "
        "(or the script folder) in [tool.aksara]"
    ), line
