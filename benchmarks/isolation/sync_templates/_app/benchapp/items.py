"""The app's own code: each call makes, commits and closes a session of its own."""

from sqlalchemy import func, select

from benchapp.db import SessionLocal
from benchapp.models import Item


def add_item(name: str) -> None:
    with SessionLocal() as session:
        session.add(Item(name=name))
        session.commit()


def count_items() -> int:
    with SessionLocal() as session:
        return session.scalar(select(func.count()).select_from(Item)) or 0
