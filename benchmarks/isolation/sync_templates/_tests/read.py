"""The app reads through its own session and writes nothing."""

from benchapp.items import count_items
from sqlalchemy.orm import Session

# --- repeated for each test ---


def test_item_0(db_session: Session) -> None:
    assert count_items() == 0
