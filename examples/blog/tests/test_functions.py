# The guide's "Function-Based Tests", "Async Test Functions" and "Mock Database
# Queries" examples, verbatim apart from the import path and the app's names.
import pytest
from aksara_testing import async_test, db_session
from blog.models import User

@pytest.fixture
async def user(db_session):
    return await User.objects.create(
        email="test@example.com",
        name="Test User"
    )

@async_test
async def test_user_exists(user):
    assert await User.objects.filter(id=user.id).exists()


from unittest.mock import patch, AsyncMock

async def test_with_mocked_query():
    mock_users = [User(id="1", email="test@example.com")]

    with patch.object(User.objects, "all", new_callable=AsyncMock) as mock:
        mock.return_value = mock_users

        users = await User.objects.all()
        assert len(users) == 1
