"""Every test's writes are rolled back: the test's, its fixtures' and the app's."""

from __future__ import annotations

import pytest
from conftest import Project


def test_rollback_discards_rows_committed_through_db_session(project: Project) -> None:
    project.pytester.makepyfile(
        test_it="""
        from models import Author
        from helpers import count

        async def test_writes(db_session):
            db_session.add(Author(name="a"))
            await db_session.commit()
            assert await count(db_session) == 1

        async def test_sees_nothing(db_session):
            assert await count(db_session) == 0
        """
    )
    project.run().assert_outcomes(passed=2)


def test_rollback_discards_rows_committed_by_the_app(project: Project) -> None:
    project.pytester.makepyfile(
        test_it="""
        from helpers import app_count, app_creates, count

        async def test_app_commits(db_session):
            await app_creates("from the app")
            assert await count(db_session) == 1   # the test sees the app's row
            assert await app_count() == 1

        async def test_app_rows_are_gone(db_session):
            assert await app_count() == 0
            assert await count(db_session) == 0
        """
    )
    project.run().assert_outcomes(passed=2)


def test_app_sessions_never_reach_the_apps_own_database(project: Project) -> None:
    project.pytester.makepyfile(
        test_it="""
        from helpers import app_creates

        async def test_app_commits():
            await app_creates("x")
        """
    )
    project.run().assert_outcomes(passed=1)
    assert not (project.pytester.path / "app.db").exists()


def test_rollback_begin_nested_and_flush_behave_as_in_production(project: Project) -> None:
    project.pytester.makepyfile(
        test_it="""
        from models import Author
        from helpers import count, names

        async def test_rollback_undoes_only_since_last_commit(db_session):
            db_session.add(Author(name="kept"))
            await db_session.commit()
            db_session.add(Author(name="dropped"))
            await db_session.flush()
            await db_session.rollback()
            assert await names(db_session) == ["kept"]

        async def test_begin_nested(db_session):
            async with db_session.begin_nested():
                db_session.add(Author(name="inner"))
            nested = await db_session.begin_nested()
            db_session.add(Author(name="undone"))
            await nested.rollback()
            await db_session.commit()
            assert await names(db_session) == ["inner"]

        async def test_session_begin_block(db_session):
            async with db_session.begin():
                db_session.add(Author(name="block"))
            assert await count(db_session) == 1

        async def test_flush_without_commit(db_session):
            db_session.add(Author(name="flushed"))
            await db_session.flush()
            assert await count(db_session) == 1

        async def test_all_of_it_is_gone(db_session):
            assert await count(db_session) == 0
        """
    )
    project.run().assert_outcomes(passed=5)


def test_scoped_fixture_data_lives_as_long_as_its_scope(project: Project) -> None:
    project.pytester.makepyfile(
        test_a="""
        import pytest
        from models import Author
        from helpers import app_creates, names

        @pytest.fixture(scope="module")
        async def module_data(db_session, everywhere):
            await app_creates("module")

        @pytest.fixture(scope="class")
        async def class_data(db_session, module_data):
            db_session.add(Author(name="class"))
            await db_session.flush()

        class TestClassLayer:
            async def test_sees_all_layers(self, db_session, class_data):
                assert await names(db_session) == ["class", "module", "session"]
                await app_creates("test")

            async def test_sees_them_again(self, db_session, class_data):
                assert await names(db_session) == ["class", "module", "session"]

        async def test_class_data_is_gone(db_session, module_data):
            assert await names(db_session) == ["module", "session"]
        """,
        test_b="""
        from helpers import names

        async def test_only_session_data_is_left(db_session, everywhere):
            assert await names(db_session) == ["session"]
        """,
        conftest="""
        import pytest
        from models import Author

        @pytest.fixture(scope="session")
        async def everywhere(db_session):
            db_session.add(Author(name="session"))
            await db_session.commit()
        """,
    )
    project.run().assert_outcomes(passed=4)


def test_scoped_objects_stay_usable_in_tests(project: Project) -> None:
    project.pytester.makepyfile(
        test_it="""
        import pytest
        from models import Author, Book
        from helpers import count

        @pytest.fixture(scope="module")
        async def author(db_session):
            author = Author(name="shared")
            db_session.add(author)
            await db_session.commit()
            return author

        async def test_one(db_session, author):
            db_session.add(Book(title="t", author_id=author.id))
            await db_session.commit()
            assert author.name == "shared"
            assert await count(db_session, Book) == 1

        async def test_two(db_session, author):
            assert author.id is not None
            assert await count(db_session, Book) == 0
            assert await count(db_session) == 1
        """
    )
    project.run().assert_outcomes(passed=2)


def test_transactional_tests_commit_for_real_and_are_emptied_after(project: Project) -> None:
    project.pytester.makepyfile(
        test_it="""
        import pytest
        from sqlalchemy import text
        from aksara_testing import setup_test_database
        from helpers import app_creates, count

        @pytest.mark.transactional
        async def test_visible_to_other_connections(db_session):
            await app_creates("committed")
            handle = await setup_test_database()
            async with handle.engine.connect() as other:
                rows = await other.execute(text("SELECT count(*) FROM authors"))
                assert rows.scalar() == 1

        async def test_next_test_starts_empty(db_session):
            assert await count(db_session) == 0
        """
    )
    project.run().assert_outcomes(passed=2)


