"""count_queries and assert_num_queries."""

from __future__ import annotations

from conftest import Project


def test_count_queries_records_statements_in_order(project: Project) -> None:
    project.pytester.makepyfile(
        test_it="""
        from aksara_testing import count_queries
        from helpers import app_count, app_creates

        async def test_counts(db_session):
            await app_count()     # set-up noise outside the block is not counted
            with count_queries() as queries:
                await app_creates("a")
                await app_count()
            assert queries.count == 2
            assert queries.statements[0].startswith("INSERT INTO authors")
            assert queries.statements[1].startswith("SELECT count(*)")
        """
    )
    project.run().assert_outcomes(passed=1)


def test_assert_num_queries_passes_and_fails_with_the_statements(sqlite_project: Project) -> None:
    sqlite_project.pytester.makepyfile(
        test_it="""
        from aksara_testing import assert_num_queries
        from helpers import app_count, app_creates

        async def test_right_number(db_session):
            with assert_num_queries(1):
                await app_count()

        async def test_wrong_number(db_session):
            with assert_num_queries(1):
                await app_creates("a")
                await app_count()
        """
    )
    result = sqlite_project.run()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*expected 1 SQL statement, 2 ran:",
            "*1. INSERT INTO authors (name) VALUES (?)",
            "*2. SELECT count(*) AS count_1 FROM authors",
        ]
    )
