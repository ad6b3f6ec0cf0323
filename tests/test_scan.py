"""Finding an app's parts by reading its code: the shapes real projects take."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from textwrap import dedent

import pytest

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
    assert [(f.target, f.required_args) for f in found.factories] == [
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


def test_an_f_string_url_gives_no_source(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        {
            "db.py": "from sqlalchemy.ext.asyncio import create_async_engine\n"
            'engine = create_async_engine(f"postgresql://{HOST}/app")\n'
        },
    )

    assert found.url is None