def test_transactional_test_refuses_to_drop_scoped_data(sqlite_project: Project) -> None:
    sqlite_project.pytester.makepyfile(
        test_it="""
        import pytest
        from helpers import app_creates

        @pytest.fixture(scope="module")
        async def shared():
            await app_creates("module data")

        @pytest.mark.transactional
        async def test_it(shared):
            await app_creates("x")
        """
    )
    result = sqlite_project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*marked transactional, but data written by*"])


def test_a_test_that_commits_the_connection_itself_does_not_leak(project: Project) -> None:
    project.pytester.makepyfile(
        test_it="""
        from models import Author
        from helpers import count

        async def test_commits_the_outer_transaction(db_session):
            connection = await db_session.connection()
            await connection.exec_driver_sql("SELECT 1")
            db_session.add(Author(name="x"))
            await db_session.flush()

        async def test_after(db_session):
            assert await count(db_session) == 0
        """
    )
    project.run().assert_outcomes(passed=2)


def test_tests_that_never_touch_the_database_create_none(sqlite_project: Project) -> None:
    sqlite_project.pytester.makepyfile(
        test_it="""
        async def test_pure():
            assert 1 + 1 == 2

        def test_sync():
            pass
        """
    )
    result = sqlite_project.run()
    result.assert_outcomes(passed=2)
    assert not [line for line in result.outlines if line.endswith(" created")]


def test_app_code_using_its_own_engine_is_refused(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.pytester.makepyfile(
        test_it="""
        import os
        from sqlalchemy import text
        import appdb

        async def test_raw_engine_use():
            async with appdb.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        """
    )
    monkeypatch.setenv(
        "APP_DATABASE_URL",
        project.database_url.replace("sqlite://", "sqlite+aiosqlite://").replace(
            "postgresql://", "postgresql+asyncpg://"
        ),
    )
    result = project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*aksara: refused a connection to * (*; its URL is database_url "
            "(from pyproject.toml), opened at test_it.py:6)*"
        ]
    )
    assert not (project.pytester.path / f"{project.name}.db").exists()


def test_unimportable_session_setting_stops_the_run_with_one_line(
    sqlite_project: Project,
) -> None:
    sqlite_project.pytester.makepyprojecttoml(
        f"""
[tool.aksara]
database_url = "{sqlite_project.database_url}"
session = "appdb:NoSuchMaker"
"""
    )
    sqlite_project.pytester.makepyfile(test_it="def test_it(): pass")
    result = sqlite_project.run()
    assert result.ret == 4
    result.stdout.fnmatch_lines(
        ["*setting session = 'appdb:NoSuchMaker' (from pyproject.toml) cannot be imported*"]
    )


def test_unimportable_models_setting_stops_the_run_with_one_line(sqlite_project: Project) -> None:
    sqlite_project.pytester.makepyprojecttoml(
        f"""
[tool.aksara]
database_url = "{sqlite_project.database_url}"
models = "no_such_module:Base"
"""
    )
    sqlite_project.pytester.makepyfile(
        test_it="""
        async def test_it(db_session):
            await db_session.flush()
            from sqlalchemy import text
            await db_session.execute(text("SELECT 1"))
        """
    )
    result = sqlite_project.run()
    assert result.ret == 4
    # Found missing before any test: a settings error, on stderr.
    result.stderr.fnmatch_lines(
        ["*setting models = 'no_such_module:Base' (from pyproject.toml) cannot be imported:*"]
    )


def test_database_without_any_aksara_setup_is_a_clear_error(pytester: pytest.Pytester) -> None:
    # No aksara settings: pytest-asyncio keeps its own defaults (strict mode).
    pytester.makepyfile(
        test_it="""
        import pytest
        from aksara_testing import setup_test_database

        @pytest.mark.asyncio
        async def test_it():
            await setup_test_database({"DATABASE_URL": "sqlite:///app.db"})
        """
    )
    result = pytester.runpytest(
        "-p", "no:randomly", "-o", "asyncio_default_fixture_loop_scope=function"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*requested before aksara's session set-up ran*"])


def test_transactional_test_in_a_package_after_a_writing_test_runs(
    sqlite_project: Project,
) -> None:
    pytester = sqlite_project.pytester
    pytester.mkpydir("tests")
    (pytester.path / "tests" / "test_a_writes.py").write_text(
        "from helpers import app_creates\n\n\n"
        "async def test_writes(db_session):\n"
        "    await app_creates('x')\n"
    )
    (pytester.path / "tests" / "test_b_transactional.py").write_text(
        "import pytest\nfrom helpers import app_creates\n\n\n"
        "@pytest.mark.transactional\n"
        "async def test_commits():\n"
        "    await app_creates('y')\n"
    )
    sqlite_project.run("tests").assert_outcomes(passed=2)


def test_pending_writes_that_fail_to_commit_are_the_tests_error_not_lost_silently(
    project: Project,
) -> None:
    project.pytester.makepyfile(
        test_it="""
        import pytest
        from sqlalchemy import text
        from models import Author

        @pytest.fixture(scope="module")
        async def authors(db_session):
            db_session.add(Author(name="ann"))
            await db_session.flush()
            db_session.add(Author(name="ann"))  # pending: breaks the unique name on commit

        async def test_uses_the_module_data(db_session, authors):
            await db_session.execute(text("SELECT 1"))
        """
    )
    result = project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the writes a session of test_it.py left pending failed to commit when "
            "test_it.py::test_uses_the_module_data began, so they were rolled back: *"
        ]
    )
