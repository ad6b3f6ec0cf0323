"""Finding an app's parts by reading its code: the shapes real projects take."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from textwrap import dedent

import pytest
from sync_projects import CLASSIC, SCOPED, TEMPLATE, TEMPLATE_POSTGRES_CONFIG

from aksara_cli._scan import Scan, scan


def project(root: Path, files: Mapping[str, str]) -> Scan:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text).lstrip())
    return scan(root)


def targets(found: Scan, kind: str) -> list[str]:
    return [f.target for f in getattr(found, kind)]


def test_aliased_and_qualified_imports_are_resolved(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/web.py": "import fastapi\n\napi = fastapi.FastAPI()\n",
            "pkg/models.py": """
                from sqlalchemy import orm as o

                class Base(o.DeclarativeBase):
                    pass
            """,
            "pkg/db.py": """
                from sqlalchemy.ext.asyncio import async_sessionmaker as maker

                make_session = maker()
            """,
        },
    )

    assert targets(found, "apps") == ["pkg.web:api"]
    assert targets(found, "models") == ["pkg.models:Base"]
    assert targets(found, "sessions") == ["pkg.db:make_session"]


def test_a_mounted_sub_app_and_a_router_are_not_candidates(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        {
            "main.py": """
                from fastapi import APIRouter, FastAPI
                from admin import admin

                router = APIRouter()
                app = FastAPI()
                app.mount("/admin", admin)
            """,
            "admin.py": "from starlette.applications import Starlette\n\nadmin = Starlette()\n",
        },
    )

    assert targets(found, "apps") == ["main:app"]


def test_factories_and_module_level_factory_calls(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        {
            "factory.py": """
                from fastapi import FastAPI

                def create_app():
                    application = FastAPI()
                    return application

                def configured_app(settings) -> FastAPI:
                    ...
            """,
            "serve.py": "from factory import create_app\n\napp = create_app()\n",
        },
    )

    assert targets(found, "apps") == ["serve:app"]
    assert [(f.target, len(f.params)) for f in found.factories] == [
        ("factory:create_app", 0),
        ("factory:configured_app", 1),
    ]


def test_tests_virtualenvs_and_alembic_scripts_are_not_read(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        {
            "app.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
            "tests/test_app.py": "from fastapi import FastAPI\n\nother = FastAPI()\n",
            "test_top.py": "from fastapi import FastAPI\n\nother = FastAPI()\n",
            ".venv/pyvenv.cfg": "",
            "venv/pyvenv.cfg": "",
            "venv/lib/fastapi_app.py": "from fastapi import FastAPI\n\nother = FastAPI()\n",
            "db/migrations/script.py.mako": "",
            "db/migrations/env.py": "from fastapi import FastAPI\n\nother = FastAPI()\n",
            "broken.py": "def (:\n",
        },
    )

    assert targets(found, "apps") == ["app:app"]
    assert targets(found, "migrations") == ["db/migrations"]


def test_alembic_ini_is_preferred_to_the_script_folder(tmp_path: Path) -> None:
    found = project(tmp_path, {"alembic.ini": "", "alembic/script.py.mako": ""})

    assert targets(found, "migrations") == ["alembic.ini"]


def test_src_layout_modules_are_named_without_src(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        {
            "src/shop/__init__.py": "",
            "src/shop/app.py": "from litestar import Litestar\n\napp = Litestar()\n",
        },
    )

    assert targets(found, "apps") == ["shop.app:app"]
    assert found.src_layout


def test_auth_is_a_token_function_taking_a_user(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        {
            "auth.py": """
                def create_access_token(data: dict) -> str: ...
                def user_from_token(token): ...
                async def token_for(user): ...
            """
        },
    )

    assert targets(found, "auths") == ["auth:token_for"]


URL_CASES = {
    "literal": (
        {
            "db.py": "from sqlalchemy.ext.asyncio import create_async_engine\n"
            'engine = create_async_engine("postgresql+asyncpg://u@h/shop")\n'
        },
        ("postgresql+asyncpg://u@h/shop", None),
    ),
    "env-with-default": (
        {
            "db.py": "import os\nfrom sqlalchemy.ext.asyncio import create_async_engine\n"
            'URL = os.getenv("SHOP_DB", "sqlite+aiosqlite:///shop.db")\n'
            "engine = create_async_engine(URL)\n"
        },
        ("sqlite+aiosqlite:///shop.db", "SHOP_DB"),
    ),
    "required-env-in-a-class": (
        {
            "config.py": "import os\n\nclass Config:\n    def __init__(self):\n"
            '        self.db_url = os.environ["SHOP_DB"]\n\nconfig = Config()\n',
            "db.py": "from sqlalchemy.ext.asyncio import create_async_engine\n"
            "from config import config\n\nengine = create_async_engine(config.db_url)\n",
        },
        (None, "SHOP_DB"),
    ),
    "pydantic-settings-with-prefix": (
        {
            "shop/settings.py": "from pydantic_settings import BaseSettings, SettingsConfigDict\n"
            "from pydantic import Field\n\nclass Settings(BaseSettings):\n"
            '    model_config = SettingsConfigDict(env_prefix="shop_")\n'
            '    database_url: str = Field(default="postgresql://localhost/shop")\n'
            "\nsettings = Settings()\n",
            "shop/db.py": "from sqlalchemy.ext.asyncio import create_async_engine\n"
            "from .settings import settings\n\n"
            "engine = create_async_engine(str(settings.database_url))\n",
            "shop/__init__.py": "",
        },
        ("postgresql://localhost/shop", "SHOP_DATABASE_URL"),
    ),
    "pydantic-settings-required": (
        {
            "settings.py": "from pydantic_settings import BaseSettings\n\n"
            "class Settings(BaseSettings):\n    DATABASE_URL: str\n",
            "db.py": "from sqlalchemy.ext.asyncio import create_async_engine\n"
            "from settings import Settings\n\n"
            "def get_engine():\n"
            "    return create_async_engine(Settings().DATABASE_URL)\n",
        },
        (None, "DATABASE_URL"),
    ),
    "module-constant": (
        {
            "config.py": 'DATABASE_URL = "sqlite+aiosqlite:///./app.db"\n',
            "db.py": "from sqlalchemy.ext.asyncio import create_async_engine\nimport config\n\n"
            "engine = create_async_engine(config.DATABASE_URL)\n",
        },
        ("sqlite+aiosqlite:///./app.db", None),
    ),
    "no-engine-call": (
        {"config.py": 'import os\nDB_URL = os.environ.get("APP_DB_URL", "sqlite:///app.db")\n'},
        ("sqlite:///app.db", "APP_DB_URL"),
    ),
}


@pytest.mark.parametrize(("files", "expected"), URL_CASES.values(), ids=URL_CASES.keys())
def test_database_url_source(
    tmp_path: Path, files: dict[str, str], expected: tuple[str | None, str | None]
) -> None:
    found = project(tmp_path, files)

    assert found.url is not None
    assert (found.url.url, found.url.env_var) == expected


def test_an_f_string_of_unknown_names_gives_no_source(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        {
            "db.py": "from sqlalchemy.ext.asyncio import create_async_engine\n"
            'engine = create_async_engine(f"postgresql://{HOST}/app")\n'
        },
    )

    assert found.url is None


# -- the .env file the app reads, and URLs built from parts ------------------------------------

PYDANTIC_SETTINGS = """
    from pydantic_settings import BaseSettings, SettingsConfigDict


    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_file=".env", env_prefix="shop_")
        database_url: str = "sqlite+aiosqlite:///./fallback.db"


    settings = Settings()
