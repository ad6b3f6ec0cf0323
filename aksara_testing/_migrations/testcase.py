"""``MigrationTestCase``: tests that move a scratch database between revisions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest_asyncio

from .._testcase import AksaraTestCase

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncEngine

    from .._db import SafeTarget
    from .._runtime import Runtime

__all__ = ["MigrationTestCase", "ScratchDatabase"]


class ScratchDatabase:
    """An empty database of its own for one migration test, dropped after it."""

    def __init__(self, runtime: Runtime) -> None:
        from .._db import check_safe
        from .config import alembic_config

        settings = runtime.settings
        if not settings.migrations:
            from ..errors import ConfigurationError

            raise ConfigurationError(
                "MigrationTestCase needs the migrations setting: set migrations = "
                "'alembic.ini' (or the script folder) in [tool.aksara]"
            )
        self.runtime = runtime
        self.target: SafeTarget = check_safe(_scratch_url(runtime), settings)
        self.config: Config = alembic_config(settings, self.target.url)
        self._engine: AsyncEngine | None = None

    async def engine(self) -> AsyncEngine:
        if self._engine is None:
            from sqlalchemy import pool
            from sqlalchemy.ext.asyncio import create_async_engine

            from .._db import recreate_database

            await (
                self.runtime.database.lock_names()
            )  # another run on this server keeps off our names
            await recreate_database(self.target)
            # No pooled connection may hold a lock while env.py works in its thread.
            self._engine = create_async_engine(self.target.url, poolclass=pool.NullPool)
        return self._engine

    async def migrate(self, label: str, revision: str) -> None:
        from .runner import in_thread

        await self.engine()
        settings, url, config = self.runtime.settings, self.target.url, self.config

        def move() -> None:
            from .._db import redirect_app_database
            from .moves import migrate

            with redirect_app_database(settings, url):
                migrate(config, label, revision, scratch=True)

        await in_thread(move)

    async def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        from sqlalchemy import text

        engine = await self.engine()
        async with engine.begin() as connection:
            result = await connection.execute(text(sql), dict(params or {}))
            if result.returns_rows:
                return [dict(row._mapping) for row in result]
            return result.rowcount

    async def drop(self) -> None:
        if self._engine is None:
            return
        from .._db import drop_database

        await self._engine.dispose()
        self._engine = None
        await drop_database(self.target)


def _scratch_url(runtime: Runtime, purpose: str = "migrations") -> URL:
    """``test_<name>[_<worker>]_<purpose>``: never the shared test database."""
    from .._db import is_memory

    database = runtime.database
    url = database.worker_url(purpose)
    if is_memory(url):
        worker = f"_{database.worker}" if database.worker else ""
        url = url.set(database=str(database.sqlite_dir() / f"test{worker}_{purpose}.db"))
    return url


class MigrationTestCase(AksaraTestCase):
    """A test class whose tests each get an empty scratch database to migrate.

    The scratch database is not the shared test database: ``db_session`` and
    factories do not see it. Use ``self.execute`` on it::

        class TestMigrations(MigrationTestCase):
            async def test_0003_fills_slugs(self):
                await self.migrate("blog", "0002")
                await self.execute("INSERT INTO posts (title) VALUES ('Hi there')")
                await self.migrate("blog", "0003")
                rows = await self.execute("SELECT slug FROM posts")
                assert rows == [{"slug": "hi-there"}]
    """

    _scratch: ScratchDatabase | None = None

    async def migrate(self, label: str, revision: str) -> None:
        """Move the scratch database to ``revision`` (an id, a prefix, "head" or "zero").

        ``label`` is a branch label; a project with one head and no branch
        labels accepts any label.
        """
        __tracebackhide__ = True
        from ..errors import MigrationError

        try:
            await self._scratch_database().migrate(label, revision)
        except MigrationError as exc:  # one line, from the test's own call
            raise exc.with_traceback(None) from None

    async def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """Run ``sql`` on the scratch database and commit.

        Returns a list of row dicts for statements that return rows, else the
        number of rows affected. Bind parameters use ``:name``.
        """
        __tracebackhide__ = True
        return await self._scratch_database().execute(sql, params)

    def _scratch_database(self) -> ScratchDatabase:
        if self._scratch is None:
            from ..fixtures import runtime_of

            self._scratch = ScratchDatabase(runtime_of(self._request.config))
        return self._scratch

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _aksara_scratch_database(self) -> AsyncIterator[None]:
        self._scratch = None
        try:
            yield
        finally:
            if self._scratch is not None:
                await self._scratch.drop()
                self._scratch = None
