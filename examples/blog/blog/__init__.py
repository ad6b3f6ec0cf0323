"""A small blog API: FastAPI + SQLAlchemy 2.0 (asyncio), used to show aksara-testing."""
