"""Sync SQLAlchemy projects shaped like real FastAPI suites, for ``aksara init`` to read and run.

Each is a mapping of file name to text (dedented when written). ``TEMPLATE``
follows the most used FastAPI starter (SQLModel, ``app/core/db.py`` with a
module-level engine, ``Session(engine)`` in ``app/api/deps.py``, its own
``app/tests/conftest.py`` with a module-scoped ``TestClient``); ``CLASSIC``
the tutorial's ``database.py`` with ``SessionLocal`` and ``get_db``;
``SCOPED`` a ``scoped_session`` app.
"""

from __future__ import annotations

__all__ = ["CLASSIC", "SCOPED", "TEMPLATE", "TEMPLATE_POSTGRES_CONFIG", "TEMPLATE_TESTS"]

TEMPLATE = {
    "pyproject.toml": """
        [project]
        name = "app"
        version = "0.1.0"
    """,
    ".env": """
        PROJECT_NAME=Template
        DATABASE_URL=sqlite:///./app.db
    """,
    "app/__init__.py": "",
    "app/core/__init__.py": "",
    "app/core/config.py": """
        from pydantic_settings import BaseSettings, SettingsConfigDict


        class Settings(BaseSettings):
            model_config = SettingsConfigDict(
                env_file=".env", env_ignore_empty=True, extra="ignore"
            )
            PROJECT_NAME: str = "app"
            API_V1_STR: str = "/api/v1"
            DATABASE_URL: str = "sqlite:///./fallback.db"


        settings = Settings()
    """,
    "app/core/db.py": """
        from sqlmodel import Session, create_engine, select

        from app.core.config import settings
        from app.models import Item

        engine = create_engine(str(settings.DATABASE_URL))


        def init_db(session: Session) -> None:
            session.exec(select(Item)).first()
    """,
    "app/models.py": """
        from sqlmodel import Field, SQLModel


        class ItemBase(SQLModel):
            title: str = Field(max_length=255)


        class ItemCreate(ItemBase):
            pass


        class Item(ItemBase, table=True):
            id: int | None = Field(default=None, primary_key=True)


        class Tag(SQLModel, table=True):
            id: int | None = Field(default=None, primary_key=True)
            name: str
    """,
    "app/api/__init__.py": "",
    "app/api/deps.py": """
        from collections.abc import Generator
        from typing import Annotated

        from fastapi import Depends
        from sqlmodel import Session

        from app.core.db import engine


        def get_db() -> Generator[Session, None, None]:
            with Session(engine) as session:
                yield session


        SessionDep = Annotated[Session, Depends(get_db)]
    """,
    "app/api/routes/__init__.py": "",
    "app/api/routes/items.py": """
        from fastapi import APIRouter
        from sqlmodel import select

        from app.api.deps import SessionDep
        from app.models import Item, ItemCreate

        router = APIRouter(prefix="/items", tags=["items"])


        @router.post("/")
        def create_item(session: SessionDep, item_in: ItemCreate) -> Item:
            item = Item.model_validate(item_in)
            session.add(item)
            session.commit()
            session.refresh(item)
            return item


        @router.get("/")
        def read_items(session: SessionDep) -> list[str]:
            return list(session.exec(select(Item.title).order_by(Item.title)))
    """,
    "app/api/main.py": """
        from fastapi import APIRouter

        from app.api.routes import items

        api_router = APIRouter()
        api_router.include_router(items.router)
    """,
    "app/main.py": """
        from fastapi import FastAPI

        from app.api.main import api_router
        from app.core.config import settings

        app = FastAPI(title=settings.PROJECT_NAME)
        app.include_router(api_router, prefix=settings.API_V1_STR)
    """,
}

# The template's own conftest and tests: a session-scoped Session(engine) fixture, a
# module-scoped TestClient, sync tests; db_session is aksara's.
TEMPLATE_TESTS = {
    "app/tests/__init__.py": "",
    "app/tests/conftest.py": """
        from collections.abc import Generator

        import pytest
        from fastapi.testclient import TestClient
        from sqlmodel import Session

        from app.core.db import engine, init_db
        from app.main import app


        @pytest.fixture(scope="session", autouse=True)
        def db() -> Generator[Session, None, None]:
            with Session(engine) as session:
                init_db(session)
                yield session


        @pytest.fixture(scope="module")
        def client() -> Generator[TestClient, None, None]:
            with TestClient(app) as c:
                yield c
    """,
    "app/tests/api/__init__.py": "",
    "app/tests/api/test_items.py": """
        from fastapi.testclient import TestClient
        from sqlmodel import Session, select

        from app.models import Item


        def test_create_item(client: TestClient, db_session: Session) -> None:
            response = client.post("/api/v1/items/", json={"title": "pen"})
            assert response.status_code == 200
            assert db_session.exec(select(Item.title)).all() == ["pen"]


        def test_the_previous_tests_item_is_gone(client: TestClient) -> None:
            assert client.get("/api/v1/items/").json() == []


        def test_the_tests_own_session_sees_what_the_app_wrote(
            client: TestClient, db: Session
        ) -> None:
            client.post("/api/v1/items/", json={"title": "cup"})
            assert db.exec(select(Item.title)).all() == ["cup"]
    """,
}

