"""AksaraTestCase and async_test, through real pytest runs."""

from __future__ import annotations

import pytest
from conftest import Project


def test_setup_and_teardown_wrap_each_test_and_the_database_rolls_back(project: Project) -> None:
    project.pytester.makepyfile(
        test_it="""
        from aksara_testing import AksaraTestCase
        from helpers import app_creates, count, names

        calls = []

        class TestAuthors(AksaraTestCase):
            async def asyncSetUp(self):
                calls.append("setup")
                await app_creates("from setup")

            async def asyncTearDown(self):
                # runs before the rollback: the test's data is still there
                calls.append(("teardown", await count(self.db)))

            async def test_one(self):
                assert await names(self.db) == ["from setup"]
                await app_creates("one")

            async def test_two(self):
                assert await names(self.db) == ["from setup"]

        def test_order():
            assert calls == ["setup", ("teardown", 2), "setup", ("teardown", 1)]
        """
    )
    project.run().assert_outcomes(passed=3)


def test_patch_decorators_on_async_methods_work(sqlite_project: Project) -> None:
    sqlite_project.pytester.makepyfile(
        payments="""
        def process_payment(amount):
            raise RuntimeError("the real payment API must not be called")

        async def checkout(amount):
            return process_payment(amount=amount)
        """,
        test_it="""
        from unittest.mock import AsyncMock, patch
        from aksara_testing import AksaraTestCase
        import payments

        class TestPayment(AksaraTestCase):
            @patch("payments.process_payment")
            async def test_checkout(self, mock_payment):
                mock_payment.return_value = {"status": "success", "transaction_id": "123"}
                assert (await payments.checkout(100))["status"] == "success"
                mock_payment.assert_called_once_with(amount=100)

            @patch("payments.checkout", new_callable=AsyncMock)
            async def test_async_mock(self, checkout):
                checkout.return_value = "ok"
                assert await payments.checkout(1) == "ok"
        """,
    )
    sqlite_project.run().assert_outcomes(passed=2)


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_async_test_and_test_cases_run_in_either_asyncio_mode(
    sqlite_project: Project, mode: str
) -> None:
    sqlite_project.write_settings(f'[tool.pytest.ini_options]\nasyncio_mode = "{mode}"')
    sqlite_project.pytester.makepyfile(
        test_it="""
        import asyncio
        from aksara_testing import AksaraTestCase, async_test

        @async_test
        async def test_function():
            await asyncio.sleep(0)

        class TestCase(AksaraTestCase):
            async def test_method(self):
                await asyncio.sleep(0)
        """
    )
    sqlite_project.run().assert_outcomes(passed=2)


def test_async_test_rejects_a_plain_function() -> None:
    from aksara_testing import async_test

    def not_async() -> None:
        pass

    with pytest.raises(TypeError, match="not_async is not async"):
        async_test(not_async)
