"""``aksara init`` through the real executable, then ``aksara test`` on what it wrote."""

from __future__ import annotations

import os
import pty
import re
import shutil
import subprocess
import tomllib
from collections.abc import Mapping
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from app_process import AKSARA, Outcome, clean_env

BLOG = Path(__file__).resolve().parents[1] / "examples" / "blog"

# An app factory on Starlette; the URL is a literal in the engine call.
FACTORY_APP = {
    "pyproject.toml": """
        [project]
        name = "shop"   # a comment init must keep
        version = "0.1.0"

        [tool.ruff]
        line-length = 88
    """,
    "shop/__init__.py": "",
    "shop/models.py": """
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class Model(DeclarativeBase):
            pass


        class Item(Model):
            __tablename__ = "items"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str]
    """,
    "shop/database.py": """
        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

        engine = create_async_engine("sqlite+aiosqlite:///shop.db")
        Session = async_sessionmaker(engine, expire_on_commit=False)
    """,
    "shop/main.py": """
        from sqlalchemy import select
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        from .database import Session
        from .models import Item


        async def items(request):
            async with Session() as session:
                if request.method == "POST":
                    session.add(Item(name=(await request.json())["name"]))
                    await session.commit()
                    return JSONResponse({"added": True}, status_code=201)
                names = await session.scalars(select(Item.name).order_by(Item.name))
                return JSONResponse(list(names))


        def create_app() -> Starlette:
            return Starlette(routes=[Route("/items", items, methods=["GET", "POST"])])
    """,
    "tests/test_items.py": """
        async def test_an_added_item_is_listed(client):
            response = await client.post("/items", json={"name": "pen"})
            assert response.status_code == 201
            assert (await client.get("/items")).json() == ["pen"]


        async def test_the_previous_tests_item_is_gone(client):
            assert (await client.get("/items")).json() == []
    """,
}

# A FastAPI app whose database URL comes from a required environment variable,
# read by a settings object at import; a mounted admin sub-app must not count.
SETTINGS_APP = {
    "notes/__init__.py": "",
    "notes/config.py": """
        import os


        class Settings:
            def __init__(self):
                self.database_url = os.environ["NOTES_DATABASE_URL"]


        settings = Settings()
    """,
    "notes/db.py": """
        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

        from .config import settings

        engine = create_async_engine(settings.database_url)
        SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


        class Base(DeclarativeBase):
            pass


        class Note(Base):
            __tablename__ = "notes"
            id: Mapped[int] = mapped_column(primary_key=True)
            text: Mapped[str]
    """,
    "notes/api.py": """
        from fastapi import FastAPI
        from sqlalchemy import func, select

        from .db import Note, SessionLocal

        app = FastAPI()
        admin = FastAPI()
        app.mount("/admin", admin)


        @app.post("/notes", status_code=201)
        async def add(text: str):
            async with SessionLocal() as session:
                session.add(Note(text=text))
                await session.commit()
            return {"text": text}


        @app.get("/notes/count")
        async def count():
            async with SessionLocal() as session:
                return {"count": await session.scalar(select(func.count()).select_from(Note))}
    """,
    "tests/test_notes.py": """
        from sqlalchemy import select

        from notes.db import Note


        async def test_a_note_is_stored(client, db_session):
            assert (await client.post("/notes", params={"text": "hi"})).status_code == 201
            assert (await db_session.scalars(select(Note.text))).all() == ["hi"]


        async def test_notes_are_rolled_back(client):
            assert (await client.get("/notes/count")).json() == {"count": 0}
    """,
}

TWO_APPS = {
    "pkg/__init__.py": "",
    "pkg/public.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
    "pkg/internal.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
}


def make(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text).lstrip())
    return root


