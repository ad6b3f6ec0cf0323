"""The todo endpoints, on a user and a token made once for the module."""

from __future__ import annotations

import pytest
from app.models import Todo, User
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from tests.conftest import make_user


@pytest.fixture(scope="module")
def alices_todos(db_session: Session, alice: User) -> list[Todo]:
    todos = [Todo(title=title, owner_id=alice.id) for title in ("milk", "bread")]
    db_session.add_all(todos)
    db_session.commit()  # these two rows live as long as this module
    return todos


pytestmark = pytest.mark.usefixtures("alices_todos")  # every test here starts with them


def titles(response_json: list[dict[str, object]]) -> list[object]:
    return [todo["title"] for todo in response_json]


def test_listing_needs_a_token(api: TestClient) -> None:
    assert api.get("/todos/").status_code == 401


def test_listing_shows_the_users_todos(
    api: TestClient, alice_headers: dict[str, str], alices_todos: list[Todo]
) -> None:
    response = api.get("/todos/", headers=alice_headers)

    assert response.status_code == 200
    assert titles(response.json()) == ["milk", "bread"]


def test_creating_a_todo(
    api: TestClient, alice_headers: dict[str, str], alices_todos: list[Todo], db_session: Session
) -> None:
    response = api.post("/todos/", json={"title": "eggs"}, headers=alice_headers)

    assert response.status_code == 201, response.text
    assert db_session.exec(select(Todo.title).order_by(Todo.id)).all() == ["milk", "bread", "eggs"]


def test_the_created_todo_is_gone_and_the_module_data_stays(
    api: TestClient, alice_headers: dict[str, str], alices_todos: list[Todo]
) -> None:
    assert titles(api.get("/todos/", headers=alice_headers).json()) == ["milk", "bread"]


def test_marking_a_todo_done(
    api: TestClient, alice_headers: dict[str, str], alices_todos: list[Todo], db_session: Session
) -> None:
    milk = alices_todos[0]

    response = api.patch(f"/todos/{milk.id}", json={"done": True}, headers=alice_headers)

    assert response.json()["done"] is True
    assert db_session.get(Todo, milk.id).done is True


def test_and_it_is_not_done_in_the_next_test(alices_todos: list[Todo], db_session: Session) -> None:
    assert db_session.get(Todo, alices_todos[0].id).done is False


def test_deleting_a_todo(
    api: TestClient, alice_headers: dict[str, str], alices_todos: list[Todo], db_session: Session
) -> None:
    response = api.delete(f"/todos/{alices_todos[1].id}", headers=alice_headers)

    assert response.status_code == 204
    assert db_session.exec(select(Todo.title)).all() == ["milk"]


def test_other_users_todos_are_not_found(
    api: TestClient, alices_todos: list[Todo], db_session: Session
) -> None:
    bob = make_user(db_session, "bob@example.com")  # a test's own row: rolled back after it
    login = api.post("/login/", json={"email": bob.email, "password": "correct horse"})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    assert api.get("/todos/", headers=headers).json() == []
    assert api.delete(f"/todos/{alices_todos[0].id}", headers=headers).status_code == 404