"""
ENGINE = """
    from sqlalchemy.ext.asyncio import create_async_engine

    from shop.settings import settings

    engine = create_async_engine(str(settings.{attr}))
"""
SECRET = "s3cr3t-pw"  # must never reach what init prints or writes


def shop(root: Path, settings: str, env: str, attr: str = "database_url") -> Scan:
    return project(
        root,
        {
            "shop/__init__.py": "",
            "shop/settings.py": settings,
            "shop/db.py": ENGINE.format(attr=attr),
            ".env": env,
        },
    )


def test_the_env_file_value_wins_over_the_default_and_its_password_is_left_out(
    tmp_path: Path,
) -> None:
    env = f"# local\nSHOP_DATABASE_URL='postgresql+asyncpg://shop:{SECRET}@localhost:5432/shop'\n"

    found = shop(tmp_path, PYDANTIC_SETTINGS, env)

    assert found.url is not None
    assert found.url.url == "postgresql+asyncpg://shop@localhost:5432/shop"
    assert found.url.env_var == "SHOP_DATABASE_URL"
    assert (found.url.env_file, found.url.password_left_out) == (".env", True)
    assert found.url.what == "SHOP_DATABASE_URL in .env, read by Settings.database_url"


def test_a_class_config_env_file_and_a_required_field(tmp_path: Path) -> None:
    settings = """
        from pydantic import BaseSettings


        class Settings(BaseSettings):
            DATABASE_URL: str

            class Config:
                env_file = "config/dev.env"


        settings = Settings()
    """
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "dev.env").write_text("export DATABASE_URL=sqlite:///./dev.db  # dev\n")

    found = shop(tmp_path, settings, "DATABASE_URL=sqlite:///./not-read.db\n", "DATABASE_URL")

    assert found.url is not None
    assert (found.url.url, found.url.env_var) == ("sqlite:///./dev.db", "DATABASE_URL")
    assert found.url.env_file == "config/dev.env"
    assert not found.url.password_left_out


def test_a_base_settings_class_of_the_project_passes_on_env_file_and_prefix(
    tmp_path: Path,
) -> None:
    settings = """
        from pydantic_settings import BaseSettings, SettingsConfigDict


        class Base(BaseSettings):
            model_config = SettingsConfigDict(env_file=".env", env_prefix="APP_")


        class Settings(Base):
            db_url: str = ""


        settings = Settings()
    """
    found = shop(tmp_path, settings, "APP_DB_URL=postgresql://localhost/app\n", attr="db_url")

    assert found.url is not None
    assert (found.url.url, found.url.env_var) == ("postgresql://localhost/app", "APP_DB_URL")


def test_without_env_file_the_default_is_kept_and_dotenv_is_only_a_fallback(
    tmp_path: Path,
) -> None:
    settings = PYDANTIC_SETTINGS.replace('env_file=".env", ', "")
    env = "SHOP_DATABASE_URL=postgresql://localhost/other\n"

    found = shop(tmp_path, settings, env)

    assert found.url is not None
    assert found.url.url == "sqlite+aiosqlite:///./fallback.db"


def test_load_dotenv_makes_the_env_file_win_over_os_getenv_defaults(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        {
            "db.py": """
                import os

                from dotenv import load_dotenv
                from sqlalchemy.ext.asyncio import create_async_engine

                load_dotenv()
                engine = create_async_engine(os.getenv("DB_URL", "sqlite:///default.db"))
            """,
            ".env": 'DB_URL="postgresql+asyncpg://me:${DB_PASSWORD}@db/app"\n',
        },
    )

    assert found.url is not None
    assert (found.url.url, found.url.env_var) == ("postgresql+asyncpg://me@db/app", "DB_URL")


TEMPLATE_SETTINGS = """
    from pydantic import PostgresDsn, computed_field
    from pydantic_core import MultiHostUrl
    from pydantic_settings import BaseSettings, SettingsConfigDict


    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True)
        POSTGRES_SERVER: str
        POSTGRES_PORT: int = 5432
        POSTGRES_USER: str
        POSTGRES_PASSWORD: str = ""
        POSTGRES_DB: str = ""

        @computed_field
        @property
        def SQLALCHEMY_DATABASE_URI(self) -> PostgresDsn:
            return MultiHostUrl.build(
                scheme="postgresql+psycopg",
                username=self.POSTGRES_USER,
                password=self.POSTGRES_PASSWORD,
                host=self.POSTGRES_SERVER,
                port=self.POSTGRES_PORT,
                path=self.POSTGRES_DB,
            )


    settings = Settings()
