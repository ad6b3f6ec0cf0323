"""Password hashing and bearer tokens (HMAC-signed user ids)."""

from __future__ import annotations

import hashlib
import hmac
import os


def _secret() -> bytes:
    return os.environ.get("BLOG_SECRET", "dev-secret").encode()


def hash_password(password: str) -> str:
    return hashlib.sha256(_secret() + password.encode()).hexdigest()


def create_token(user: object) -> str:
    user_id = str(user.id)
    signature = hmac.new(_secret(), user_id.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{user_id}.{signature}"


def user_id_from_token(token: str) -> str | None:
    user_id, _, signature = token.partition(".")
    expected = hmac.new(_secret(), user_id.encode(), hashlib.sha256).hexdigest()[:32]
    return user_id if hmac.compare_digest(signature, expected) else None
