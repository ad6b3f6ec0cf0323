"""Password hashing and bearer tokens (an HMAC-signed user id)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from app.core.config import settings


def _sign(value: str) -> str:
    return hmac.new(settings.secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]


def hash_password(password: str) -> str:
    return hashlib.sha256(settings.secret_key.encode() + password.encode()).hexdigest()


def verify_password(password: str, hashed: str) -> bool:
    return hmac.compare_digest(hash_password(password), hashed)


def create_token(user: Any) -> str:
    """The bearer token for ``user``; the ``auth`` setting names this function."""
    return f"{user.id}.{_sign(str(user.id))}"


def user_id_from_token(token: str) -> int | None:
    user_id, _, signature = token.partition(".")
    if not user_id.isdigit() or not hmac.compare_digest(signature, _sign(user_id)):
        return None
    return int(user_id)
