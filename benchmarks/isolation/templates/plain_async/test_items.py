"""Variant (a): async tests that touch no database — the floor."""

import asyncio

# --- repeated for each test ---


async def test_item_0() -> None:
    await asyncio.sleep(0)
