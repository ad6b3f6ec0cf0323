# The guide's "Basic Factory" example, verbatim apart from the import paths
# (aksara.testing -> aksara_testing, myapp -> blog).
from aksara_testing import Factory, Faker
from blog.models import User, Post

class UserFactory(Factory):
    class Meta:
        model = User

    email = Faker("email")
    name = Faker("name")
    password = "hashed_password"
    is_active = True

class PostFactory(Factory):
    class Meta:
        model = Post

    title = Faker("sentence")
    content = Faker("paragraph")
    author = Factory.SubFactory(UserFactory)
    is_published = True
