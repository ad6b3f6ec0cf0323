"""The example app's own tests, beyond the guide's examples."""

from blog.models import Post, User
from blog.services import email
from sqlalchemy import func, select

from aksara_testing import AksaraTestCase, capture_tasks, count_queries


async def test_a_post_created_through_the_api_is_visible_then_gone(client, db_session):
    user = await User.objects.create(email="author@example.com")
    client.authenticate(user)
    response = await client.post("/api/posts/", json={"title": "Hello World"})
    assert response.status_code == 201
    assert response.json()["slug"] == "hello-world"
    assert await db_session.scalar(select(func.count()).select_from(Post)) == 1


async def test_the_previous_tests_post_is_gone(db_session):
    assert await db_session.scalar(select(func.count()).select_from(Post)) == 0


class TestPermissions(AksaraTestCase):
    async def asyncSetUp(self):
        self.author = await User.objects.create(email="author@example.com")
        self.other = await User.objects.create(email="other@example.com")
        self.post = await Post.objects.create(title="Mine", author_id=self.author.id)

    async def test_only_admins_delete(self):
        self.authenticate(self.other)
        response = await self.client.delete(f"/api/posts/{self.post.id}/")
        assert response.status_code == 403

    async def test_the_author_edits_and_publishes(self):
        self.authenticate(self.author)
        response = await self.client.patch(f"/api/posts/{self.post.id}/", json={"title": "New"})
        assert response.status_code == 200
        response = await self.client.post(f"/api/posts/{self.post.id}/publish/")
        assert response.json()["is_published"] is True
        await self.post.refresh_from_db()
        assert self.post.is_published is True

    async def test_logout_drops_the_credentials(self):
        self.authenticate(self.author)
        assert (await self.client.get("/api/me/")).status_code == 200
        self.logout()
        assert (await self.client.get("/api/me/")).status_code == 401

    async def test_listing_posts_is_one_query(self):
        with count_queries() as queries:
            await self.client.get("/api/posts/")
        assert queries.count == 1


async def test_the_held_email_is_sent_when_the_test_runs_it(client):
    email.SENT.clear()
    with capture_tasks() as tasks:
        response = await client.post("/api/send-email/")
    assert response.status_code == 202
    assert email.SENT == []
    await tasks.run_all()
    assert email.SENT == [{"to": "team@example.com", "subject": "Hello from the blog"}]


async def test_run_true_sends_the_email_after_the_response(client):
    email.SENT.clear()
    with capture_tasks(run=True) as tasks:
        await client.post("/api/send-email/")
    assert tasks[0].args == ("team@example.com", "Hello from the blog")
    assert len(email.SENT) == 1
