"""The blog's HTTP API."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import BackgroundTasks, Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .auth import user_id_from_token
from .db import SessionLocal
from .models import Post, User
from .services import ai, email, payment

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


CurrentUser = Annotated[User, Depends(current_user)]


class PostIn(BaseModel):
    title: str
    content: str = ""


class PostPatch(BaseModel):
    title: str | None = None
    content: str | None = None


class Checkout(BaseModel):
    amount: int


class Question(BaseModel):
    query: str


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def post_json(post: Post) -> dict[str, Any]:
    return {
        "id": post.id,
        "title": post.title,
        "slug": post.slug,
        "content": post.content,
        "is_published": post.is_published,
        "author_id": post.author_id,
    }


async def get_post_or_404(session: AsyncSession, post_id: str) -> Post:
    post = await session.get(Post, post_id)
    if post is None:
        raise HTTPException(404, "no such post")
    return post


@app.get("/api/posts/")
async def list_posts(session: Session) -> list[dict[str, Any]]:
    posts = await session.scalars(select(Post).order_by(Post.created_at))
    return [post_json(p) for p in posts]


@app.post("/api/posts/", status_code=201)
async def create_post(body: PostIn, session: Session, user: CurrentUser) -> dict[str, Any]:
    post = Post(title=body.title, slug=slugify(body.title), content=body.content, author_id=user.id)
    session.add(post)
    await session.commit()
    return post_json(post)


@app.get("/api/posts/{post_id}/")
async def get_post(post_id: str, session: Session) -> dict[str, Any]:
    return post_json(await get_post_or_404(session, post_id))


@app.patch("/api/posts/{post_id}/")
async def update_post(
    post_id: str, body: PostPatch, session: Session, user: CurrentUser
) -> dict[str, Any]:
    post = await get_post_or_404(session, post_id)
    if post.author_id != user.id and not user.is_admin:
        raise HTTPException(403, "only the author may edit a post")
    for field, value in body.model_dump(exclude_none=True).items():
        setattr(post, field, value)
    await session.commit()
    return post_json(post)


@app.delete("/api/posts/{post_id}/", status_code=204)
async def delete_post(post_id: str, session: Session, user: CurrentUser) -> None:
    if not user.is_admin:
        raise HTTPException(403, "only admins may delete posts")
    post = await get_post_or_404(session, post_id)
    await session.delete(post)
    await session.commit()


@app.post("/api/posts/{post_id}/publish/")
async def publish_post(post_id: str, session: Session, user: CurrentUser) -> dict[str, Any]:
    post = await get_post_or_404(session, post_id)
    if post.author_id != user.id and not user.is_admin:
        raise HTTPException(403, "only the author may publish a post")
    post.is_published = True
    await session.commit()
    return post_json(post)


@app.get("/api/me/")
async def me(user: CurrentUser) -> dict[str, Any]:
    return {"id": user.id, "email": user.email}


@app.post("/api/checkout/")
async def checkout(body: Checkout) -> dict[str, Any]:
    # Looked up on the module at call time, so tests can patch it.
    return payment.process_payment(amount=body.amount)


@app.post("/api/ai/query/")
async def ai_query(body: Question) -> dict[str, Any]:
    return {"sql": await ai.ask_for_sql(body.query)}


@app.post("/api/send-email/", status_code=202)
async def send_email(tasks: BackgroundTasks) -> dict[str, Any]:
    tasks.add_task(email.send_email, "team@example.com", "Hello from the blog")
    return {"scheduled": True}
