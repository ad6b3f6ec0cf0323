"""Sign-up, log-in and the current user."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlmodel import select

from app.api.deps import CurrentUser, SessionDep
from app.core.security import create_token, hash_password, verify_password
from app.models import Token, User, UserCreate, UserPublic

router = APIRouter()


@router.post("/users/", status_code=201, response_model=UserPublic)
def create_user(body: UserCreate, session: SessionDep) -> User:
    if session.exec(select(User).where(User.email == body.email)).first():
        raise HTTPException(409, "a user with this email already exists")
    user = User(email=body.email, hashed_password=hash_password(body.password))
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


@router.post("/login/", response_model=Token)
def log_in(body: UserCreate, session: SessionDep) -> Token:
    user = session.exec(select(User).where(User.email == body.email)).first()
    if user is None or not verify_password(body.password, user.hashed_password):
        raise HTTPException(401, "wrong email or password")
    return Token(access_token=create_token(user))


@router.get("/users/me", response_model=UserPublic)
def read_me(user: CurrentUser) -> User:
    return user
