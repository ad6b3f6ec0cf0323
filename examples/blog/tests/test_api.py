# The guide's "Test Client", "Authentication Helpers", "Request Assertions" and
# "Mock External Services" examples, verbatim apart from the import paths
# (aksara.testing -> aksara_testing, myapp -> blog); the names the guide's
# snippets use without importing are imported first.
from blog.auth import create_token, hash_password
from blog.models import Post, User

from aksara_testing import AksaraTestCase

class TestPostAPI(AksaraTestCase):
    async def asyncSetUp(self):
        self.user = await User.objects.create(
            email="test@example.com",
            password=hash_password("password")
        )
        self.token = create_token(self.user)

    async def test_list_posts(self):
        """Test listing posts."""
        response = await self.client.get("/api/posts/")

        assert response.status_code == 200
        assert isinstance(response.json(), list)

    async def test_create_post_authenticated(self):
        """Test creating a post while authenticated."""
        response = await self.client.post(
            "/api/posts/",
            json={"title": "Test", "content": "Content"},
            headers={"Authorization": f"Bearer {self.token}"}
        )

        assert response.status_code == 201
        assert response.json()["title"] == "Test"

    async def test_create_post_unauthenticated(self):
        """Test creating a post without auth."""
        response = await self.client.post(
            "/api/posts/",
            json={"title": "Test", "content": "Content"}
        )

        assert response.status_code == 401

class TestAuthenticatedAPI(AksaraTestCase):
    async def asyncSetUp(self):
        self.user = await User.objects.create(
            email="test@example.com",
            password=hash_password("password")
        )
        # Login helper
        self.authenticate(self.user)

    async def test_protected_endpoint(self):
        # Auth headers added automatically
        response = await self.client.get("/api/me/")
        assert response.status_code == 200

class TestRequestAssertions(AksaraTestCase):
    async def test_post_detail(self):
        post = await Post.objects.create(title="Test", content="Content")

        response = await self.client.get(f"/api/posts/{post.id}/")

        # Status code
        assert response.status_code == 200

        # Response data
        data = response.json()
        assert data["id"] == str(post.id)
        assert data["title"] == "Test"

        # Response headers
        assert "application/json" in response.headers["content-type"]

from unittest.mock import AsyncMock, patch

class TestPayment(AksaraTestCase):
    @patch("blog.services.payment.process_payment")
    async def test_checkout(self, mock_payment):
        mock_payment.return_value = {"status": "success", "transaction_id": "123"}

        response = await self.client.post(
            "/api/checkout/",
            json={"amount": 100}
        )

        assert response.status_code == 200
        mock_payment.assert_called_once_with(amount=100)


# The edit-run loop's test (benchmarks/loop.py): one factory row, one request
# through the `client` fixture.
from tests.factories import UserFactory


async def test_me_is_the_token_user(client):
    user = await UserFactory.create()

    response = await client.get(
        "/api/me/", headers={"Authorization": f"Bearer {create_token(user)}"}
    )

    assert response.json() == {"id": user.id, "email": user.email}
