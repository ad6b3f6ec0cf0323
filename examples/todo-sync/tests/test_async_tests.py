"""Async tests in this sync project: aksara's async client, and the same sync db_session."""

from __future__ import annotations

from typing import Any

import pytest
from app.models import Todo, User
from sqlmodel import Session, select

pytestmark = pytest.mark.usefixtures("alice")


async def test_the_async_client_calls_the_sync_endpoints(
    client: Any, db_session: Session, alice: User
) -> None:
    client.authenticate(alice)  # the auth setting: app.core.security:create_token

    response = await client.post("/todos/", json={"title": "from an async test"})

    assert response.status_code == 201, response.text
    assert db_session.exec(select(Todo.title)).all() == ["from an async test"]  # no await


async def test_and_the_todo_is_rolled_back(db_session: Session) -> None:
    assert db_session.exec(select(Todo)).all() == []
