# The guide's "Using Factories", "Factory Sequences" and "Factory Traits"
# examples, verbatim apart from the import paths; the names they use without
# importing are imported first.
from aksara_testing import AksaraTestCase, Factory, Faker
from blog.models import User

from tests.factories import UserFactory, PostFactory

class TestPosts(AksaraTestCase):
    async def test_with_factories(self):
        # Create single instance
        user = await UserFactory.create()

        # Create with overrides
        admin = await UserFactory.create(
            email="admin@example.com",
            is_admin=True
        )

        # Create multiple
        users = await UserFactory.create_batch(5)

        # Create with related objects
        post = await PostFactory.create(
            author=admin,
            title="Admin Post"
        )


class SequenceUserFactory(Factory):
    class Meta:
        model = User

    # Unique values using sequence
    email = Factory.Sequence(lambda n: f"user{n}@example.com")
    username = Factory.Sequence(lambda n: f"user{n}")


class TraitUserFactory(Factory):
    class Meta:
        model = User

    email = Faker("email")
    is_admin = False
    is_active = True

    class Params:
        admin = Factory.Trait(is_admin=True)
        inactive = Factory.Trait(is_active=False)


class TestSequencesAndTraits(AksaraTestCase):
    async def test_sequences(self):
        first, second = await SequenceUserFactory.create_batch(2)
        assert (first.email, second.username) == ("user0@example.com", "user1")

    async def test_traits(self):
        UserFactory = TraitUserFactory
        # Usage
        admin = await UserFactory.create(admin=True)
        inactive = await UserFactory.create(inactive=True)
        assert admin.is_admin and not inactive.is_active
