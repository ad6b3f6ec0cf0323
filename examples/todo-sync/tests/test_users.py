"""Sign-up and log-in: what the app commits is visible to the test, then rolled back."""

from __future__ import annotations

import pytest
from app.models import User
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("alice")  # every test here starts with alice


def test_signing_up_creates_a_user(api: TestClient, db_session: Session) -> None:
    response = api.post("/users/", json={"email": "bob@example.com", "password": "pw"})

    assert response.status_code == 201, response.text
    assert response.json()["email"] == "bob@example.com"
    emails = db_session.exec(select(User.email).order_by(User.id)).all()
    assert emails == ["alice@example.com", "bob@example.com"]


def test_the_next_test_starts_without_that_user(db_session: Session) -> None:
    assert db_session.exec(select(User.email)).all() == ["alice@example.com"]


def test_an_email_signs_up_once(api: TestClient, alice: User) -> None:
    response = api.post("/users/", json={"email": alice.email, "password": "pw"})

    assert response.status_code == 409


def test_logging_in_and_reading_me(api: TestClient, alice: User) -> None:
    login = api.post("/login/", json={"email": alice.email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]

    response = api.get("/users/me", headers={"Authorization": f"Bearer {token}"})

    assert response.json() == {"id": alice.id, "email": alice.email}


def test_a_wrong_password_is_refused(api: TestClient, alice: User) -> None:
    response = api.post("/login/", json={"email": alice.email, "password": "wrong"})

    assert response.status_code == 401


def test_a_forged_token_is_refused(api: TestClient, alice: User) -> None:
    response = api.get("/users/me", headers={"Authorization": f"Bearer {alice.id}.forged"})

    assert response.status_code == 401
