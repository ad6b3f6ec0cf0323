"""``AksaraTestCase`` and ``async_test``."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ._client import AksaraClient

__all__ = ["AksaraTestCase", "async_test"]

F = TypeVar("F", bound=Callable[..., Any])

_SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")


def async_test(function: F) -> F:
    """Mark an ``async def`` test to run on the session's event loop.

    Not needed with the plugin's defaults, harmless with them, and what makes
    the test run when a project sets ``asyncio_mode = "strict"``::

        @async_test
        async def test_user_exists(user): ...
    """
    if not inspect.iscoroutinefunction(function):
        raise TypeError(
            f"@async_test decorates async def functions; {function.__qualname__} is not async"
        )
    return _SESSION_LOOP(function)  # type: ignore[no-any-return]


class AksaraTestCase:
    """A pytest-collected test class with async set-up and a rolled-back database.

    ``asyncSetUp`` and ``asyncTearDown`` run around every test (tear-down before
    the rollback); async test methods need no decorator; ``self.db`` is the
    test's ``db_session``; ``self.client`` the test client, with
    ``self.authenticate(user)`` and ``self.logout()``::

        class TestUsers(AksaraTestCase):
            async def asyncSetUp(self):
                self.user = await User.objects.create(email="a@example.com")

            async def test_created(self):
                assert self.user.id is not None
    """

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [_SESSION_LOOP]

    db: AsyncSession
    _client: AksaraClient | None = None
    _request: pytest.FixtureRequest

    async def asyncSetUp(self) -> None:
        """Runs before each test; override it."""

    async def asyncTearDown(self) -> None:
        """Runs after each test, before the database is rolled back; override it."""

    @property
    def client(self) -> AksaraClient:
        """The test client (created on first use; see the ``client`` fixture)."""
        if self._client is None:
            from .fixtures import runtime_of

            app = self._request.getfixturevalue("app")
            self._client = runtime_of(self._request.config).new_client(app)
        return self._client

    def authenticate(self, user: Any) -> None:
        """Make every later request of ``self.client`` carry ``user``'s credentials."""
        self.client.authenticate(user)

    def logout(self) -> None:
        """Stop sending credentials."""
        if self._client is not None:
            self._client.logout()

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _aksara_test_case(
        self, request: pytest.FixtureRequest, db_session: AsyncSession
    ) -> AsyncIterator[None]:
        self._request = request
        self._client = None
        self.db = db_session
        await self.asyncSetUp()
        try:
            yield
        finally:
            try:
                await self.asyncTearDown()
            finally:
                if self._client is not None:
                    await self._client.aclose()
