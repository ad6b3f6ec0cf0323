"""A small sync FastAPI + SQLModel app: users, their todos, token auth."""
