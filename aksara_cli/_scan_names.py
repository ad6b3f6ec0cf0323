"""The qualified names the scan recognises: app classes, Bases, engines, session factories.

A name is what the code's imports resolve to (``sqlalchemy.orm.sessionmaker``
for ``from sqlalchemy.orm import sessionmaker``), public paths and the
defining modules both, as projects import from either.
"""

from __future__ import annotations

__all__ = [
    "APP_CLASSES",
    "ASYNC_CLASS_MAKER",
    "ASYNC_ENGINE_FUNCTIONS",
    "ASYNC_SESSION_CLASSES",
    "BASE_CLASSES",
    "BASE_FUNCTIONS",
    "ENGINE_FUNCTIONS",
    "SCOPED_SESSIONS",
    "SESSIONMAKERS",
    "SESSION_CLASSES",
    "SQLMODEL",
    "SYNC_ENGINE_FUNCTIONS",
    "SYNC_SESSIONMAKERS",
]

APP_CLASSES = frozenset(
    {
        "fastapi.FastAPI",
        "fastapi.applications.FastAPI",
        "starlette.applications.Starlette",
        "litestar.Litestar",
        "litestar.app.Litestar",
    }
)
BASE_CLASSES = frozenset(
    {
        "sqlalchemy.orm.DeclarativeBase",
        "sqlalchemy.orm.DeclarativeBaseNoMeta",
        "sqlalchemy.orm.decl_api.DeclarativeBase",
    }
)
BASE_FUNCTIONS = frozenset(
    {"sqlalchemy.orm.declarative_base", "sqlalchemy.ext.declarative.declarative_base"}
)
SESSIONMAKERS = frozenset(
    {
        "sqlalchemy.ext.asyncio.async_sessionmaker",
        "sqlalchemy.ext.asyncio.session.async_sessionmaker",
    }
)
SYNC_SESSIONMAKERS = frozenset(
    {"sqlalchemy.orm.sessionmaker", "sqlalchemy.orm.session.sessionmaker"}
)
SCOPED_SESSIONS = frozenset(
    {"sqlalchemy.orm.scoped_session", "sqlalchemy.orm.scoping.scoped_session"}
)
ASYNC_ENGINE_FUNCTIONS = frozenset(
    {
        "sqlalchemy.ext.asyncio.create_async_engine",
        "sqlalchemy.ext.asyncio.engine.create_async_engine",
    }
)
SYNC_ENGINE_FUNCTIONS = frozenset(
    {
        "sqlalchemy.create_engine",
        "sqlalchemy.engine.create_engine",
        "sqlalchemy.engine.create.create_engine",
        "sqlmodel.create_engine",
    }
)
ENGINE_FUNCTIONS = ASYNC_ENGINE_FUNCTIONS | SYNC_ENGINE_FUNCTIONS
# The Session classes apps call with an engine (``with Session(engine) as session``), and
# the ``module:attr`` the session setting names each by.
SESSION_CLASSES = {
    "sqlalchemy.orm.Session": "sqlalchemy.orm:Session",
    "sqlalchemy.orm.session.Session": "sqlalchemy.orm:Session",
    "sqlmodel.Session": "sqlmodel:Session",
    "sqlmodel.orm.session.Session": "sqlmodel:Session",
}
ASYNC_SESSION_CLASSES = frozenset(
    {
        "sqlalchemy.ext.asyncio.AsyncSession",
        "sqlalchemy.ext.asyncio.session.AsyncSession",
        "sqlmodel.ext.asyncio.session.AsyncSession",
    }
)
ASYNC_CLASS_MAKER = "sessionmaker(class_=AsyncSession)"
SQLMODEL = frozenset({"sqlmodel.SQLModel", "sqlmodel.main.SQLModel"})