"""
VALIDATOR_SETTINGS = """
    from typing import Any, Optional

    from pydantic import BaseSettings, PostgresDsn, validator


    class Settings(BaseSettings):
        POSTGRES_SERVER: str
        POSTGRES_USER: str
        POSTGRES_PASSWORD: str
        POSTGRES_DB: str
        SQLALCHEMY_DATABASE_URI: Optional[PostgresDsn] = None

        @validator("SQLALCHEMY_DATABASE_URI", pre=True)
        def assemble_db_connection(cls, v: Optional[str], values: dict[str, Any]) -> Any:
            if isinstance(v, str):
                return v
            return PostgresDsn.build(
                scheme="postgresql+asyncpg",
                user=values.get("POSTGRES_USER"),
                password=values.get("POSTGRES_PASSWORD"),
                host=values.get("POSTGRES_SERVER"),
                path=f"/{values.get('POSTGRES_DB') or ''}",
            )

        class Config:
            case_sensitive = True
            env_file = ".env"


    settings = Settings()
"""
F_STRING_SETTINGS = """
    from pydantic_settings import BaseSettings, SettingsConfigDict


    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_file=".env")
        db_host: str = "localhost"
        db_port: int = 5432
        db_user: str
        db_pass: str
        db_name: str

        @property
        def database_url(self) -> str:
            user = self.db_user
            return f"postgresql+asyncpg://{user}:{self.db_pass}@{self.db_host}:{self.db_port}/{self.db_name}"


    settings = Settings()
