# The guide's "Shared Fixtures" example, verbatim apart from the import paths;
# the names it uses without importing are imported first.
from blog.models import User
from tests.factories import PostFactory

import pytest
from aksara_testing import db_session

@pytest.fixture(scope="module")
async def test_data(db_session):
    """Create test data shared across module."""
    user = await User.objects.create(email="shared@example.com")
    posts = await PostFactory.create_batch(10, author=user)
    return {"user": user, "posts": posts}

async def test_first(test_data):
    assert len(test_data["posts"]) == 10

async def test_second(test_data):
    # Same data available
    assert test_data["user"].email == "shared@example.com"
