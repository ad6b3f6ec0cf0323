# The guide's "Test Case Class" and "Automatic Rollback" examples, verbatim
# apart from the import path.
import pytest
from aksara_testing import AksaraTestCase
from blog.models import User

class TestUserModel(AksaraTestCase):
    async def asyncSetUp(self):
        """Run before each test."""
        self.user = await User.objects.create(
            email="test@example.com",
            name="Test User"
        )

    async def asyncTearDown(self):
        """Run after each test."""
        pass  # Database is rolled back automatically

    async def test_user_creation(self):
        """Test creating a user."""
        assert self.user.id is not None
        assert self.user.email == "test@example.com"

    async def test_user_update(self):
        """Test updating a user."""
        self.user.name = "Updated Name"
        await self.user.save()

        refreshed = await User.objects.get(id=self.user.id)
        assert refreshed.name == "Updated Name"


class TestDatabase(AksaraTestCase):
    # Database is automatically rolled back after each test

    async def test_creates_data(self):
        await User.objects.create(email="test@example.com")
        count = await User.objects.count()
        assert count == 1

    async def test_clean_database(self):
        # Previous test's data is gone
        count = await User.objects.count()
        assert count == 0
