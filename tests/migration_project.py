"""Alembic set-ups for throwaway projects: env.py shapes, revisions, ini files.

The revisions match ``conftest.MODELS`` (authors, then books, then a data
migration), so a project built with them passes the model comparison.
Revision ids are short hex-like strings so that prefixes can be tested:
``a`` is unique (``aa01``), ``b`` is not (``bb02``, ``bc03``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from textwrap import dedent

from conftest import Project

__all__ = [
    "ENV_SHAPES",
    "FIRST",
    "HEAD",
    "MIDDLE",
    "REVISIONS",
    "add_migrations",
    "drop_pg_databases",
    "pg_databases",
    "revision_file",
    "write_alembic",
    "write_revision",
]

FIRST, MIDDLE, HEAD = "aa01", "bb02", "bc03"

ALEMBIC_INI = """
[alembic]
script_location = %(here)s/migrations
prepend_sys_path = .
path_separator = os
sqlalchemy.url = driver://user:pass@localhost/dbname

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = WARNING
handlers =
qualname = alembic

[handler_console]
class = logging.StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""

# `alembic init` (the generic template), online part as written.
SYNC_ENV = """
from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = None


def run_migrations_online():
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
"""

# `alembic init -t async`, online part as written.
ASYNC_ENV = """
import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = None


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    connectable = async_engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    async with connectable.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await connectable.dispose()


def run_migrations_online() -> None:
    asyncio.run(run_async_migrations())


run_migrations_online()
"""

# An app whose env.py takes the URL from the app's own settings module, not from Alembic.
_ASYNC_FROM_URL = """
import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

{imports}


def do_run_migrations(connection):
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def main():
    engine = create_async_engine({url})
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


asyncio.run(main())
"""

SETTINGS_ENV = _ASYNC_FROM_URL.format(imports="import appsettings", url="appsettings.DATABASE_URL")
X_ARGUMENT_ENV = _ASYNC_FROM_URL.format(
    imports="", url='context.get_x_argument(as_dictionary=True)["url"]'
)
ATTRIBUTE_ENV = _ASYNC_FROM_URL.format(
    imports="", url='context.config.attributes["aksara_test_url"]'
)

ENV_SHAPES = {
    "sync": SYNC_ENV,
    "async": ASYNC_ENV,
    "app_settings": SETTINGS_ENV,
    "x_argument": X_ARGUMENT_ENV,
    "attribute": ATTRIBUTE_ENV,
}

REVISION = '''
"""{message}"""

import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = None


def upgrade():
{upgrade}


def downgrade():
{downgrade}
'''

REVISIONS: list[tuple[str, str | None, str, str, str]] = [
    (
        FIRST,
        None,
        "authors",
        """
        op.create_table(
            "authors",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("name", sa.String(50), nullable=False, unique=True),
        )
        """,
        'op.drop_table("authors")',
    ),
    (
        MIDDLE,
        FIRST,
        "books",
        """
        op.create_table(
            "books",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("title", sa.String(50), nullable=False),
            sa.Column("author_id", sa.Integer(), sa.ForeignKey("authors.id"), nullable=True),
        )
        """,
        'op.drop_table("books")',
    ),
    (
        HEAD,
        MIDDLE,
        "book titles in capitals (data only)",
        'op.execute("UPDATE books SET title = upper(title)")',
        'op.execute("UPDATE books SET title = lower(title)")',
    ),
]


def _indent(code: str) -> str:
    return "\n".join("    " + line for line in dedent(code).strip().splitlines())


def revision_file(
    revision: str,
    down: str | None,
    message: str,
    upgrade: str,
    downgrade: str,
    labels: tuple[str, ...] | None = None,
) -> str:
    """The text of one revision module."""
    return REVISION.format(
        message=message,
        revision=revision,
        down=down,
        labels=labels,
        upgrade=_indent(upgrade),
        downgrade=_indent(downgrade),
    ).lstrip()


def write_revision(root: Path, revision: str, text: str) -> Path:
    """Write ``text`` as ``migrations/versions/<revision>.py`` under ``root``."""
    path = root / "migrations" / "versions" / f"{revision}.py"
    path.write_text(text)
    return path


def write_alembic(
    root: Path,
    env: str = "async",
    revisions: list[tuple[str, str | None, str, str, str]] | None = None,
) -> None:
    """``alembic.ini`` and ``migrations/`` (env.py of shape ``env``) under ``root``."""
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "migrations" / "env.py").write_text(ENV_SHAPES[env].lstrip())
    (root / "alembic.ini").write_text(ALEMBIC_INI.lstrip())
    for revision, down, message, upgrade, downgrade in (
        REVISIONS if revisions is None else revisions
    ):
        write_revision(root, revision, revision_file(revision, down, message, upgrade, downgrade))


def add_migrations(
    project: Project,
    env: str = "async",
    *,
    setting: str = "alembic.ini",
    revisions: list[tuple[str, str | None, str, str, str]] | None = None,
) -> Path:
    """Give ``project`` an Alembic set-up and point its ``migrations`` setting at it.

    ``setting`` is ``"alembic.ini"`` or ``"migrations"`` (the script folder).
    For the ``app_settings`` env.py the app's URL lives in ``appsettings.py``
    and ``database_url`` holds the same (async-driver) URL.
    """
    root = project.pytester.path
    write_alembic(root, env, revisions)
    if env == "app_settings":
        driver = "sqlite+aiosqlite" if project.backend == "sqlite" else "postgresql+asyncpg"
        project.database_url = f"{driver}://{project.database_url.split('://', 1)[1]}"
        (root / "appsettings.py").write_text(f"DATABASE_URL = {project.database_url!r}\n")
    project.write_settings(f'migrations = "{setting}"')
    return root


def pg_databases(server: str, prefix: str) -> list[str]:
    """The names of the databases on ``server`` that start with ``prefix``."""
    import asyncpg  # the postgres extra; only PostgreSQL tests get here

    async def fetch() -> list[str]:
        connection = await asyncpg.connect(server)
        try:
            rows = await connection.fetch(
                "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix
            )
        finally:
            await connection.close()
        return sorted(row["datname"] for row in rows)

    return asyncio.run(fetch())


def drop_pg_databases(server: str, names: list[str]) -> None:
    """Drop ``names`` on ``server`` (what a run under test left behind)."""
    import asyncpg

    async def drop() -> None:
        connection = await asyncpg.connect(server)
        try:
            for name in names:
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())
