"""``aksara init`` on sync SQLAlchemy apps, then ``aksara test`` on what it wrote."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sync_projects import CLASSIC, SCOPED, TEMPLATE, TEMPLATE_POSTGRES_CONFIG, TEMPLATE_TESTS
from test_init import aksara, make, passed, table


def sqlite_template(root: Path) -> Path:
    return make(root, TEMPLATE | TEMPLATE_TESTS)


# -- the three shapes, each run afterwards ----------------------------------------------------


def test_the_fastapi_starter_gets_its_engine_the_session_class_and_sqlmodel(
    tmp_path: Path,
) -> None:
    project = sqlite_template(tmp_path)

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert table(project) == {
        "app": "app.main:app",
        "database_url": "sqlite:///./app.db",
        "models": "app.models:SQLModel",
        "session": "sqlmodel:Session",
        "engine": "app.core.db:engine",
        "env": {"DATABASE_URL": "{database_url}"},
    }
    assert "engine        app.core.db:engine (create_engine() at app/core/db.py:6)" in (
        outcome.stdout
    )
    assert "session       sqlmodel:Session (Session(engine) call at app/api/deps.py:11)" in (
        outcome.stdout
    )
    assert (
        "models        app.models:SQLModel (metadata of 2 SQLModel tables, first at "
        "app/models.py:12)"
    ) in outcome.stdout
    assert "app/tests/conftest.py exists: left as it is" in outcome.stdout
    ran = aksara("test", cwd=project)
    assert ran.code == 0, ran.stdout + ran.stderr
    assert passed(ran) == 3
    assert not (project / "app.db").exists()


def test_the_classic_database_module_gets_session_local_and_the_models_module(
    tmp_path: Path,
) -> None:
    project = make(tmp_path, CLASSIC)

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert table(project) == {
        "app": "sql_app.main:app",
        "database_url": "sqlite:///./sql_app.db",
        "models": "sql_app.models:Base",
        "session": "sql_app.database:SessionLocal",
        "engine": "sql_app.database:engine",
    }
    assert (
        "models        sql_app.models:Base (declarative_base() at sql_app/database.py:12, "
        "with its 2 tables at sql_app/models.py:7)"
    ) in outcome.stdout
    ran = aksara("test", cwd=project)
    assert ran.code == 0, ran.stdout + ran.stderr
    assert passed(ran) == 2
    assert not (project / "sql_app.db").exists()


def test_a_scoped_session_app_with_a_required_url_gets_a_sync_sqlite_guess(
    tmp_path: Path,
) -> None:
    project = make(tmp_path, SCOPED)

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    # The guess reaches the app's create_engine() through env: it must be a sync URL.
    assert table(project) == {
        "app": "board.app:app",
        "database_url": "sqlite:///board.db",
        "models": "board.db:Base",
        "session": "board.db:db_session",
        "engine": "board.db:engine",
        "env": {"BOARD_DATABASE_URL": "{database_url}"},
    }
    assert "session       board.db:db_session (scoped_session at board/db.py:8)" in outcome.stdout
    assert "sqlite:///board.db is a guess (env BOARD_DATABASE_URL, no default" in outcome.stdout
    ran = aksara("test", cwd=project)
    assert ran.code == 0, ran.stdout + ran.stderr
    assert passed(ran) == 3
    assert not (project / "board.db").exists()


@pytest.mark.postgres
def test_the_fastapi_starter_on_postgresql_with_psycopg(tmp_path: Path, postgres_url: str) -> None:
    server = urlsplit(postgres_url)
    env = (
        f"POSTGRES_SERVER={server.hostname}\nPOSTGRES_PORT={server.port or 5432}\n"
        f"POSTGRES_USER={server.username}\nPOSTGRES_PASSWORD={server.password}\n"
        "POSTGRES_DB=starter\n"
    )
    (tmp_path / ".env").write_text(env)  # above the backend folder, as in the starter
    files = TEMPLATE | TEMPLATE_TESTS | {"app/core/config.py": TEMPLATE_POSTGRES_CONFIG}
    files["app/core/db.py"] = files["app/core/db.py"].replace(
        "settings.DATABASE_URL", "settings.SQLALCHEMY_DATABASE_URI"
    )
    del files[".env"]
    project = make(tmp_path / "backend", files)

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    url = f"postgresql+psycopg://{server.username}@{server.hostname}:{server.port or 5432}/starter"
    assert table(project)["database_url"] == url
    assert "env" not in table(project)  # the app builds its URL from parts itself
    assert f":{server.password}@" not in (project / "pyproject.toml").read_text()
    ran = aksara("test", cwd=project, env={"PGPASSWORD": str(server.password)})
    assert ran.code == 0, ran.stdout + ran.stderr
    assert passed(ran) == 3


@pytest.mark.postgres
def test_the_classic_layout_on_postgresql_with_psycopg2(tmp_path: Path, postgres_url: str) -> None:
    server = urlsplit(postgres_url)
    url = f"postgresql+psycopg2://{server.netloc}/sql_app"
    database = CLASSIC["sql_app/database.py"].replace("sqlite:///./sql_app.db", url)
    database = database.replace(', connect_args={"check_same_thread": False}', "")
    assert "psycopg2" in database and "check_same_thread" not in database
    project = make(tmp_path, CLASSIC | {"sql_app/database.py": database})

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert table(project)["database_url"] == url  # a password in the code is kept
    assert table(project)["engine"] == "sql_app.database:engine"
    ran = aksara("test", cwd=project)
    assert ran.code == 0, ran.stdout + ran.stderr
    assert passed(ran) == 2
    assert "test_sql_app" in ran.stdout


# -- what is written, without running it -----------------------------------------------------


def test_a_postgres_only_sync_app_without_its_parts_gets_a_guess_with_its_driver(
    tmp_path: Path,
) -> None:
    files = TEMPLATE | {"app/core/config.py": TEMPLATE_POSTGRES_CONFIG}
    files["app/core/db.py"] = files["app/core/db.py"].replace(
        "settings.DATABASE_URL", "settings.SQLALCHEMY_DATABASE_URI"
    )
    del files[".env"]
    project = make(tmp_path, files)

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert table(project)["database_url"] == "postgresql+psycopg://localhost/app"
    assert "postgresql+psycopg://localhost/app is a guess" in outcome.stdout


def test_sessions_built_from_an_engine_made_in_a_function_are_reported(tmp_path: Path) -> None:
    project = make(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/db.py": """
                from functools import cache

                from sqlalchemy import create_engine
                from sqlalchemy.orm import Session


                @cache
                def get_engine():
                    return create_engine("sqlite:///shop.db")


                def get_db():
                    with Session(get_engine()) as session:
                        yield session
            """,
        },
    )

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert table(project) == {
        "database_url": "sqlite:///shop.db",
        "session": "sqlalchemy.orm:Session",
    }
    assert (
        "engine        none at module level: only sessions made by the session setting are "
        "isolated; set engine = 'module:attr' to the engine the app connects with"
    ) in outcome.stdout


def test_engine_and_session_options_are_written_as_given(tmp_path: Path) -> None:
    project = make(tmp_path, CLASSIC)

    outcome = aksara(
        "init", "--engine", "sql_app.database:engine", "--session", "sqlmodel:Session", cwd=project
    )

    assert outcome.code == 0, outcome.stderr
    assert (table(project)["engine"], table(project)["session"]) == (
        "sql_app.database:engine",
        "sqlmodel:Session",
    )
    assert "engine        given on the command line" in outcome.stdout


def test_an_async_app_with_a_sync_reporting_engine_is_configured_as_before(
    tmp_path: Path,
) -> None:
    project = make(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/db.py": """
                from sqlalchemy import create_engine
                from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
                from sqlalchemy.orm import DeclarativeBase, sessionmaker

                engine = create_async_engine("sqlite+aiosqlite:///shop.db")
                Session = sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
                reports = create_engine("sqlite:///reports.db")


                class Base(DeclarativeBase):
                    pass
            """,
        },
    )

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert table(project) == {
        "database_url": "sqlite+aiosqlite:///shop.db",
        "models": "shop.db:Base",
    }
    assert "session       none: shop.db:Session is a sessionmaker, not an async_sessionmaker" in (
        outcome.stdout
    )
    assert "  engine " not in outcome.stdout
