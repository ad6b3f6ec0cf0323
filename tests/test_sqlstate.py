"""PostgreSQL errors are told apart by SQLSTATE, so a server speaking German works too.

The PostgreSQL role these tests use may not set ``lc_messages`` (a superuser
setting), so a non-English server is stood in for by errors that carry the
real SQLSTATE with a translated message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import Project
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from aksara_testing._db import postgres as _postgres
from aksara_testing._db.sqlstate import sqlstate
from aksara_testing.errors import AksaraError


class GermanServerError(Exception):
    """What asyncpg or psycopg raise: the SQLSTATE, and the server's (translated) message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.sqlstate = code


MISSING = GermanServerError("3D000", "Datenbank »test_app« existiert nicht")
IN_USE = GermanServerError(
    "55006", "auf Quelldatenbank »test_app_template« wird gerade von anderen Benutzern zugegriffen"
)
NOT_OWNER = GermanServerError("42501", "keine Berechtigung: muss Eigentümer der Datenbank sein")


# --- finding the code ------------------------------------------------------------------------


def test_the_code_is_found_on_the_driver_error_inside_sqlalchemys() -> None:
    wrapped = DBAPIError("SELECT 1", None, MISSING)
    assert sqlstate(wrapped) == "3D000"


def test_the_code_is_found_through_the_cause_and_the_context() -> None:
    try:
        try:
            raise MISSING
        except GermanServerError as exc:
            raise RuntimeError("while reading the comment") from exc
    except RuntimeError as exc:
        assert sqlstate(exc) == "3D000"


class Psycopg2Error(Exception):
    pgcode = "55006"


class Diagnostic:
    sqlstate = "42P04"


class Psycopg3Error(Exception):
    sqlstate = None
    diag = Diagnostic()


def test_every_drivers_spelling_of_the_code_is_read() -> None:
    assert sqlstate(Psycopg2Error("x")) == "55006"
    assert sqlstate(Psycopg3Error("x")) == "42P04"
    assert sqlstate(Exception({"S": "FEHLER", "C": "3D000", "M": "existiert nicht"})) == "3D000"


def test_errors_without_a_code_have_none() -> None:
    assert sqlstate(ConnectionRefusedError("connection refused")) is None
    assert sqlstate(Exception("does not exist")) is None  # English text alone means nothing


# --- what _postgres does with it ------------------------------------------------------------


