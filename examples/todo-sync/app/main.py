"""The FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from app.api.routes import todos, users

app = FastAPI(title="todo-sync")
app.include_router(users.router)
app.include_router(todos.router)
