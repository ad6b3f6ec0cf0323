"""Variant (d): the same insert + count through the Django ORM under pytest-django."""

import pytest
from benchapp.models import Item

# --- repeated for each test ---


@pytest.mark.django_db
def test_item_0() -> None:
    Item.objects.create(name="x")
    assert Item.objects.count() == 1