class FailingEngine:
    """Stands in for the test engine of a database that is not there."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[Any]:
        raise self.error
        yield  # pragma: no cover


def test_a_missing_database_in_german_reads_as_missing() -> None:
    comment = asyncio.run(_postgres.read_own_comment(FailingEngine(MISSING)))  # type: ignore[arg-type]
    assert comment is None


def test_other_errors_reading_the_comment_are_raised() -> None:
    with pytest.raises(GermanServerError):
        asyncio.run(_postgres.read_own_comment(FailingEngine(NOT_OWNER)))  # type: ignore[arg-type]


class AdminConnection:
    """Stands in for an admin connection: statements starting with ``failing`` fail with
    ``errors`` in turn, then succeed."""

    def __init__(self, *errors: Exception, others_inside: int = 0, failing: str = "") -> None:
        self.errors = list(errors)
        self.others_inside = others_inside
        self.failing = failing
        self.statements: list[str] = []

    async def execute(self, statement: Any, params: Any = None) -> list[Any]:
        self.statements.append(str(statement))
        if self.errors and str(statement).startswith(self.failing):
            raise self.errors.pop(0)
        return []  # no rows (who is in a database: nobody)

    async def scalar(self, statement: Any, params: Any = None) -> int:
        assert "pg_stat_activity" in str(statement)
        return self.others_inside


def test_an_object_in_use_error_in_german_is_retried() -> None:
    connection = AdminConnection(IN_USE, IN_USE)
    asyncio.run(_postgres._retried(connection, "CREATE DATABASE x", "test_app"))
    assert len(connection.statements) == 3


def test_force_meeting_a_session_it_may_not_end_is_retried_until_it_leaves() -> None:
    # Autovacuum runs as the superuser; DROP ... WITH (FORCE) cannot end it: 42501.
    connection = AdminConnection(NOT_OWNER, others_inside=1)
    asyncio.run(_postgres._retried(connection, "DROP DATABASE x WITH (FORCE)", "test_app"))
    assert len(connection.statements) == 2


def test_a_missing_privilege_with_nobody_inside_is_raised_after_one_more_attempt() -> None:
    connection = AdminConnection(NOT_OWNER, NOT_OWNER, NOT_OWNER, others_inside=0)
    with pytest.raises(GermanServerError):
        asyncio.run(_postgres._retried(connection, "DROP DATABASE x", "test_app"))
    assert len(connection.statements) == 2


def test_force_meeting_a_session_that_left_before_the_look_is_retried_once() -> None:
    # Seen in CI: autovacuum was inside when DROP ... WITH (FORCE) failed, gone when the
    # drop looked who was inside; the next attempt drops the database.
    connection = AdminConnection(NOT_OWNER, others_inside=0)
    asyncio.run(_postgres._retried(connection, "DROP DATABASE x WITH (FORCE)", "test_app"))
    assert len(connection.statements) == 2


class Clock:
    """Stands in for ``time.monotonic`` and ``asyncio.sleep``: sleeping moves the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(_postgres.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(_postgres.asyncio, "sleep", clock.sleep)
    return clock


def test_a_drop_meeting_autovacuum_is_retried_until_its_deadline_however_many_times(
    clock: Clock,
) -> None:
    # Under load autovacuum can stay for seconds: 25 refusals (once the old count's
    # limit was 20) still end in a dropped database, well within the 30 s.
    connection = AdminConnection(*[NOT_OWNER] * 25, others_inside=1)
    asyncio.run(_postgres._drop_on(connection, "test_app"))
    assert len(connection.statements) == 26
    assert clock.now - 1000.0 < _postgres.DROP_WAIT_SECONDS


def test_a_drop_still_refused_at_its_deadline_raises_the_servers_error(clock: Clock) -> None:
    connection = AdminConnection(*[NOT_OWNER] * 1000, others_inside=1)
    with pytest.raises(GermanServerError):
        asyncio.run(_postgres._drop_on(connection, "test_app", seconds=30))
    assert clock.now - 1000.0 == pytest.approx(30)  # waited the whole 30 s, not longer
    assert max(clock.pauses) <= 1.0  # and looked again at least once a second


def test_a_template_kept_in_use_in_german_is_the_one_line_clone_error() -> None:
    connection = AdminConnection(*[IN_USE] * 3, failing="CREATE")
    template = make_url("postgresql+asyncpg://u@h/test_app_template")
    url = make_url("postgresql+asyncpg://u@h/test_app_gw0")
    with pytest.raises(AksaraError, match="another connection keeps using test_app_template"):
        asyncio.run(_postgres._clone_on(connection, template, url, None, wait=0))


# --- through a real server --------------------------------------------------------------------


@pytest.mark.postgres
def test_reuse_db_rebuilds_a_missing_database_whatever_the_servers_language(
    pytester: pytest.Pytester, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncpg

    # The server's "database does not exist", as a German server words it (SQLSTATE unchanged).
    def german(self: Exception, *args: object) -> None:
        Exception.__init__(self, "Datenbank »test_app« existiert nicht")

    monkeypatch.setattr(asyncpg.exceptions.InvalidCatalogNameError, "__init__", german)
    project = Project(pytester, "postgres", postgres_url)
    pytester.makepyfile(
        test_it="""
        from helpers import count

        async def test_it(db_session):
            assert await count(db_session) == 0
        """
    )
    try:
        result = project.run("--aksara-reuse-db")
    finally:
        url = make_url(postgres_url).set(drivername="postgresql+asyncpg")
        asyncio.run(_postgres.drop(url.set(database=f"test_{project.name}")))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"aksara: test database *test_{project.name} created"])
