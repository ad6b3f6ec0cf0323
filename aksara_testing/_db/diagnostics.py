"""Why a PostgreSQL server cannot be used, in one line: for ``aksara test`` and ``aksara doctor``.

A failure is told apart by its exception type and PostgreSQL's SQLSTATE (see
:mod:`.sqlstate`), never by the server's message: its language
follows the server's ``lc_messages``. The line names the server as
``host:port``, what failed, the setting the URL came from and the fix, and
never the password.

Example::

    try:
        await connect_first(RunLock.take(url, owner), server)
    except ConfigurationError as exc:
        print(exc)  # PostgreSQL at db:5432 refused the connection (...); start the server, ...
"""

from __future__ import annotations

import asyncio
import getpass
import re
import socket
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from .._text import typed_line
from ..errors import ConfigurationError
from .sqlstate import INSUFFICIENT_PRIVILEGE, INVALID_CATALOG_NAME, sqlstate

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from .._settings import Settings

__all__ = [
    "ADMIN_DATABASE",
    "CONNECT_TIMEOUT",
    "DOCTOR_HINT",
    "Server",
    "build_problem",
    "connect_first",
    "connection_problem",
    "no_createdb",
]

CONNECT_TIMEOUT = 5.0  # seconds: a server that has not answered by then counts as down
ADMIN_DATABASE = "postgres"  # where aksara connects to create and drop test databases
DOCTOR_HINT = ", then run `aksara doctor`"
_T = TypeVar("_T")
_DATABASE_NAME = re.compile(r'DATABASE (?:IF EXISTS )?"((?:[^"]|"")+)"', re.IGNORECASE)


@dataclass(frozen=True)
class Server:
    """A PostgreSQL server as the messages name it, and where its URL came from."""

    address: str  # host:port
    user: str
    setting: str  # e.g. "database_url (from pyproject.toml)"
    password: str = ""  # only to keep it out of the server's own words
    hint: str = ""  # appended to every fix, e.g. DOCTOR_HINT

    @classmethod
    def of(cls, url: URL, setting: str, hint: str = "") -> Server:
        return cls(
            address=f"{url.host or 'localhost'}:{url.port or 5432}",
            user=url.username or getpass.getuser(),
            setting=setting,
            password=str(url.password or ""),
            hint=hint,
        )

    @classmethod
    def of_settings(cls, settings: Settings, hint: str = "") -> Server:
        """The server of the test database the settings describe."""
        from sqlalchemy.engine import make_url

        key = "test_database_url" if settings.test_database_url else "database_url"
        url = make_url(getattr(settings, key) or "postgresql://")
        return cls.of(url, f"{key} (from {settings.source(key)})", hint)


async def connect_first(work: Awaitable[_T], server: Server) -> _T:
    """Await the run's first connection to ``server``, at most ``CONNECT_TIMEOUT`` seconds.

    A failure to connect becomes a one-line :class:`ConfigurationError`;
    aksara's own errors (a database in use by another run) pass unchanged.
    """
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            return await work
    except ConfigurationError:
        raise
    except Exception as exc:
        problem = connection_problem(exc, server) or _unknown(exc, server)
        raise problem from None


def build_problem(exc: BaseException, server: Server) -> ConfigurationError | None:
    """The line for a failure while setting up the test database; None if it is not the server's.

    Past the first connection, only a lost server and a missing privilege for
    ``CREATE``/``DROP DATABASE`` are the server set-up's; anything else (the
    schema's own DDL, a test database that went missing) keeps its traceback.
    """
    code = sqlstate(exc)
    if code == INVALID_CATALOG_NAME:  # not the admin database: that one is connected already
        return None
    problem = connection_problem(exc, server)
    if problem is not None or code != INSUFFICIENT_PRIVILEGE:
        return problem
    statement = next((s for s in _statements(exc) if "DATABASE" in s.upper()), None)
    if statement is None:
        return None
    if statement.lstrip().upper().startswith("CREATE"):
        return no_createdb(server)
    match = _DATABASE_NAME.search(statement)
    name = match.group(1).replace('""', '"') if match else "the test database"
    return ConfigurationError(
        f"user '{server.user}' may not drop {name} on PostgreSQL at {server.address}: another "
        f"role owns it; drop it as its owner or a superuser, or use that role in {server.setting}"
        f"{server.hint}"
    )


