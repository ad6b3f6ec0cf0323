from aksara_testing import MigrationTestCase


class TestMigrations(MigrationTestCase):
    async def test_migration_0003(self):
        # Apply up to migration before
        await self.migrate("myapp", "0002")

        # Create data in old schema
        await self.execute("INSERT INTO posts (title) VALUES ('Test')")

        # Apply the migration
        await self.migrate("myapp", "0003")

        # Verify migration worked
        result = await self.execute("SELECT slug FROM posts WHERE title = 'Test'")
        assert result[0]["slug"] == "test"
