"""Where a connection goes, and the one rule for "is this the app's own database".

The rule used to be written twice: ``check_safe`` compared PostgreSQL
databases by name on any host, the connection guard by host and port. The
cases where the two disagreed are here, each now answered the same way by
every part that asks: the safety check, the guard, the doctor.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from aksara_cli._doctor_check import CheckFailed
from aksara_cli._doctor_database import check_env
from aksara_testing._db.endpoints import (
    Endpoint,
    endpoint_of_url,
    same_address,
    same_database,
)
from aksara_testing._db.guard import ConnectionGuard
from aksara_testing._db.urls import check_safe, derive_test_url
from aksara_testing._settings import Settings
from aksara_testing.errors import UnsafeDatabaseError


def pg(database: str, host: str | None = "localhost", port: int | None = 5432) -> Endpoint:
    return Endpoint("postgresql", database, host, port)


# --- the rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("other", "same"),
    [
        (pg("shop"), True),
        (pg("shop", "127.0.0.1"), True),
        (pg("shop", "db.internal", 6432), True),  # a host name tells no two databases apart
        (pg("shop", None), True),
        (pg("test_shop"), False),
        (Endpoint("sqlite", "/srv/shop"), False),
    ],
)
def test_postgresql_databases_are_the_same_by_name_on_any_server(
    other: Endpoint, same: bool
) -> None:
    assert same_database(pg("shop", "10.0.0.5"), other) is same
    assert same_database(other, pg("shop", "10.0.0.5")) is same


def test_sqlite_files_are_the_same_through_links_and_dot_dots(tmp_path: Path) -> None:
    real = tmp_path / "app.db"
    real.write_bytes(b"")
    (tmp_path / "link.db").symlink_to(real)
    (tmp_path / "sub").mkdir()

    for spelling in ("link.db", "sub/../app.db", "app.db"):
        assert same_database(
            Endpoint("sqlite", str(tmp_path / spelling)), Endpoint("sqlite", str(real))
        )
    assert not same_database(
        Endpoint("sqlite", str(tmp_path / "other.db")), Endpoint("sqlite", str(real))
    )


def test_in_memory_sqlite_is_the_same_as_in_memory_only() -> None:
    memory = Endpoint("sqlite", ":memory:")

    assert same_database(memory, Endpoint("sqlite", ":memory:"))
    assert not same_database(memory, Endpoint("sqlite", "/tmp/test_app.db"))


@pytest.mark.parametrize(
    ("entry", "allowed"),
    [
        (pg("analytics", "localhost"), True),
        (pg("analytics", "127.0.0.1"), True),  # this machine's spellings are one host
        (pg("analytics", "/var/run/postgresql"), True),
        (pg("analytics", None), True),  # a bare name: on any server
        (pg("analytics", "db.internal"), False),
        (pg("analytics", "localhost", 6432), False),
        (pg("other", "localhost"), False),
    ],
)
def test_same_address_also_wants_the_host_and_port(entry: Endpoint, allowed: bool) -> None:
    assert same_address(pg("analytics", "::1"), entry) is allowed


def test_endpoint_of_url_takes_a_relative_sqlite_path_from_the_root(tmp_path: Path) -> None:
    assert endpoint_of_url("sqlite+aiosqlite:///data/app.db", tmp_path) == Endpoint(
        "sqlite", str((tmp_path / "data" / "app.db").resolve())
    )
    assert endpoint_of_url("sqlite://", tmp_path) == Endpoint("sqlite", ":memory:")
    assert endpoint_of_url("mysql://db/app", tmp_path) is None


def test_a_url_without_a_database_name_names_libpqs_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGDATABASE", raising=False)
    monkeypatch.delenv("PGUSER", raising=False)

    found = endpoint_of_url("postgres://shopper@db.internal:6432", tmp_path)

    assert found == Endpoint("postgresql", "shopper", "db.internal", 6432)


# --- where the safety check and the guard used to disagree ----------------------------------


def guard_for(settings: Settings, tmp_path: Path) -> ConnectionGuard:
    return ConnectionGuard(settings, tmp_path / "run")


def test_the_apps_name_on_another_server_is_refused_by_check_safe_and_the_guard(
    tmp_path: Path,
) -> None:
    """An app whose own database is ``test_shop``: that name elsewhere is no test database.

    The guard used to let ``test_shop`` on another host spelling through;
    the safety check refused it. Both refuse it now.
    """
    settings = Settings(root=tmp_path, database_url="postgresql://u@db.internal/test_shop")
    elsewhere = make_url("postgresql+asyncpg://u@10.0.0.5/test_shop")

    with pytest.raises(UnsafeDatabaseError, match="it is the app's own database"):
        check_safe(elsewhere, settings)
    assert not guard_for(settings, tmp_path).allows(pg("test_shop", "10.0.0.5"))


def test_neither_refuses_the_test_database_itself(tmp_path: Path) -> None:
    for database_url in ("postgresql://u@db.internal/test_shop", "sqlite:///test_shop.db"):
        settings = Settings(root=tmp_path, database_url=database_url)
        url = derive_test_url(settings, tmp_path / "run")
        endpoint = endpoint_of_url(url.render_as_string(hide_password=False), tmp_path)

        assert check_safe(url, settings).url == url
        assert endpoint is not None and "test_test_shop" in endpoint.database
        assert guard_for(settings, tmp_path).allows(endpoint)


def test_a_database_url_without_a_name_protects_the_database_libpq_would_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``postgresql://test_ci@host`` opens the database ``test_ci``: that one is the app's."""
    monkeypatch.delenv("PGDATABASE", raising=False)
    settings = Settings(
        root=tmp_path,
        database_url="postgresql://test_ci@db.internal",
        test_database_url="postgresql://test_ci@db.internal/test_ci",
    )

    with pytest.raises(UnsafeDatabaseError, match="it is the app's own database"):
        check_safe(make_url("postgresql+asyncpg://test_ci@db.internal/test_ci"), settings)
    assert not guard_for(settings, tmp_path).allows(pg("test_ci", "db.internal"))


def test_an_allow_databases_entry_lets_through_only_the_server_it_names(tmp_path: Path) -> None:
    settings = Settings(
        root=tmp_path,
        database_url="postgresql://u@localhost/shop",
        allow_databases=("postgresql://u@db.internal/analytics",),
    )
    guard = guard_for(settings, tmp_path)

    assert guard.allows(pg("analytics", "db.internal"))
    assert not guard.allows(pg("analytics", "10.0.0.5"))


def test_the_doctor_reads_an_env_url_on_another_host_spelling_as_database_urls_own(
    tmp_path: Path,
) -> None:
    """The guard treats it as the app's own database, so the doctor does not call it another."""

    def settings(env_url: str) -> Settings:
        return Settings(
            root=tmp_path, database_url="postgresql://u@db.internal/shop", env={"SHOP_URL": env_url}
        )

    assert check_env(settings("postgresql://u@10.0.0.5:5432/shop")) == (
        "ok",
        "SHOP_URL follow database_url",
    )
    with pytest.raises(CheckFailed, match="is not the database_url database"):
        check_env(settings("postgresql://u@db.internal/shop_archive"))