def aksara(
    *args: str,
    cwd: Path,
    terminal_input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Outcome:
    """Run the installed ``aksara``; with ``terminal_input``, standard input is a terminal."""
    if terminal_input is None:
        done = subprocess.run(
            [str(AKSARA), *args],
            cwd=cwd,
            env=clean_env(**(env or {})),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return Outcome(done.returncode, done.stdout, done.stderr)
    main, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(AKSARA), *args],
        cwd=cwd,
        env=clean_env(),
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(terminal)
    os.write(main, terminal_input.encode())  # the terminal holds it until a prompt reads it
    try:
        stdout, stderr = process.communicate(timeout=120)
    finally:
        os.close(main)
    return Outcome(process.returncode, stdout, stderr)


def table(project: Path) -> dict[str, Any]:
    data = tomllib.loads((project / "pyproject.toml").read_text())
    aksara_table: dict[str, Any] = data["tool"]["aksara"]
    return aksara_table


def passed(outcome: Outcome) -> int:
    match = re.search(r"(\d+) passed", outcome.stdout)
    return int(match.group(1)) if match else 0


def error_line(outcome: Outcome) -> str:
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, outcome.stderr
    return lines[0]


# -- the three shapes, each run afterwards ----------------------------------------------------


def test_blog_without_settings_gets_a_working_table(tmp_path: Path) -> None:
    project = tmp_path / "blog"
    shutil.copytree(BLOG, project, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
    original = (project / "pyproject.toml").read_text()
    start, end = original.index("[tool.aksara]"), original.index("[tool.pytest")
    rest = original[:start] + original[end:]
    (project / "pyproject.toml").write_text(rest)

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert (project / "pyproject.toml").read_text().startswith(rest)
    assert table(project) == {
        "app": "blog.app:app",
        "database_url": "sqlite+aiosqlite:///blog.db",
        "models": "blog.models:Base",
        "session": "blog.db:SessionLocal",
        "auth": "blog.auth:create_token",
        "migrations": "alembic.ini",
        "env": {"BLOG_DATABASE_URL": "{database_url}"},
    }
    assert "wrote tests/conftest.py" in outcome.stdout
    assert outcome.stdout.rstrip().endswith("next: aksara test")
    ran = aksara("test", cwd=project)
    assert ran.code == 0, ran.stdout + ran.stderr
    assert passed(ran) >= 20
    assert not (project / "blog.db").exists()


def test_an_app_factory_without_arguments_becomes_the_app_setting(tmp_path: Path) -> None:
    project = make(tmp_path, FACTORY_APP)
    before = (project / "pyproject.toml").read_text()

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert (project / "pyproject.toml").read_text().startswith(before)
    assert table(project) == {
        "app": "shop.main:create_app",
        "database_url": "sqlite+aiosqlite:///shop.db",
        "models": "shop.models:Model",
        "session": "shop.database:Session",
    }
    assert (
        "app           shop.main:create_app (app factory at shop/main.py:20): "
        "called once per run to build the app"
    ) in outcome.stdout
    conftest = (project / "tests" / "conftest.py").read_text()
    assert "def app(" not in conftest
    assert outcome.stdout.rstrip().endswith("next: aksara test")


def test_url_from_a_required_env_var_is_given_to_the_app_through_env(tmp_path: Path) -> None:
    project = make(tmp_path, SETTINGS_APP)

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    guess = "sqlite+aiosqlite:///notes.db"
    assert table(project) == {
        "app": "notes.api:app",
        "database_url": guess,
        "models": "notes.db:Base",
        "session": "notes.db:SessionLocal",
        "env": {"NOTES_DATABASE_URL": "{database_url}"},
    }
    assert f"{guess} is a guess (env NOTES_DATABASE_URL, no default" in outcome.stdout
    assert (project / "pyproject.toml").read_text().startswith("[tool.aksara]\n")
    ran = aksara("test", cwd=project)
    assert ran.code == 0, ran.stdout + ran.stderr
    assert passed(ran) == 2
    # The app's variable follows database_url when the user moves it: no stale copy.
    moved = aksara("test", "--database-url", "sqlite+aiosqlite:///moved.db", cwd=project)
    assert moved.code == 0, moved.stdout + moved.stderr
    assert passed(moved) == 2
    assert not (project / "notes.db").exists() and not (project / "moved.db").exists()


# -- a real project's layout: testpaths, a .env file, an app factory ---------------------------

# Tests under app/tests (testpaths), the URL in .env read by pydantic-settings
# (with a prefix), and the app built by create_app(): no module-level app.
SHOP = {
    "pyproject.toml": """
        [project]
        name = "shop"
        version = "0.1.0"

        [tool.pytest.ini_options]
        testpaths = ["app/tests"]
    """,
    ".env": """
        # local development
        SHOP_DATABASE_URL=sqlite+aiosqlite:///./shop.db
    """,
    "app/__init__.py": "",
    "app/config.py": """
        from pydantic_settings import BaseSettings, SettingsConfigDict


        class Settings(BaseSettings):
            model_config = SettingsConfigDict(env_file=".env", env_prefix="SHOP_", extra="ignore")
            database_url: str


        settings = Settings()
    """,
    "app/db.py": """
        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

        from app.config import settings

        engine = create_async_engine(settings.database_url)
        Session = async_sessionmaker(engine, expire_on_commit=False)
    """,
    "app/models.py": """
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class Base(DeclarativeBase):
            pass


        class Item(Base):
            __tablename__ = "items"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str]
    """,
    "app/main.py": """
        from fastapi import FastAPI
        from sqlalchemy import select

        from app.db import Session
        from app.models import Item


        def create_app() -> FastAPI:
            application = FastAPI()

            @application.post("/items", status_code=201)
            async def add(name: str) -> dict[str, str]:
                async with Session() as session:
                    session.add(Item(name=name))
                    await session.commit()
                return {"name": name}

            @application.get("/items")
            async def names() -> list[str]:
                async with Session() as session:
                    return list(await session.scalars(select(Item.name).order_by(Item.name)))

            return application
    """,
    "app/tests/__init__.py": "",
    "app/tests/test_items.py": """
        async def test_an_added_item_is_listed(client):
            assert (await client.post("/items", params={"name": "pen"})).status_code == 201
            assert (await client.get("/items")).json() == ["pen"]


        async def test_the_previous_tests_item_is_gone(client):
            assert (await client.get("/items")).json() == []
    """,
}
SECRET = "s3cr3t-Pw"  # must not reach what init prints or writes


def test_testpaths_a_dotenv_url_and_a_factory_then_aksara_test_passes(tmp_path: Path) -> None:
    project = make(tmp_path, SHOP)

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert table(project) == {
        "app": "app.main:create_app",
        "database_url": "sqlite+aiosqlite:///./shop.db",
        "models": "app.models:Base",
        "session": "app.db:Session",
        "env": {"SHOP_DATABASE_URL": "{database_url}"},
    }
    assert (
        "database_url  sqlite+aiosqlite:///./shop.db "
        "(SHOP_DATABASE_URL in .env, read by Settings.database_url at app/config.py:6)"
    ) in outcome.stdout
    assert "app           app.main:create_app (app factory at app/main.py:8)" in outcome.stdout
    assert "wrote app/tests/conftest.py (testpaths in pyproject.toml: app/tests)" in outcome.stdout
    assert (project / "app" / "tests" / "conftest.py").is_file()
    assert not (project / "tests").exists()
    assert outcome.stdout.rstrip().endswith("next: aksara test")
    ran = aksara("test", cwd=project)
    assert ran.code == 0, ran.stdout + ran.stderr
    assert passed(ran) == 2
    assert not (project / "shop.db").exists()


def test_a_postgres_url_in_dotenv_is_written_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://shop:{SECRET}@localhost:5432/shop"
    project = make(tmp_path, SHOP | {".env": f'SHOP_DATABASE_URL="{url}"\n'})

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert table(project)["database_url"] == "postgresql+asyncpg://shop@localhost:5432/shop"
    assert table(project)["env"] == {"SHOP_DATABASE_URL": "{database_url}"}
    assert (
        "the password in .env is not copied into pyproject.toml: give it to aksara test "
        "as PGPASSWORD, or the whole URL as AKSARA_DATABASE_URL"
    ) in outcome.stdout
    assert outcome.stdout.rstrip().endswith(
        "next: aksara test (with the password from .env: see database_url above)"
    )
    assert SECRET not in outcome.stdout + outcome.stderr
    assert SECRET not in (project / "pyproject.toml").read_text()


def test_a_password_written_in_the_code_is_kept_but_printed_masked(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://shop:{SECRET}@localhost/shop"
    db = SHOP["app/db.py"].replace("settings.database_url", repr(url))
    project = make(tmp_path, SHOP | {"app/db.py": db})

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert table(project)["database_url"] == url  # already in the project's code
    assert "postgresql+asyncpg://shop:***@localhost/shop" in outcome.stdout
    assert SECRET not in outcome.stdout + outcome.stderr


PARTS_SETTINGS = """
    from pydantic import PostgresDsn, computed_field
    from pydantic_core import MultiHostUrl
    from pydantic_settings import BaseSettings, SettingsConfigDict


    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_file=".env", extra="ignore")
        POSTGRES_SERVER: str
        POSTGRES_PORT: int = 5432
        POSTGRES_USER: str
        POSTGRES_PASSWORD: str = ""
        POSTGRES_DB: str = ""

        @computed_field
        @property
        def SQLALCHEMY_DATABASE_URI(self) -> PostgresDsn:
            return MultiHostUrl.build(
                scheme="postgresql+asyncpg",
                username=self.POSTGRES_USER,
                password=self.POSTGRES_PASSWORD,
                host=self.POSTGRES_SERVER,
                port=self.POSTGRES_PORT,
                path=self.POSTGRES_DB,
            )


    settings = Settings()
"""
PARTS_DB = SHOP["app/db.py"].replace(
    "settings.database_url", "str(settings.SQLALCHEMY_DATABASE_URI)"
)


def test_a_url_built_from_parts_in_dotenv(tmp_path: Path) -> None:
    env = f"POSTGRES_SERVER=db\nPOSTGRES_USER=shop\nPOSTGRES_PASSWORD={SECRET}\nPOSTGRES_DB=shop\n"
    files = {"app/config.py": PARTS_SETTINGS, "app/db.py": PARTS_DB, ".env": env}
    project = make(tmp_path, SHOP | files)

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert table(project)["database_url"] == "postgresql+asyncpg://shop@db:5432/shop"
    assert "env" not in table(project)
    assert (
        "(built by Settings.SQLALCHEMY_DATABASE_URI from POSTGRES_USER, POSTGRES_PASSWORD, "
        "POSTGRES_SERVER, POSTGRES_PORT, POSTGRES_DB in .env at app/config.py:16)"
    ) in outcome.stdout
    assert "env           none: the app builds its URL from parts in .env" in outcome.stdout
    assert SECRET not in outcome.stdout + outcome.stderr
    assert SECRET not in (project / "pyproject.toml").read_text()


def test_parts_missing_from_dotenv_are_named_and_the_url_is_a_guess(tmp_path: Path) -> None:
    files = {"app/config.py": PARTS_SETTINGS, "app/db.py": PARTS_DB, ".env": "POSTGRES_USER=me\n"}
    project = make(tmp_path, SHOP | files)

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    # A PostgreSQL guess: the app's scheme is PostgreSQL's, and its types may refuse SQLite.
    assert table(project)["database_url"] == "postgresql+asyncpg://localhost/app"
    assert (
        "postgresql+asyncpg://localhost/app is a guess (built by Settings.SQLALCHEMY_DATABASE_URI "
        "from "
        "POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_SERVER, POSTGRES_PORT, POSTGRES_DB in .env "
        "at app/config.py:16; no value for POSTGRES_SERVER, POSTGRES_DB in .env or the code): "
        "set your development database URL"
    ) in outcome.stdout


# -- an existing table -----------------------------------------------------------------------

EXISTING = """\
# keep this comment
[project]
name = "pkg"

[tool.aksara]
app = "old:app"

[tool.aksara.env]
X = "1"

# about pytest
[tool.pytest.ini_options]
addopts = "-q"
"""


def test_existing_table_without_a_terminal_or_yes_is_refused_in_one_line(tmp_path: Path) -> None:
    project = make(tmp_path, TWO_APPS | {"pyproject.toml": EXISTING})

    outcome = aksara("init", cwd=project)

    assert outcome.code == 4
    assert "already has a [tool.aksara] table" in error_line(outcome)
    assert "aksara init --yes" in error_line(outcome)
    assert (project / "pyproject.toml").read_text() == EXISTING
    assert not (project / "tests").exists()


def test_yes_replaces_the_table_and_keeps_everything_else(tmp_path: Path) -> None:
    project = make(tmp_path, {"pyproject.toml": EXISTING, "main.py": TWO_APPS["pkg/public.py"]})

    outcome = aksara("init", "--yes", cwd=project)

    assert outcome.code == 0, outcome.stderr
    text = (project / "pyproject.toml").read_text()
    assert text.startswith('# keep this comment\n[project]\nname = "pkg"\n\n[tool.aksara]\n')
    assert text.endswith('\n# about pytest\n[tool.pytest.ini_options]\naddopts = "-q"\n')
    assert table(project) == {"app": "main:app", "env": {"X": "1"}}
    assert "env           kept X from the old table" in outcome.stdout


def test_what_the_scan_cannot_decide_is_kept_from_the_old_table(tmp_path: Path) -> None:
    existing = EXISTING.replace(
        'app = "old:app"\n', 'app = "old:app"\ntest_database_url = "sqlite:///test_x.db"\n'
    )
    project = make(tmp_path, TWO_APPS | {"pyproject.toml": existing})

    outcome = aksara("init", "--yes", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert table(project) == {
        "app": "old:app",
        "test_database_url": "sqlite:///test_x.db",
        "env": {"X": "1"},
    }
    assert "app           'old:app' kept from the old table" in outcome.stdout
    assert "choose one of" not in (project / "pyproject.toml").read_text()
    assert outcome.stdout.rstrip().endswith("next: aksara test")


@pytest.mark.parametrize(("answer", "code"), [("y\n", 0), ("n\n", 1)])
def test_on_a_terminal_it_asks_before_overwriting(tmp_path: Path, answer: str, code: int) -> None:
    project = make(tmp_path, {"pyproject.toml": EXISTING, "main.py": TWO_APPS["pkg/public.py"]})

    outcome = aksara("init", cwd=project, terminal_input=answer)

    assert outcome.code == code, outcome.stdout + outcome.stderr
    assert "Overwrite [tool.aksara]?" in outcome.stdout
    expected = {"app": "main:app" if code == 0 else "old:app", "env": {"X": "1"}}
    assert table(project) == expected


# -- choosing ---------------------------------------------------------------------------------


def test_two_apps_without_a_terminal_choose_none_and_list_both(tmp_path: Path) -> None:
    project = make(tmp_path, TWO_APPS)

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert "app" not in table(project)
    candidates = "pkg.internal:app, pkg.public:app"
    assert f"2 candidates, none chosen: {candidates}" in outcome.stdout
    assert f"# app: choose one of {candidates}" in (project / "pyproject.toml").read_text()
    assert "next: set app in [tool.aksara] (see above), then aksara test" in outcome.stdout


def test_two_apps_on_a_terminal_ask_which(tmp_path: Path) -> None:
    project = make(tmp_path, TWO_APPS)

    outcome = aksara("init", cwd=project, terminal_input="2\n")

    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert "Which app should the tests use?" in outcome.stdout
    assert table(project) == {"app": "pkg.public:app"}


def test_options_are_written_as_given_instead_of_detected(tmp_path: Path) -> None:
    project = make(tmp_path, TWO_APPS)
    args = ["--app", "pkg.public:app", "--database-url", "postgresql://localhost/pkg"]
    args += ["--models", "pkg.models:Base", "--session", "pkg.db:One", "--session", "pkg.db:Two"]
    args += ["--migrations", "db/alembic.ini", "--auth", "pkg.auth:token"]

    outcome = aksara("init", *args, cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert table(project) == {
        "app": "pkg.public:app",
        "database_url": "postgresql://localhost/pkg",
        "models": "pkg.models:Base",
        "session": ["pkg.db:One", "pkg.db:Two"],
        "migrations": "db/alembic.ini",
        "auth": "pkg.auth:token",
    }


def test_alembic_ini_becomes_the_migrations_setting(tmp_path: Path) -> None:
    project = make(tmp_path, {"alembic.ini": "[alembic]\n", "alembic/script.py.mako": ""})

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert table(project) == {"migrations": "alembic.ini"}


# -- what it leaves alone, and errors ---------------------------------------------------------


# The same app, built by a factory that needs its settings.
NEEDS_SETTINGS = FACTORY_APP | {
    "shop/main.py": FACTORY_APP["shop/main.py"].replace(
        "def create_app() -> Starlette:", "def create_app(settings, *, debug=False) -> Starlette:"
    )
}


def test_an_existing_conftest_is_left_as_it_is(tmp_path: Path) -> None:
    conftest = "import pytest\n# mine\n"
    project = make(tmp_path, NEEDS_SETTINGS | {"tests/conftest.py": conftest})

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert (project / "tests" / "conftest.py").read_text() == conftest
    assert "tests/conftest.py exists: left as it is" in outcome.stdout
    assert "add an app fixture to it that returns create_app(...) from shop.main" in outcome.stdout


def test_a_factory_that_needs_arguments_gets_an_app_fixture_to_complete(tmp_path: Path) -> None:
    project = make(tmp_path, NEEDS_SETTINGS)

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert "app" not in table(project)
    assert (
        "app           shop.main:create_app (app factory at shop/main.py:20) needs settings: "
        "the app fixture in tests/conftest.py must call it"
    ) in outcome.stdout
    assert "# app: built by shop.main:create_app(settings) in the app fixture in tests/" in (
        (project / "pyproject.toml").read_text()
    )
    assert "next: set the app fixture in tests/conftest.py (it needs settings)" in outcome.stdout
    assert "def app(" in (project / "tests" / "conftest.py").read_text()
    # Until it is completed, a test using the client fails with one line saying so.
    ran = aksara("test", cwd=project)
    assert ran.code == 1, ran.stdout + ran.stderr
    assert (
        "\nthe app fixture in tests/conftest.py must build the app: "
        "call create_app(settings) there with the values the tests need\n"
    ) in ran.stdout


def test_two_factories_that_need_arguments_are_listed(tmp_path: Path) -> None:
    factories = "from fastapi import FastAPI\n\ndef create_app(config) -> FastAPI: ...\n"
    factories += "\ndef create_admin(config) -> FastAPI: ...\n"
    project = make(tmp_path, {"web.py": factories})

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert table(project) == {}
    assert "# app: write an app fixture in tests/conftest.py that calls one of web:create_app" in (
        (project / "pyproject.toml").read_text()
    )
    assert "def app(" not in (project / "tests" / "conftest.py").read_text()


def test_a_test_folder_named_test_gets_the_conftest(tmp_path: Path) -> None:
    files = {k.replace("tests/", "test/"): v for k, v in FACTORY_APP.items()}
    project = make(tmp_path, files)

    outcome = aksara("init", cwd=project)

    assert outcome.code == 0, outcome.stderr
    assert "wrote test/conftest.py (no testpaths set; tests in test)" in outcome.stdout
    assert (project / "test" / "conftest.py").is_file()
    assert not (project / "tests").exists()


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ({}, ["--app", "nocolon"], "setting app = 'nocolon' (from pyproject.toml) is not of the"),
        ({"pyproject.toml": "[project\n"}, [], "pyproject.toml is not valid TOML"),
        (
            {"pyproject.toml": 'tool.aksara.app = "x:app"\n'},
            ["--yes"],
            "without a [tool.aksara] header",
        ),
    ],
    ids=["bad-option", "invalid-toml", "dotted-keys"],
)
def test_errors_exit_4_in_one_line_and_write_nothing(
    tmp_path: Path, files: dict[str, str], args: list[str], message: str
) -> None:
    project = make(tmp_path, files)

    outcome = aksara("init", *args, cwd=project)

    assert outcome.code == 4
    assert error_line(outcome).startswith("aksara init: error: ")
    assert message in error_line(outcome)
    assert sorted(p.name for p in project.iterdir()) == sorted(files)


def test_a_missing_project_folder_is_a_usage_error(tmp_path: Path) -> None:
    outcome = aksara("init", "nowhere", cwd=tmp_path)

    assert outcome.code == 4
    assert "'nowhere' does not exist" in error_line(outcome)
