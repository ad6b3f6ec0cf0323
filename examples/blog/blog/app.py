"""The blog's HTTP API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .auth import user_id_from_token
from .db import SessionLocal
from .models import Post, User

app = FastAPI(title="blog")


async def get_session() -> Any:
    async with SessionLocal() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]


async def current_user(session: Session, authorization: str | None = Header(None)) -> User:
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401, "authentication required")
    user_id = user_id_from_token(authorization.removeprefix("Bearer "))
    user = await session.get(User, user_id) if user_id else None
    if user is None:
        raise HTTPException(401, "invalid token")
    return user


class PostIn(BaseModel):
    title: str
    content: str = ""


def post_json(post: Post) -> dict[str, Any]:
    return {
        "id": post.id,
        "title": post.title,
        "content": post.content,
        "is_published": post.is_published,
        "author_id": post.author_id,
    }


@app.get("/api/posts/")
async def list_posts(session: Session) -> list[dict[str, Any]]:
    posts = await session.scalars(select(Post).order_by(Post.created_at))
    return [post_json(p) for p in posts]


@app.post("/api/posts/", status_code=201)
async def create_post(
    body: PostIn, session: Session, user: Annotated[User, Depends(current_user)]
) -> dict[str, Any]:
    post = Post(title=body.title, content=body.content, author_id=user.id)
    session.add(post)
    await session.commit()
    return post_json(post)


@app.get("/api/posts/{post_id}/")
async def get_post(post_id: str, session: Session) -> dict[str, Any]:
    post = await session.get(Post, post_id)
    if post is None:
        raise HTTPException(404, "no such post")
    return post_json(post)


@app.get("/api/me/")
async def me(user: Annotated[User, Depends(current_user)]) -> dict[str, Any]:
    return {"id": user.id, "email": user.email}
