"""Variant (h): the same test as (f), on aksara's SQLite driver."""

from models import Item
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

# --- repeated for each test ---


async def test_item_0(db_session: AsyncSession) -> None:
    db_session.add(Item(name="x"))
    await db_session.commit()
    assert await db_session.scalar(select(func.count()).select_from(Item)) >= 1
