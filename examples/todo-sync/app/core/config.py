"""Settings read from the environment, the way the app reads them in production."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Settings:
    database_url: str = field(
        default_factory=lambda: os.environ.get("TODO_DATABASE_URL", "sqlite:///todo.db")
    )
    secret_key: str = field(default_factory=lambda: os.environ.get("TODO_SECRET", "dev-secret"))


settings = Settings()
