"""The shared test database's schema, built by ``alembic upgrade heads``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._db import SchemaSource
from ..errors import ConfigurationError
from .config import alembic_config, check_location, migrations_fingerprint

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncEngine

    from .._settings import Settings

__all__ = ["migrations_source"]


def migrations_source(settings: Settings, url: URL) -> SchemaSource:
    """Build the test database at ``url`` by running every migration to the head(s)."""
    from .._db import is_memory

    check_location(settings)  # a wrong path fails here, before any database work
    if is_memory(url):
        raise ConfigurationError(
            f"setting {settings.describe('migrations')} needs a test database that env.py "
            "can open, not an in-memory one; set test_database_url = 'sqlite:///test_app.db' "
            "or run with --no-migrations to build from models"
        )

    async def build(engine: AsyncEngine) -> None:
        from .._db import redirect_app_database
        from .moves import upgrade_to_heads
        from .runner import in_thread

        # Alembic is imported only now: a reused database needs none of it (~0.2 s).
        config = alembic_config(settings, url)

        def upgrade() -> None:
            with redirect_app_database(settings, url):
                upgrade_to_heads(config)

        await in_thread(upgrade)
        await _check_reached(settings, engine)

    return SchemaSource(metadata=None, build=build, digest=migrations_fingerprint(settings))


async def _check_reached(settings: Settings, engine: AsyncEngine) -> None:
    from sqlalchemy import inspect

    async with engine.connect() as connection:
        found = await connection.run_sync(lambda c: inspect(c).has_table("alembic_version"))
    if not found:
        raise ConfigurationError(
            f"the migrations of setting {settings.describe('migrations')} ran, but not on the "
            "test database: env.py connects elsewhere; make it use "
            "config.get_main_option('sqlalchemy.url') (see docs/migrations.md)"
        )
