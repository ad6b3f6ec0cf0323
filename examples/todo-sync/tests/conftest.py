"""Fixtures as the FastAPI starter's tests write them: a TestClient and a user per module.

No engine, no savepoint fixture, no dependency override: aksara-testing builds
the test database and routes the app's ``engine`` to each test's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from app.core.security import hash_password
from app.main import app
from app.models import User
from fastapi.testclient import TestClient
from sqlmodel import Session

PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def api() -> Iterator[TestClient]:
    with TestClient(app) as test_client:  # runs the lifespan once per module
        yield test_client


def make_user(session: Session, email: str) -> User:
    user = User(email=email, hashed_password=hash_password(PASSWORD))
    session.add(user)
    session.commit()  # kept until the scope that made it ends, then rolled back
    session.refresh(user)
    return user


@pytest.fixture(scope="module")
def alice(db_session: Session) -> User:
    return make_user(db_session, "alice@example.com")


@pytest.fixture(scope="module")
def alice_headers(api: TestClient, alice: User) -> dict[str, str]:
    """Logged in through the API, once per module, as the starter's token fixtures do."""
    response = api.post("/login/", json={"email": alice.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
