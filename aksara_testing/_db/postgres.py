"""PostgreSQL database admin: create, drop and clone databases, their comments, the run lock.

Every statement here runs on an admin connection (:func:`admin_engine`): the
server's maintenance database, in autocommit (``CREATE`` and ``DROP
DATABASE`` cannot run in a transaction), named so the connection guard lets
it through.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import pool, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .diagnostics import ADMIN_DATABASE
from .guard import ADMIN_APPLICATION  # the guard lets these connections through
from .holders import DEAD_HOLDER_WAIT, died_here, holder_of
from .sqlstate import (
    DUPLICATE_DATABASE,
    INSUFFICIENT_PRIVILEGE,
    INVALID_CATALOG_NAME,
    OBJECT_IN_USE,
    sqlstate,
)

__all__ = [
    "RunLock",
    "admin_engine",
    "drop",
    "read_own_comment",
    "recreate",
    "write_comment",
]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def admin_engine(
    url: URL, application_name: str = ADMIN_APPLICATION, **connect_args: Any
) -> AsyncEngine:
    """An engine on the maintenance database of ``url``'s server, in autocommit, pooling nothing.

    ``application_name`` must start with ``aksara admin`` for the connection
    guard to let it through; ``connect_args`` go to the driver as well.
    """
    return create_async_engine(
        url.set(database=ADMIN_DATABASE),
        isolation_level="AUTOCOMMIT",
        poolclass=pool.NullPool,
        connect_args={"server_settings": {"application_name": application_name}, **connect_args},
    )


@contextlib.asynccontextmanager
async def _admin_connection(url: URL) -> AsyncIterator[AsyncConnection]:
    """One admin connection to ``url``'s server, closed with its engine afterwards."""
    engine = admin_engine(url)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


# How long a drop keeps retrying while sessions it may not end (autovacuum) are still
# in the database: a deadline, since under load one retry can take seconds.
DROP_WAIT_SECONDS = 30.0


async def drop(url: URL) -> None:
    """Drop the database, ending its sessions (retried while autovacuum is in it)."""
    async with _admin_connection(url) as connection:
        await _drop_on(connection, url.database or "")


async def recreate(url: URL) -> None:
    """Drop the database if it exists and create it empty, on one admin connection."""
    async with _admin_connection(url) as connection:
        await _drop_on(connection, url.database or "")
        await connection.execute(text(f"CREATE DATABASE {_quote(url.database or '')}"))


async def _drop_on(
    connection: Any, name: str, *, force: bool = True, seconds: float = DROP_WAIT_SECONDS
) -> None:
    """``DROP DATABASE IF EXISTS name WITH (FORCE)`` on an admin ``connection``, retried.

    ``FORCE`` ends the sessions still in the database (a leftover of a killed
    run). Without it, the drop waits for them, retried as :func:`_transient` says.
    """
    sql = f"DROP DATABASE IF EXISTS {_quote(name)}" + (" WITH (FORCE)" if force else "")
    await _retried(connection, sql, name, seconds=seconds)


_READ_COMMENT = "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = "


async def read_own_comment(engine: AsyncEngine) -> str | None:
    """The comment of the database ``engine`` points at; None if it does not exist.

    Read through the test engine itself: a reused database then costs one
    connection, which the run keeps.
    """
    try:
        async with engine.connect() as connection:
            value = await connection.scalar(text(_READ_COMMENT + "current_database()"))
    except Exception as exc:
        if sqlstate(exc) == INVALID_CATALOG_NAME:
            return None
        raise
    return value if isinstance(value, str) else None


async def write_comment(url: URL, comment: str) -> None:
    async with _admin_connection(url) as connection:
        await _comment_on(connection, url.database or "", comment)


async def _comment_on(connection: Any, name: str, comment: str) -> None:
    literal = comment.replace("'", "''")
    await connection.execute(text(f"COMMENT ON DATABASE {_quote(name)} IS '{literal}'"))


