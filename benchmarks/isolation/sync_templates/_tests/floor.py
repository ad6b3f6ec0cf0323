"""The same number of sync tests with no database: the floor."""

# --- repeated for each test ---


def test_item_0() -> None:
    assert True
