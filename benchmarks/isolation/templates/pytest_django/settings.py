"""Minimal Django settings for variant (d)."""

from pathlib import Path
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent
DATABASE_URL = "@DATABASE_URL@"


def database_settings(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # pytest-django then tests against Django's default in-memory SQLite database.
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / parts.path.lstrip("/")}
    name = parts.path.lstrip("/")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        # The harness creates this database; `--reuse-db` stops Django dropping it.
        "TEST": {"NAME": name},
    }


SECRET_KEY = "benchmark-only"
INSTALLED_APPS = ["benchapp"]
DATABASES = {"default": database_settings(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