async def _clone_on(
    connection: Any,
    template: URL,
    url: URL,
    comment: str | None,
    wait: float | None = None,
) -> None:
    """Replace the database at ``url`` by a copy of ``template`` on ``connection`` (autocommit).

    ``CREATE DATABASE ... TEMPLATE``; if ``url``'s database exists (a leftover
    of a killed run, or a reused one being rebuilt), ``DROP ... WITH (FORCE)``
    and again; then the ``comment``, if any. PostgreSQL refuses a template that
    has other connections ("source database ... is being accessed by other
    users", e.g. autovacuum after the migrations): we wait for them to leave,
    and retry.
    """
    from ..errors import ConfigurationError

    name = url.database or ""
    await _wait_unused(connection, template.database or "")
    sql = f"CREATE DATABASE {_quote(name)} TEMPLATE {_quote(template.database or '')}"
    # The server itself waits up to 5 s for other sessions to leave the template on
    # each attempt: a deadline, not a number of attempts, bounds the whole wait.
    wait = CLONE_WAIT_SECONDS if wait is None else wait
    deadline = time.monotonic() + wait
    dropped = False
    while True:
        try:
            await connection.execute(text(sql))
            break
        except Exception as exc:
            code = sqlstate(exc)
            if code == DUPLICATE_DATABASE and not dropped:
                await _drop_on(connection, name)
                dropped = True
                continue
            if code != OBJECT_IN_USE:
                raise
            if time.monotonic() > deadline:
                holders = await _holders(connection, template.database or "")
                raise ConfigurationError(
                    f"could not clone {template.database} into {url.database}: another "
                    f"connection keeps using {template.database} ({holders}) after "
                    f"{wait:g} s; close it (an engine the project's env.py "
                    "leaves open: dispose it), or wait for the other run and run again"
                ) from None
            await asyncio.sleep(0.05)
    if comment is not None:
        await _comment_on(connection, name, comment)


CLONE_WAIT_SECONDS = 5.0  # and the server waits up to 5 s within the last attempt


async def _holders(connection: Any, name: str) -> str:
    """Who is in database ``name``: ``pid 4242 application 'myapp' (idle)``, comma-separated."""
    rows = await connection.execute(
        text(
            "SELECT pid, application_name, state FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid() ORDER BY pid"
        ),
        {"name": name},
    )
    found = [
        f"pid {pid} application {app or '(none)'!r} ({state or 'unknown'})"
        for pid, app, state in rows
    ]
    return ", ".join(found) or "it left meanwhile"


async def _wait_unused(connection: Any, name: str, seconds: float = 0.5) -> None:
    """Wait (briefly) until no session is in database ``name``.

    A closed connection's server process leaves a few milliseconds after the
    client let go; a ``CREATE DATABASE ... TEMPLATE`` that meets it makes the
    server itself sleep 100 ms before looking again. Polling here costs ~1 ms.
    """
    deadline = time.monotonic() + seconds
    query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name")
    while await connection.scalar(query, {"name": name}) and time.monotonic() < deadline:
        await asyncio.sleep(0.002)


async def _retried(
    connection: Any, sql: str, database: str, *, seconds: float = DROP_WAIT_SECONDS
) -> None:
    """Run ``sql`` (about ``database``), retrying while :func:`_transient` says to.

    Retried until ``seconds`` have passed since the first attempt (the last
    attempt starts before the deadline); the pause grows from 50 ms to 1 s.
    """
    deadline = time.monotonic() + seconds
    pause = 0.05
    looked_empty = False
    while True:
        try:
            await connection.execute(text(sql))
            return
        except Exception as exc:
            if time.monotonic() >= deadline:
                raise
            if not await _transient(connection, exc, database):
                # A refusal to end a session (42501) with nobody left inside: the session
                # (autovacuum) may have left between the error and the look, so one more
                # attempt tells it from a missing privilege, which fails the same way again.
                if looked_empty or sqlstate(exc) != INSUFFICIENT_PRIVILEGE:
                    raise
                looked_empty = True
        await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 1.0)


async def _transient(connection: Any, exc: Exception, database: str) -> bool:
    """An error that passes in moments, told by its SQLSTATE (never by its translated text).

    ``55006``: a database or template that sessions are still leaving. ``42501``
    from ``DROP ... WITH (FORCE)``: it met a session it may not end (autovacuum,
    run as the superuser); that one leaves by itself, unlike a missing privilege
    ("must be owner of database"), which fails the same way with nobody inside.
    """
    code = sqlstate(exc)
    if code == OBJECT_IN_USE:
        return True
    if code != INSUFFICIENT_PRIVILEGE:
        return False
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"
    )
    return bool(await connection.scalar(query, {"name": database}))


def _lock_key(url: URL) -> dict[str, str]:
    """The advisory lock key of ``url``'s database name (the run lock's)."""
    return {"k": f"aksara:{url.database or ''}"}


