"""The dependencies the routes share: a session, and the user a bearer token names."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException
from sqlmodel import Session

from app.core.db import get_db
from app.core.security import user_id_from_token
from app.models import User

SessionDep = Annotated[Session, Depends(get_db)]


def get_current_user(session: SessionDep, authorization: str | None = Header(None)) -> User:
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401, "not authenticated")
    user_id = user_id_from_token(authorization.removeprefix("Bearer "))
    user = session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise HTTPException(401, "invalid token")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
