"""Alembic: the test schema from migrations, MigrationTestCase, and the built-in checks."""
