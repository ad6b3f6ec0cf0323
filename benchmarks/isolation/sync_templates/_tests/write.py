"""The app commits one row through its own session; the test's session sees exactly that row.

Passes only if every test starts from an empty table.
"""

from benchapp.items import add_item
from benchapp.models import Item
from sqlalchemy import func, select
from sqlalchemy.orm import Session

# --- repeated for each test ---


def test_item_0(db_session: Session) -> None:
    add_item("x")
    assert db_session.scalar(select(func.count()).select_from(Item)) == 1
