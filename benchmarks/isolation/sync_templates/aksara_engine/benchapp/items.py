"""The same app code in the SQLModel tutorial's shape: sessions straight from the engine.

``Session(engine)`` and no sessionmaker: a hand-written conftest can only reach
these sessions through a dependency override, aksara through its ``engine``
setting. Same statements as the sessionmaker shape.
"""

from benchapp.db import engine
from benchapp.models import Item
from sqlalchemy import func, select
from sqlalchemy.orm import Session


def add_item(name: str) -> None:
    with Session(engine) as session:
        session.add(Item(name=name))
        session.commit()


def count_items() -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Item)) or 0
