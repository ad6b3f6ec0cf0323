# The guide's "Testing ViewSets" and "Permission Testing" examples, verbatim
# apart from the import paths; the names they use without importing are
# imported first.
from tests.factories import PostFactory, UserFactory

from aksara_testing import AksaraTestCase

class TestPostViewSet(AksaraTestCase):
    async def test_list_action(self):
        await PostFactory.create_batch(5)

        response = await self.client.get("/api/posts/")

        assert response.status_code == 200
        assert len(response.json()) == 5

    async def test_custom_action(self):
        post = await PostFactory.create(is_published=False)
        self.authenticate(post.author)

        response = await self.client.post(f"/api/posts/{post.id}/publish/")

        assert response.status_code == 200

        # Verify database change
        await post.refresh_from_db()
        assert post.is_published is True

class TestPermissions(AksaraTestCase):
    async def test_admin_only_endpoint(self):
        user = await UserFactory.create(is_admin=False)
        self.authenticate(user)

        response = await self.client.delete("/api/posts/123/")
        assert response.status_code == 403

    async def test_owner_can_edit(self):
        post = await PostFactory.create()
        self.authenticate(post.author)

        response = await self.client.patch(
            f"/api/posts/{post.id}/",
            json={"title": "Updated"}
        )
        assert response.status_code == 200