class RunLock:
    """A server-wide advisory lock on a test database's name, held for the whole run.

    Two runs (two checkouts, two terminals) on one server would otherwise drop
    each other's test database. The lock lives on its own connection, so a run
    killed with ``kill -9`` releases it with its connection.
    """

    def __init__(self, engine: AsyncEngine, connection: Any) -> None:
        self._engine = engine
        self._connection = connection
        self._dropping: asyncio.Task[None] | None = None

    @classmethod
    async def take(cls, url: URL, owner: str, *, wait: bool = False) -> RunLock:
        """Take the lock on ``url``'s database name, or raise a one-line error naming the holder.

        With ``wait``, block until the holder lets go instead (short critical
        sections such as building the template of parallel workers).
        """
        import os

        from ..errors import ConfigurationError

        name = url.database or ""
        label = f"{ADMIN_APPLICATION}: {name} pid {os.getpid()} {owner}"[:63]
        engine = admin_engine(url, application_name=label)
        started = time.monotonic()
        connection = await engine.connect()
        function = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
        statement = text(f"SELECT {function}(hashtext(:k))")
        taken = await connection.scalar(statement, _lock_key(url))
        if wait or taken:
            return cls(engine, connection)
        holder = await holder_of(connection, name)
        if holder is not None and died_here(*holder):  # a killed run's connection, leaving
            while not taken and time.monotonic() < started + DEAD_HOLDER_WAIT:
                await asyncio.sleep(0.05)
                taken = await connection.scalar(statement, _lock_key(url))
            if taken:
                return cls(engine, connection)
            holder = await holder_of(connection, name)
        await connection.close()
        await engine.dispose()
        raise ConfigurationError(
            f"test database {name} is in use by another run "
            f"({holder[0] if holder else 'unknown holder'}); "
            "wait for it to finish, or give this checkout its own test_database_url"
        )

    @contextlib.asynccontextmanager
    async def holding(self, url: URL) -> AsyncIterator[None]:
        """Also hold the lock on ``url``'s database name while the block runs (waiting for it).

        Taken on this lock's own connection: no extra connection to the server.
        """
        await self.lock(url)
        try:
            yield
        finally:
            await self.unlock(url)

    async def try_lock(self, url: URL) -> bool:
        """Hold the lock on ``url``'s database name exclusively if nobody holds it; False if not."""
        taken = await self._connection.scalar(
            text("SELECT pg_try_advisory_lock(hashtext(:k))"), _lock_key(url)
        )
        return bool(taken)

    async def lock(self, url: URL, *, shared: bool = False) -> None:
        """Wait for, then hold, the lock on ``url``'s database name (until :meth:`unlock`).

        ``shared``: any number of holders at once, none while someone holds it
        exclusively (e.g. clones of a template, but not while it is built or dropped).
        """
        function = "pg_advisory_lock_shared" if shared else "pg_advisory_lock"
        await self._connection.execute(text(f"SELECT {function}(hashtext(:k))"), _lock_key(url))

    async def unlock(self, url: URL, *, shared: bool = False) -> None:
        function = "pg_advisory_unlock_shared" if shared else "pg_advisory_unlock"
        await self._connection.execute(text(f"SELECT {function}(hashtext(:k))"), _lock_key(url))

    async def comment_of(self, url: URL) -> str | None:
        """The comment of ``url``'s database, read from the catalogue without connecting to it."""
        value = await self._connection.scalar(
            text(_READ_COMMENT + ":name"), {"name": url.database or ""}
        )
        return value if isinstance(value, str) else None

    async def recreate(self, url: URL) -> None:
        """Drop ``url``'s database if it exists and create it empty, on this lock's connection."""
        await _drop_on(self._connection, url.database or "")
        await self._connection.execute(text(f"CREATE DATABASE {_quote(url.database or '')}"))

    async def drop(self, url: URL) -> None:
        """Drop ``url``'s database (ending its sessions), on this lock's connection."""
        await _drop_on(self._connection, url.database or "")

    async def comment(self, url: URL, comment: str) -> None:
        await _comment_on(self._connection, url.database or "", comment)

    async def clone(self, template: URL, url: URL, comment: str | None = None) -> None:
        """Replace ``url``'s database by a copy of ``template``, on this lock's connection."""
        await _clone_on(self._connection, template, url, comment)

    def drop_soon(self, url: URL) -> None:
        """Drop ``url``'s database in the background, holding its name's lock meanwhile.

        For a template nobody needs any more: PostgreSQL 15 makes ``DROP
        DATABASE`` wait for a checkpoint (~0.3 s after a few clones), which the
        tests need not wait for. :meth:`settle` says whether it worked. Nothing
        else may use this lock's connection until then.
        """
        self._dropping = asyncio.ensure_future(self._drop_held(url))

    async def _drop_held(self, url: URL) -> None:
        async with self.holding(url):
            # No FORCE: only autovacuum may be in a template, and the server ends it
            # itself; FORCE would fail on it ("must be a member of the role...").
            await _drop_on(self._connection, url.database or "", force=False)

    async def settle(self) -> bool:
        """Wait for a :meth:`drop_soon`; False if it failed (the database may still exist)."""
        dropping, self._dropping = self._dropping, None
        if dropping is None:
            return True
        try:
            await dropping
        except Exception:
            return False
        return True

    async def release(self) -> None:
        await self.settle()
        await self._connection.close()
        await self._engine.dispose()
