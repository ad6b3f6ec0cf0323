"""The current user's todos: list, create, update, delete."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlmodel import Session, select

from app.api.deps import CurrentUser, SessionDep
from app.models import Todo, TodoCreate, TodoPublic, TodoUpdate, User

router = APIRouter(prefix="/todos")


def _own_todo(session: Session, user: User, todo_id: int) -> Todo:
    todo = session.get(Todo, todo_id)
    if todo is None or todo.owner_id != user.id:
        raise HTTPException(404, "no such todo")
    return todo


@router.get("/", response_model=list[TodoPublic])
def list_todos(session: SessionDep, user: CurrentUser) -> list[Todo]:
    return list(session.exec(select(Todo).where(Todo.owner_id == user.id).order_by(Todo.id)))


@router.post("/", status_code=201, response_model=TodoPublic)
def create_todo(body: TodoCreate, session: SessionDep, user: CurrentUser) -> Todo:
    todo = Todo(title=body.title, owner_id=user.id)
    session.add(todo)
    session.commit()
    session.refresh(todo)
    return todo


@router.patch("/{todo_id}", response_model=TodoPublic)
def update_todo(todo_id: int, body: TodoUpdate, session: SessionDep, user: CurrentUser) -> Todo:
    todo = _own_todo(session, user, todo_id)
    todo.sqlmodel_update(body.model_dump(exclude_unset=True))
    session.add(todo)
    session.commit()
    session.refresh(todo)
    return todo


@router.delete("/{todo_id}", status_code=204)
def delete_todo(todo_id: int, session: SessionDep, user: CurrentUser) -> None:
    session.delete(_own_todo(session, user, todo_id))
    session.commit()
