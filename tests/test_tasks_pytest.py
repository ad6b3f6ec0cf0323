"""capture_tasks in real pytest runs: the guide's example, the fixture, no leaks across tests."""

from __future__ import annotations

from conftest import Project

APP = """
from fastapi import BackgroundTasks, FastAPI

SENT = []
app = FastAPI()


async def send_email(to, subject):
    SENT.append(to)


@app.post("/api/send-email/", status_code=202)
async def send(tasks: BackgroundTasks):
    tasks.add_task(send_email, "team@example.com", "Hello")
    return {"scheduled": True}
"""


def make_app(project: Project) -> None:
    project.write_settings('app = "webapp:app"')
    project.pytester.makepyfile(webapp=APP)


def test_the_guides_example_captures_the_task_and_sends_nothing(
    sqlite_project: Project,
) -> None:
    make_app(sqlite_project)
    sqlite_project.pytester.makepyfile(
        test_guide="""
        import webapp
        from aksara_testing import AksaraTestCase

        from aksara_testing import capture_tasks

        class TestBackgroundTasks(AksaraTestCase):
            async def test_creates_background_task(self):
                with capture_tasks() as tasks:
                    response = await self.client.post("/api/send-email/")

                assert len(tasks) == 1
                assert tasks[0].name == "send_email"
                assert webapp.SENT == []
        """
    )
    sqlite_project.run().assert_outcomes(passed=1)


def test_tasks_never_leak_into_the_next_test(sqlite_project: Project) -> None:
    make_app(sqlite_project)
    sqlite_project.pytester.makepyfile(
        test_order="""
        import pytest
        import webapp
        from aksara_testing import capture_tasks

        async def test_held(client):
            with capture_tasks() as tasks:
                await client.post("/api/send-email/")
            assert len(tasks) == 1 and webapp.SENT == []

        async def test_fails_inside_a_block(client):
            with capture_tasks():
                await client.post("/api/send-email/")
                pytest.fail("on purpose")

        async def test_next_test_runs_its_tasks(client):
            await client.post("/api/send-email/")
            assert webapp.SENT == ["team@example.com"]

        async def test_fixture(client, capture_tasks):
            await client.post("/api/send-email/")
            assert [t.name for t in capture_tasks] == ["send_email"]
            assert webapp.SENT == ["team@example.com"]

        def test_sync_test_with_the_fixture(capture_tasks):
            assert capture_tasks == []

        async def test_after_the_fixture(client):
            with capture_tasks() as tasks:
                pass
            await client.post("/api/send-email/")
            assert tasks == []
            assert webapp.SENT == ["team@example.com"] * 2
        """
    )
    result = sqlite_project.run()
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_order.py::test_fails_inside_a_block - Failed: on*"])


def test_the_fixture_holds_tasks_until_the_test_runs_them(sqlite_project: Project) -> None:
    make_app(sqlite_project)
    sqlite_project.pytester.makepyfile(
        test_fixture="""
        import webapp

        async def test_run(client, capture_tasks):
            await client.post("/api/send-email/")
            assert webapp.SENT == []
            await capture_tasks.run_all()
            assert webapp.SENT == ["team@example.com"]
        """
    )
    sqlite_project.run().assert_outcomes(passed=1)


def test_a_block_opened_by_an_async_fixture_captures_in_the_test(
    sqlite_project: Project,
) -> None:
    make_app(sqlite_project)
    sqlite_project.pytester.makeconftest(
        """
        import pytest
        from aksara_testing import capture_tasks

        @pytest.fixture
        async def watched():
            with capture_tasks(run=True) as tasks:
                yield tasks
        """
    )
    sqlite_project.pytester.makepyfile(
        test_async_fixture="""
        import webapp

        async def test_watched(client, watched):
            await client.post("/api/send-email/")
            assert [t.args for t in watched] == [("team@example.com", "Hello")]
            assert webapp.SENT == ["team@example.com"]

        async def test_not_watched(client):
            from aksara_testing import capture_tasks
            with capture_tasks() as tasks:
                pass
            await client.post("/api/send-email/")
            assert tasks == [] and len(webapp.SENT) == 2
        """
    )
    sqlite_project.run().assert_outcomes(passed=2)


def test_the_fixture_is_listed_with_its_docstring(sqlite_project: Project) -> None:
    result = sqlite_project.pytester.runpytest("--fixtures", "-p", "no:randomly")
    result.stdout.fnmatch_lines(["capture_tasks -- *", "*The background tasks the test schedules*"])