"""
PARTS = f"POSTGRES_SERVER=db\nPOSTGRES_USER=app\nPOSTGRES_PASSWORD={SECRET}\nPOSTGRES_DB=shop\n"


@pytest.mark.parametrize(
    ("settings", "env", "attr", "expected"),
    [
        (
            TEMPLATE_SETTINGS,
            PARTS,
            "SQLALCHEMY_DATABASE_URI",
            "postgresql+psycopg://app@db:5432/shop",
        ),
        (VALIDATOR_SETTINGS, PARTS, "SQLALCHEMY_DATABASE_URI", "postgresql+asyncpg://app@db/shop"),
        (
            F_STRING_SETTINGS,
            f"DB_USER=app\nDB_PASS={SECRET}\nDB_NAME=shop\n",
            "database_url",
            "postgresql+asyncpg://app@localhost:5432/shop",
        ),
    ],
    ids=["computed-field-build", "validator-build", "property-f-string"],
)
def test_a_url_built_from_parts_in_the_env_file(
    tmp_path: Path, settings: str, env: str, attr: str, expected: str
) -> None:
    found = shop(tmp_path, settings, env, attr=attr)

    assert found.url is not None
    assert found.url.url == expected
    assert found.url.env_var is None  # no one variable to point at the test database
    assert (found.url.env_file, found.url.password_left_out, found.url.missing) == (
        ".env",
        True,
        (),
    )
    assert found.url.what.startswith(f"built by Settings.{attr} from ")


def test_parts_with_no_value_are_named(tmp_path: Path) -> None:
    found = shop(tmp_path, TEMPLATE_SETTINGS, "POSTGRES_USER=app\n", "SQLALCHEMY_DATABASE_URI")

    assert found.url is not None
    assert found.url.url is None
    assert found.url.missing == ("POSTGRES_SERVER", "POSTGRES_DB")  # the password is not needed


def test_an_f_string_in_the_engine_call_reads_settings_fields(tmp_path: Path) -> None:
    settings = dedent(F_STRING_SETTINGS).split("    @property")[0] + "settings = Settings()\n"
    found = project(
        tmp_path,
        {
            "settings.py": settings,
            "db.py": """
                from sqlalchemy.ext.asyncio import create_async_engine

                from settings import settings

                engine = create_async_engine(
                    f"postgresql+asyncpg://{settings.db_user}@{settings.db_host}/{settings.db_name}"
                )
            """,
            ".env": "DB_USER=app\nDB_NAME=shop\n",
        },
    )

    assert found.url is not None
    assert found.url.url == "postgresql+asyncpg://app@localhost/shop"


def test_a_driver_swapped_in_with_replace(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        {
            "db.py": """
                import os

                from sqlalchemy.ext.asyncio import create_async_engine

                url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+asyncpg://")
                engine = create_async_engine(url)
            """,
            ".env": "DATABASE_URL=postgresql://app@db/app\n",
        },
    )

    assert found.url is not None
    assert (found.url.url, found.url.env_var) == ("postgresql+asyncpg://app@db/app", "DATABASE_URL")


def test_a_postgres_dsn_field_takes_only_a_postgresql_url(tmp_path: Path) -> None:
    settings = """
        from pydantic import PostgresDsn
        from pydantic_settings import BaseSettings


        class Settings(BaseSettings):
            database_url: PostgresDsn


        settings = Settings()
    """
    found = shop(tmp_path, settings, "")

    assert found.url is not None
    assert (found.url.url, found.url.env_var) == (None, "DATABASE_URL")
    assert found.url.postgres_only


def test_sqlmodel_and_a_settings_name_that_only_contains_a_hint(tmp_path: Path) -> None:
    sqlmodel = project(
        tmp_path / "a",
        {
            "shop/__init__.py": "",
            "shop/settings.py": TEMPLATE_SETTINGS,
            "shop/db.py": "from sqlmodel import create_engine\n\nfrom shop.settings import settings"
            "\n\nengine = create_engine(str(settings.SQLALCHEMY_DATABASE_URI))\n",
            ".env": PARTS,
        },
    )
    flask_style = project(
        tmp_path / "b",
        {
            "config.py": """
                import os


                class Config:
                    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "sqlite:///dev.db")
            """
        },
    )

    assert sqlmodel.url is not None and flask_style.url is not None
    assert sqlmodel.url.url == "postgresql+psycopg://app@db:5432/shop"
    assert (flask_style.url.url, flask_style.url.env_var) == ("sqlite:///dev.db", "DATABASE_URL")


# -- sync SQLAlchemy apps ---------------------------------------------------------------------


def test_the_fastapi_starter_is_a_sync_sqlmodel_app(tmp_path: Path) -> None:
    backend = tmp_path / "backend"
    (backend).mkdir()
    (tmp_path / ".env").write_text(PARTS)  # above the backend folder, as in the starter
    files = TEMPLATE | {"app/core/config.py": TEMPLATE_POSTGRES_CONFIG}
    files["app/core/db.py"] = files["app/core/db.py"].replace(
        "settings.DATABASE_URL", "settings.SQLALCHEMY_DATABASE_URI"
    )
    del files[".env"]
    found = project(backend, files)

    assert found.kind == "sync"
    assert targets(found, "engines") == ["app.core.db:engine"]
    assert targets(found, "session_classes") == ["sqlmodel:Session"]
    assert found.session_classes[0].where == "app/api/deps.py:11"
    assert targets(found, "models") == ["app.models:SQLModel"]
    assert found.url is not None
    assert found.url.url == "postgresql+psycopg://app@db:5432/shop"


def test_the_classic_database_module_with_session_local(tmp_path: Path) -> None:
    found = project(tmp_path, CLASSIC)

    assert found.kind == "sync"
    assert targets(found, "engines") == ["sql_app.database:engine"]
    assert [(s.target, s.what) for s in found.sync_sessions] == [
        ("sql_app.database:SessionLocal", "sessionmaker")
    ]
    assert targets(found, "session_classes") == []
    # Named through models.py: importing database.py alone would leave the metadata empty.
    assert targets(found, "models") == ["sql_app.models:Base"]
    assert found.models[0].what == "declarative_base() at sql_app/database.py:12, with its 2 tables"
    assert found.url is not None
    assert (found.url.url, found.url.env_var) == ("sqlite:///./sql_app.db", None)


def test_a_scoped_session_and_a_psycopg2_url_from_the_environment(tmp_path: Path) -> None:
    db = SCOPED["board/db.py"].replace(
        'os.environ["BOARD_DATABASE_URL"]',
        'os.environ.get("BOARD_DATABASE_URL", "postgresql+psycopg2://me@db/board")',
    )
    assert db != SCOPED["board/db.py"]
    found = project(tmp_path, SCOPED | {"board/db.py": db})

    assert found.kind == "sync"
    assert [(s.target, s.what) for s in found.sync_sessions] == [
        ("board.db:db_session", "scoped_session")
    ]
    assert targets(found, "engines") == ["board.db:engine"]
    assert targets(found, "models") == ["board.db:Base"]  # its tables are in its own module
    assert found.url is not None
    assert (found.url.url, found.url.env_var) == (
        "postgresql+psycopg2://me@db/board",
        "BOARD_DATABASE_URL",
    )


def test_an_engine_and_sessionmaker_made_in_functions_still_make_a_sync_app(
    tmp_path: Path,
) -> None:
    found = project(
        tmp_path,
        {
            "db.py": """
                from functools import cache

                from sqlalchemy import create_engine
                from sqlalchemy.orm import sessionmaker


                @cache
                def session_factory():
                    return sessionmaker(bind=create_engine("sqlite:///app.db"))
            """,
        },
    )

    assert (found.engines, found.sync_sessions, found.sync_calls) == ([], [], 2)
    assert found.kind == "sync"


def test_session_subclasses_and_bind_keywords_are_session_classes(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/db.py": """
                from sqlalchemy import create_engine, orm

                engine = create_engine("sqlite:///shop.db")


                class ShopSession(orm.Session):
                    pass


                def get_db():
                    with ShopSession(bind=engine) as session:
                        yield session


                def report():
                    with orm.Session(engine) as session:
                        return session
            """,
        },
    )

    assert targets(found, "session_classes") == ["shop.db:ShopSession", "sqlalchemy.orm:Session"]


def test_anything_async_keeps_the_project_async(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        {
            "db.py": """
                from sqlalchemy import create_engine
                from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
                from sqlalchemy.orm import sessionmaker

                engine = create_async_engine("postgresql+asyncpg://me@db/app")
                Session = sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
                reports = create_engine("postgresql+psycopg://me@db/app")
            """,
        },
    )

    assert found.kind == "async"
    assert (found.async_calls, found.sync_calls) == (2, 1)
    assert [(s.target, s.what) for s in found.sync_sessions] == [
        ("db:Session", "sessionmaker(class_=AsyncSession)")
    ]
    assert targets(found, "async_engines") == ["db:engine"]
    assert targets(found, "engines") == ["db:reports"]


def test_an_async_engine_built_in_a_function_keeps_the_project_async(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        {
            "db.py": """
                from sqlalchemy import create_engine
                from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

                reports = create_engine("sqlite:///reports.db")


                def get_engine():
                    return create_async_engine("sqlite+aiosqlite:///app.db")


                async def get_session():
                    async with AsyncSession(get_engine()) as session:
                        yield session
            """,
        },
    )

    assert found.kind == "async"
    assert targets(found, "engines") == ["db:reports"]


def test_an_async_base_is_named_where_it_is_defined_as_before(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        {
            "db.py": """
                from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
                from sqlalchemy.orm import DeclarativeBase

                engine = create_async_engine("sqlite+aiosqlite:///app.db")
                Session = async_sessionmaker(engine)


                class Base(DeclarativeBase):
                    pass
            """,
            "models.py": """
                from sqlalchemy.orm import Mapped, mapped_column

                from db import Base


                class Item(Base):
                    __tablename__ = "items"
                    id: Mapped[int] = mapped_column(primary_key=True)
            """,
        },
    )

    assert found.kind == "async"
    assert targets(found, "models") == ["db:Base"]