# The starter's real settings: a URL built from POSTGRES_* parts in the .env above the
# backend folder, with psycopg 3 as the driver.
TEMPLATE_POSTGRES_CONFIG = """
    from pydantic import PostgresDsn, computed_field
    from pydantic_core import MultiHostUrl
    from pydantic_settings import BaseSettings, SettingsConfigDict


    class Settings(BaseSettings):
        model_config = SettingsConfigDict(
            env_file="../.env", env_ignore_empty=True, extra="ignore"
        )
        PROJECT_NAME: str = "app"
        API_V1_STR: str = "/api/v1"
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

CLASSIC = {
    "sql_app/__init__.py": "",
    "sql_app/database.py": """
        from sqlalchemy import create_engine
        from sqlalchemy.ext.declarative import declarative_base
        from sqlalchemy.orm import sessionmaker

        SQLALCHEMY_DATABASE_URL = "sqlite:///./sql_app.db"

        engine = create_engine(
            SQLALCHEMY_DATABASE_URL, connect_args={"check_same_thread": False}
        )
        SessionLocal = sessionmaker(autocommit=False, autoflush=False, bind=engine)

        Base = declarative_base()
    """,
    "sql_app/models.py": """
        from sqlalchemy import Column, ForeignKey, Integer, String
        from sqlalchemy.orm import relationship

        from .database import Base


        class User(Base):
            __tablename__ = "users"

            id = Column(Integer, primary_key=True)
            email = Column(String, unique=True, index=True)
            items = relationship("Item", back_populates="owner")


        class Item(Base):
            __tablename__ = "items"

            id = Column(Integer, primary_key=True)
            title = Column(String, index=True)
            owner_id = Column(Integer, ForeignKey("users.id"))
            owner = relationship("User", back_populates="items")
    """,
    "sql_app/main.py": """
        from fastapi import Depends, FastAPI
        from sqlalchemy.orm import Session

        from . import models
        from .database import SessionLocal

        app = FastAPI()


        def get_db():
            db = SessionLocal()
            try:
                yield db
            finally:
                db.close()


        @app.post("/users/")
        def create_user(email: str, db: Session = Depends(get_db)):
            user = models.User(email=email)
            db.add(user)
            db.commit()
            db.refresh(user)
            return {"id": user.id, "email": user.email}


        @app.get("/users/")
        def read_users(db: Session = Depends(get_db)):
            return [user.email for user in db.query(models.User).order_by(models.User.email)]
    """,
    "tests/__init__.py": "",
    "tests/test_users.py": """
        from fastapi.testclient import TestClient

        from sql_app.main import app
        from sql_app.models import User

        client = TestClient(app)


        def test_create_user(db_session):
            response = client.post("/users/", params={"email": "a@example.com"})
            assert response.status_code == 200
            assert [u.email for u in db_session.query(User)] == ["a@example.com"]


        def test_the_previous_tests_user_is_gone():
            assert client.get("/users/").json() == []
    """,
}

SCOPED = {
    "pyproject.toml": """
        [project]
        name = "board"
        version = "0.1.0"
    """,
    "board/__init__.py": "",
    "board/db.py": """
        import os

        from sqlalchemy import create_engine
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
        from sqlalchemy.orm import scoped_session, sessionmaker

        engine = create_engine(os.environ["BOARD_DATABASE_URL"])
        db_session = scoped_session(sessionmaker(bind=engine))


        class Base(DeclarativeBase):
            pass


        class Post(Base):
            __tablename__ = "posts"
            id: Mapped[int] = mapped_column(primary_key=True)
            text: Mapped[str]
    """,
    "board/app.py": """
        from fastapi import FastAPI
        from sqlalchemy import func, select

        from board.db import Post, db_session

        app = FastAPI()


        @app.post("/posts", status_code=201)
        def add(text: str) -> dict[str, str]:
            try:
                db_session.add(Post(text=text))
                db_session.commit()
                return {"text": text}
            finally:
                db_session.remove()


        @app.get("/posts/count")
        def count() -> dict[str, int]:
            try:
                return {"count": db_session.scalar(select(func.count()).select_from(Post))}
            finally:
                db_session.remove()
    """,
    "tests/test_posts.py": """
        from fastapi.testclient import TestClient
        from sqlalchemy import select

        from board.app import app
        from board.db import Post


        def test_a_post_is_stored(db_session):
            with TestClient(app) as client:
                assert client.post("/posts", params={"text": "hi"}).status_code == 201
            assert db_session.scalars(select(Post.text)).all() == ["hi"]


        def test_posts_are_rolled_back():
            with TestClient(app) as client:
                assert client.get("/posts/count").json() == {"count": 0}


        def test_the_client_fixture_of_a_fresh_configuration(client, db_session):
            assert client.post("/posts", params={"text": "yo"}).status_code == 201
            assert db_session.scalars(select(Post.text)).all() == ["yo"]
    """,
}
