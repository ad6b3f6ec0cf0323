"""PostgreSQL specifics: the test engine and server-side database admin."""

from __future__ import annotations

from typing import Any

from sqlalchemy import pool, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["clone", "create", "drop", "read_own_comment", "write_comment"]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _admin_engine(url: URL) -> AsyncEngine:
    return create_async_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=pool.NullPool
    )


async def _admin(url: URL, sql: str, **params: Any) -> Any:
    engine = _admin_engine(url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(sql), params)
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


async def create(url: URL) -> None:
    await _admin(url, f"CREATE DATABASE {_quote(url.database or '')}")


async def drop(url: URL) -> None:
    await _admin(url, f"DROP DATABASE IF EXISTS {_quote(url.database or '')} WITH (FORCE)")


async def read_own_comment(engine: AsyncEngine) -> str | None:
    """The comment of the database ``engine`` points at; None if it does not exist.

    Read through the test engine itself: a reused database then costs one
    connection, which the run keeps.
    """
    try:
        async with engine.connect() as connection:
            value = await connection.scalar(
                text(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                    "WHERE datname = current_database()"
                )
            )
    except Exception as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return value if isinstance(value, str) else None


async def write_comment(url: URL, comment: str) -> None:
    literal = comment.replace("'", "''")
    await _admin(url, f"COMMENT ON DATABASE {_quote(url.database or '')} IS '{literal}'")


async def clone(template: URL, url: URL, attempts: int = 20) -> None:
    """``CREATE DATABASE url TEMPLATE template``, retried while the template is busy.

    PostgreSQL refuses a template that has other connections ("source database
    ... is being accessed by other users"): another worker cloning at the same
    moment, or a session that has not closed yet.
    """
    import asyncio

    from .errors import AksaraError

    name, source = _quote(url.database or ""), _quote(template.database or "")
    for attempt in range(attempts):
        try:
            await _admin(url, f"CREATE DATABASE {name} TEMPLATE {source}")
            return
        except Exception as exc:
            if "being accessed by other users" not in str(exc):
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    raise AksaraError(
        f"could not clone {template.database} into {url.database}: another connection keeps "
        f"using {template.database} (another aksara run?); close it, or wait and run again"
    )
