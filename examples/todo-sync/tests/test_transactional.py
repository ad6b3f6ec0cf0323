"""Real commits, for code that needs another connection to see them.

A module of its own: a transactional test refuses to run while module-scoped
fixtures hold data.
"""

from __future__ import annotations

import pytest
from app.core.db import engine
from app.main import app
from app.models import User
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select


@pytest.mark.transactional
def test_a_second_connection_sees_what_the_app_committed() -> None:
    with TestClient(app) as api:
        response = api.post("/users/", json={"email": "carol@example.com", "password": "pw"})
    assert response.status_code == 201

    with engine.connect() as connection:  # a connection of its own, from the app's pool
        assert connection.scalar(select(User.email)) == "carol@example.com"


def test_the_tables_are_emptied_after_it(db_session: Session) -> None:
    assert db_session.exec(select(func.count()).select_from(User)).one() == 0
