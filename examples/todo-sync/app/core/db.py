"""The app's engine, built once at import from its settings, and its session dependency."""

from __future__ import annotations

from collections.abc import Iterator

from sqlmodel import Session, create_engine

from app.core.config import settings

engine = create_engine(settings.database_url)


def get_db() -> Iterator[Session]:
    with Session(engine) as session:
        yield session
