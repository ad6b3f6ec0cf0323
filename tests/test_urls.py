"""Deriving the test database URL from the app's settings, and masking passwords."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

from aksara_testing._db.urls import database_name, derive_test_url, is_memory
from aksara_testing._settings import Settings, mask_url
from aksara_testing.errors import ConfigurationError

ROOT = Path("/srv/project")
TMP = Path("/tmp/aksara-run")


def derive_url(
    database_url: str | None = None, test_database_url: str | None = None, suffix: str = ""
) -> URL:
    settings = Settings(
        root=ROOT,
        database_url=database_url,
        test_database_url=test_database_url,
        sources={"database_url": "pyproject.toml", "test_database_url": "pyproject.toml"},
    )
    return derive_test_url(settings, TMP, suffix)


def derive(
    database_url: str | None = None, test_database_url: str | None = None, suffix: str = ""
) -> str:
    """The derived test URL as a string, password included."""
    url = derive_url(database_url, test_database_url, suffix)
    return url.render_as_string(hide_password=False)


# --- SQLite ------------------------------------------------------------------------------------


def test_sqlite_file_becomes_an_aiosqlite_test_file_in_the_given_directory() -> None:
    assert derive("sqlite:///app.db") == f"sqlite+aiosqlite:///{TMP}/test_app.db"


def test_relative_sqlite_path_keeps_only_its_file_name() -> None:
    assert derive("sqlite:///data/nested/app.db") == f"sqlite+aiosqlite:///{TMP}/test_app.db"


def test_absolute_sqlite_path_keeps_only_its_file_name() -> None:
    assert derive("sqlite:////var/lib/myapp/app.db") == f"sqlite+aiosqlite:///{TMP}/test_app.db"


def test_sqlite_file_extension_is_kept_and_defaults_to_db() -> None:
    assert derive("sqlite:///app.sqlite3") == f"sqlite+aiosqlite:///{TMP}/test_app.sqlite3"
    assert derive("sqlite:///app") == f"sqlite+aiosqlite:///{TMP}/test_app.db"


def test_sqlite_app_file_already_named_test_gets_a_second_prefix() -> None:
    assert derive("sqlite:///test_app.db") == f"sqlite+aiosqlite:///{TMP}/test_test_app.db"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_stays_in_memory_on_aiosqlite(url: str) -> None:
    derived = derive_url(url)

    assert derived.drivername == "sqlite+aiosqlite"
    assert derived.database in (None, ":memory:")
    assert is_memory(derived)


def test_in_memory_sqlite_ignores_the_worker_suffix() -> None:
    assert derive("sqlite://", suffix="_gw0") == "sqlite+aiosqlite://"
    assert derive_url("sqlite:///:memory:", suffix="_gw0").database == ":memory:"


def test_explicit_aiosqlite_driver_is_kept() -> None:
    assert derive("sqlite+aiosqlite:///app.db") == f"sqlite+aiosqlite:///{TMP}/test_app.db"


# --- PostgreSQL --------------------------------------------------------------------------------


def test_postgresql_gets_asyncpg_and_a_test_prefix() -> None:
    assert derive("postgresql://u:p@h/app") == "postgresql+asyncpg://u:p@h/test_app"


def test_postgresql_port_and_query_are_kept() -> None:
    derived = derive("postgresql://u:p@h:6543/app?ssl=disable")

    assert derived == "postgresql+asyncpg://u:p@h:6543/test_app?ssl=disable"


def test_explicit_asyncpg_driver_is_kept() -> None:
    assert derive("postgresql+asyncpg://u@h/app") == "postgresql+asyncpg://u@h/test_app"


def test_postgresql_app_database_already_named_test_gets_a_second_prefix() -> None:
    assert derive("postgresql://u@h/test_app") == "postgresql+asyncpg://u@h/test_test_app"


# --- test_database_url -------------------------------------------------------------------------


def test_test_database_url_is_used_as_given_apart_from_the_driver() -> None:
    derived = derive("postgresql://u:p@h/app", "postgresql://u:p@other/test_custom")

    assert derived == "postgresql+asyncpg://u:p@other/test_custom"


def test_test_database_url_needs_no_database_url() -> None:
    assert derive(None, "postgresql+asyncpg://u@h/test_x") == "postgresql+asyncpg://u@h/test_x"


def test_relative_sqlite_test_database_url_is_resolved_against_the_project_root() -> None:
    derived = derive("sqlite:///app.db", "sqlite:///db/test_mine.db")

    assert derived == f"sqlite+aiosqlite:///{ROOT}/db/test_mine.db"


def test_absolute_sqlite_test_database_url_is_kept() -> None:
    derived = derive("sqlite:///app.db", "sqlite:////var/tmp/test_mine.db")

    assert derived == "sqlite+aiosqlite:////var/tmp/test_mine.db"


def test_in_memory_test_database_url_stays_in_memory() -> None:
    assert derive("sqlite:///app.db", "sqlite://") == "sqlite+aiosqlite://"


# --- the worker suffix -------------------------------------------------------------------------


def test_suffix_is_appended_to_a_derived_postgresql_name() -> None:
    assert derive("postgresql://u@h/app", suffix="_gw0") == "postgresql+asyncpg://u@h/test_app_gw0"


def test_suffix_is_appended_to_a_derived_sqlite_file_name() -> None:
    derived = derive("sqlite:///app.db", suffix="_gw3")

    assert derived == f"sqlite+aiosqlite:///{TMP}/test_app_gw3.db"


def test_suffix_is_appended_to_an_explicit_postgresql_test_database() -> None:
    derived = derive(None, "postgresql://u@h/test_custom", suffix="_gw1")

    assert derived == "postgresql+asyncpg://u@h/test_custom_gw1"


def test_suffix_keeps_an_explicit_sqlite_test_file_in_its_own_directory() -> None:
    derived = derive(None, "sqlite:///db/test_mine.sqlite", suffix="_gw1")

    assert derived == f"sqlite+aiosqlite:///{ROOT}/db/test_mine_gw1.sqlite"


# --- errors ------------------------------------------------------------------------------------


def test_missing_database_url_names_the_setting_and_where_to_set_it() -> None:
    with pytest.raises(ConfigurationError) as raised:
        derive(None)

    message = str(raised.value)
    assert "database_url" in message
    assert "[tool.aksara]" in message
    assert "AKSARA_DATABASE_URL" in message
    assert "\n" not in message


@pytest.mark.parametrize("key", ["database_url", "test_database_url"])
def test_a_value_that_is_not_a_url_names_the_setting_its_source_and_an_example(key: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        derive(**{key: "not a url at all"})

    message = str(raised.value)
    assert message.startswith(f"setting {key} = 'not a url at all' (from pyproject.toml)")
    assert "sqlite:///app.db" in message
    assert "\n" not in message


def test_a_bad_url_is_shown_with_its_password_masked() -> None:
    with pytest.raises(ConfigurationError) as raised:
        derive("postgresql://u:hunter2@h:notaport/app")

    assert "hunter2" not in str(raised.value)
    assert "u:***@h" in str(raised.value)


# --- helpers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:secret@h/app", "postgresql://u:***@h/app"),
        (
            "postgresql+asyncpg://user:p%40ss:w@h:5432/app",
            "postgresql+asyncpg://user:***@h:5432/app",
        ),
        ("postgresql://:secret@h/app", "postgresql://:***@h/app"),
        ("postgresql://u@h/app", "postgresql://u@h/app"),
        ("postgresql://h/app", "postgresql://h/app"),
        ("sqlite:///app.db", "sqlite:///app.db"),
        ("sqlite:////abs/path/app.db", "sqlite:////abs/path/app.db"),
    ],
)
def test_mask_url_hides_passwords_and_nothing_else(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_mask_url_hides_a_password_given_as_a_query_parameter() -> None:
    assert "secret" not in mask_url("postgresql://u@h/app?password=secret")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("sqlite+aiosqlite:////tmp/x/test_app.db", "test_app"),
        ("sqlite+aiosqlite:///rel/test_app.sqlite3", "test_app"),
        ("postgresql+asyncpg://u@h/test_app", "test_app"),
        ("postgresql+asyncpg://u@h", ""),
    ],
)
def test_database_name_is_the_sqlite_file_stem_or_the_database(url: str, name: str) -> None:
    assert database_name(make_url(url)) == name


@pytest.mark.parametrize(
    ("url", "memory"),
    [
        ("sqlite://", True),
        ("sqlite+aiosqlite:///:memory:", True),
        ("sqlite+aiosqlite:///test_app.db", False),
        ("postgresql+asyncpg://u@h/test_app", False),
    ],
)
def test_is_memory_only_for_in_memory_sqlite(url: str, memory: bool) -> None:
    assert is_memory(make_url(url)) is memory


# --- a server URL that names no database ------------------------------------------------------

NO_NAME = [
    "postgresql://u:secret@db.example",
    "postgresql://u:secret@db.example/",
    "postgresql://u:secret@db.example:5432/?sslmode=require",
]


@pytest.mark.parametrize("url", NO_NAME)
def test_a_database_url_without_a_database_name_is_refused_not_named_test_(url: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        derive_url(url, suffix="_gw0")  # was test_, test__gw0
    message = str(error.value)
    assert message.startswith("setting database_url = 'postgresql://u:***@db.example")
    assert "(from pyproject.toml) names no database" in message
    assert "like 'postgresql://user@host/app'" in message
    assert "secret" not in message


def test_a_test_database_url_without_a_database_name_is_refused_too() -> None:
    with pytest.raises(ConfigurationError, match=r"test_database_url = .* names no database"):
        derive_url("postgresql://u@h/app", "postgresql://u@h/")


def test_a_database_url_without_a_name_stops_the_run_with_exit_4(
    pytester: pytest.Pytester,
) -> None:
    # Port 9 (discard): were the URL used, nothing could be created anywhere.
    pytester.makepyprojecttoml(
        '[tool.aksara]\ndatabase_url = "postgresql://u:secret@127.0.0.1:9"\n'
    )
    pytester.makepyfile(
        """
        from sqlalchemy import text

        async def test_uses_the_database(db_session):
            await db_session.execute(text("SELECT 1"))

        async def test_again(db_session):
            await db_session.execute(text("SELECT 1"))
        """
    )

    # In a process of its own, as a user runs it: pytest formats the exit's traceback,
    # and in-process that includes this run's frames (CPython 3.11's ast.parse then
    # sometimes fails with "AST constructor recursion depth mismatch").
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider")

    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == 4, output
    lines = [line for line in output.splitlines() if "names no database" in line]
    assert len(lines) == 1, output
    assert "database_url = 'postgresql://u:***@127.0.0.1:9' (from pyproject.toml)" in lines[0]
    assert "Traceback" not in output
    assert "secret" not in output
