"""Find the project's Alembic set-up and point it at a test database."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import URL

    from .._settings import Settings

__all__ = ["URL_ATTRIBUTE", "alembic_config", "check_location", "migrations_fingerprint"]

# env.py can read the test database URL from here (or from ``-x url=...``).
URL_ATTRIBUTE = "aksara_test_url"


def alembic_config(settings: Settings, url: URL) -> Config:
    """An Alembic ``Config`` for ``settings.migrations`` whose database is ``url``.

    The URL reaches env.py three ways: the ``sqlalchemy.url`` option,
    ``context.get_x_argument(as_dictionary=True)["url"]`` and
    ``config.attributes["aksara_test_url"]``.
    """
    from alembic.config import Config

    ini, folder = _locate(settings)
    config = Config(str(ini)) if ini is not None else Config()
    config.set_main_option("script_location", str(folder))
    rendered = url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    config.cmd_opts = argparse.Namespace(x=[f"url={rendered}"])
    config.attributes[URL_ATTRIBUTE] = rendered
    return config


def check_location(settings: Settings) -> None:
    """Raise :class:`ConfigurationError` unless setting ``migrations`` is an Alembic set-up."""
    _locate(settings)


def migrations_fingerprint(settings: Settings) -> str:
    """A hash of every file in the script folder: a new revision changes it."""
    ini, folder = _locate(settings)
    digest = hashlib.sha256()
    files = [ini] if ini is not None else []
    files += sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".mako", ".ini")
    )
    for path in files:
        digest.update(str(path.relative_to(path.anchor)).encode())
        digest.update(path.read_bytes())
    return "alembic-" + digest.hexdigest()[:16]


def _locate(settings: Settings) -> tuple[Path | None, Path]:
    path = settings.migrations
    assert path is not None
    if path.is_dir():
        if (path / "env.py").is_file():
            return None, path.resolve()
        if (path / "alembic.ini").is_file():
            return _from_ini(settings, path / "alembic.ini")
    elif path.is_file():
        return _from_ini(settings, path)
    raise ConfigurationError(
        f"setting {settings.describe('migrations')} is neither an alembic.ini nor a folder "
        "holding env.py; fix the path, or unset migrations to build the schema from models"
    )


def _from_ini(settings: Settings, ini: Path) -> tuple[Path, Path]:
    import configparser

    parser = configparser.ConfigParser(defaults={"here": str(ini.parent.resolve())})
    try:
        parser.read(ini)
        location = parser.get("alembic", "script_location")
    except (configparser.Error, KeyError):
        raise ConfigurationError(
            f"{ini} (setting {settings.describe('migrations')}) has no script_location "
            "in its [alembic] section; add one, or point migrations at the script folder"
        ) from None
    folder = Path(location)
    if not folder.is_absolute():
        # Alembic reads it relative to the working directory; projects mean the ini's folder.
        folder = ini.parent / folder
    if not (folder / "env.py").is_file():
        raise ConfigurationError(
            f"script_location {location!r} in {ini} (setting "
            f"{settings.describe('migrations')}) holds no env.py; fix script_location"
        )
    return ini.resolve(), folder.resolve()
