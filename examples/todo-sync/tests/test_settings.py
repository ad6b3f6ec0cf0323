"""The app reads its database URL from its own variable; the settings keep it on aksara's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.db import engine


def test_the_apps_engine_follows_database_url(test_settings: Mapping[str, Any]) -> None:
    # env = { TODO_DATABASE_URL = "{database_url}" } in pyproject.toml: the same URL,
    # whether it comes from the file, AKSARA_DATABASE_URL or --database-url.
    assert engine.url.render_as_string(hide_password=False) == test_settings["database_url"]
