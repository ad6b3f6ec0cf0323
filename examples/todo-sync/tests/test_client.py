"""aksara's own ``client`` fixture in sync tests: no TestClient, auth from the settings."""

from __future__ import annotations

from typing import Any

import pytest
from app.models import Todo, User
from sqlmodel import Session, select

pytestmark = pytest.mark.usefixtures("alice")


def test_the_client_fixture_authenticates_with_the_auth_setting(
    client: Any, alice: User, db_session: Session
) -> None:
    client.authenticate(alice)  # auth = "app.core.security:create_token"

    response = client.post("/todos/", json={"title": "bread"})

    assert response.status_code == 201, response.text
    assert db_session.exec(select(Todo.title)).all() == ["bread"]


def test_after_logout_the_api_refuses(client: Any, alice: User) -> None:
    client.authenticate(alice)
    client.logout()

    assert client.get("/todos/").status_code == 401