def no_createdb(server: Server) -> ConfigurationError:
    """The line for a role that may not create databases."""
    return ConfigurationError(
        f"user '{server.user}' may not create databases on PostgreSQL at {server.address}; "
        f"run ALTER ROLE {server.user} CREATEDB as a superuser, or use another user in "
        f"{server.setting}{server.hint}"
    )


def connection_problem(exc: BaseException, server: Server) -> ConfigurationError | None:
    """The line for a failure to reach or log in to ``server``; None for any other error."""
    code = sqlstate(exc)
    if code is not None:
        return _refused_by_server(code, server)
    found = next((e for e in _chain(exc) if isinstance(e, OSError)), None)
    if isinstance(found, TimeoutError):
        return ConfigurationError(
            f"PostgreSQL at {server.address} did not answer within {CONNECT_TIMEOUT:g} s; start "
            f"the server or check the network, or fix the host and port in {server.setting}"
            f"{server.hint}"
        )
    if isinstance(found, ConnectionRefusedError):
        return ConfigurationError(
            f"PostgreSQL at {server.address} refused the connection (nothing listens on that "
            f"port); start the server, or fix the host and port in {server.setting}{server.hint}"
        )
    if isinstance(found, socket.gaierror):
        host = server.address.rsplit(":", 1)[0]
        return ConfigurationError(
            f"the host of PostgreSQL at {server.address} is unknown ({host} does not resolve); "
            f"fix the host in {server.setting}{server.hint}"
        )
    if found is not None:
        return ConfigurationError(
            f"cannot reach PostgreSQL at {server.address} ({_masked(found, server)}); start the "
            f"server or check the network, or fix the host and port in {server.setting}"
            f"{server.hint}"
        )
    return None


def _refused_by_server(code: str, server: Server) -> ConfigurationError | None:
    if code == "28P01":
        return ConfigurationError(
            f"PostgreSQL at {server.address} rejected the password of user '{server.user}' "
            "(a wrong password, or no such role); fix the user and password in "
            f"{server.setting}, or create the role with LOGIN, a password and CREATEDB"
            f"{server.hint}"
        )
    if code == "28000":
        return ConfigurationError(
            f"PostgreSQL at {server.address} does not let user '{server.user}' in (no such "
            f"role, or no pg_hba.conf line for it); create the role (CREATE ROLE {server.user} "
            f"LOGIN CREATEDB) or allow it in pg_hba.conf, or fix the user in {server.setting}"
            f"{server.hint}"
        )
    if code == INVALID_CATALOG_NAME:
        return ConfigurationError(
            f"PostgreSQL at {server.address} has no database '{ADMIN_DATABASE}', where aksara "
            "connects to create and drop test databases; create it as a superuser (CREATE "
            f"DATABASE {ADMIN_DATABASE}){server.hint}"
        )
    if code == "53300":
        return ConfigurationError(
            f"PostgreSQL at {server.address} has no connection slot left (too many "
            f"connections); close idle clients or raise max_connections{server.hint}"
        )
    if code in ("57P03", "57P01", "57P02"):
        return ConfigurationError(
            f"PostgreSQL at {server.address} is starting up, shutting down or in recovery "
            f"(SQLSTATE {code}); wait until it accepts connections{server.hint}"
        )
    if code.startswith(("08", "28")):
        return ConfigurationError(
            f"PostgreSQL at {server.address} refused the connection (SQLSTATE {code}); check "
            f"the server's log and {server.setting}{server.hint}"
        )
    return None


def _unknown(exc: BaseException, server: Server) -> ConfigurationError:
    """The first connection failed in a way not classified above (e.g. not a PostgreSQL port)."""
    return ConfigurationError(
        f"cannot connect to PostgreSQL at {server.address} ({_masked(exc, server)}); check that "
        f"a PostgreSQL server listens there and that {server.setting} is right{server.hint}"
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the driver error SQLAlchemy wraps (``orig``), their causes and contexts."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        error = pending.pop(0)
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        pending += [getattr(error, "orig", None), error.__cause__, error.__context__]


def _statements(exc: BaseException) -> Iterator[str]:
    for error in _chain(exc):
        statement = getattr(error, "statement", None)
        if isinstance(statement, str):
            yield statement


def _masked(exc: BaseException, server: Server) -> str:
    """The error's type and first line, without the password."""
    line = typed_line(exc)
    return line.replace(server.password, "***") if server.password else line
