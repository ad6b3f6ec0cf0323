"""``aksara doctor``: check the configuration without running a test.

One line per check (``ok``, ``FAIL`` or ``skip``, then what was checked): the
settings and what they import here, the database and its server in
:mod:`._doctor_database`. Nothing is created or changed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._doctor_check import Check, CheckFailed, Outcome
from ._doctor_database import check_env, check_extras, check_server, check_test_database

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from aksara_testing._settings import Settings

__all__ = ["Check", "CheckFailed", "find_root", "run_doctor"]


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` with a pyproject.toml (else ``start``)."""
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


def run_doctor(
    root: Path,
    settings_file: Path | None = None,
    flags: Mapping[str, str | None] | None = None,
    echo: Callable[[str], None] = click.echo,
) -> int:
    """Run every check, print one line each; 0 when none failed, else 1."""
    echo(f"aksara doctor: {root}")
    checks = []
    for check in _Doctor(root, settings_file, dict(flags or {})).checks():
        echo(check.line())
        checks.append(check)
    failed = sum(c.status == "FAIL" for c in checks)
    skipped = sum(c.status == "skip" for c in checks)
    if failed:
        echo(f"aksara doctor: {failed} of {len(checks)} checks failed")
        return 1
    echo(f"aksara doctor: all checks passed ({skipped} skipped)")
    return 0


class _Doctor:
    def __init__(
        self, root: Path, settings_file: Path | None, flags: dict[str, str | None]
    ) -> None:
        self.root = root
        self.settings_file = settings_file
        self.flags = flags
        self.settings: Settings | None = None
        self.url: URL | None = None
        self.driver_ok = False

    def checks(self) -> Iterator[Check]:
        steps: list[tuple[str, Callable[[], Outcome]]] = [
            ("settings", self.check_settings),
            ("app", self.check_app),
            ("models", self.check_models),
            ("session", self.check_session),
            ("auth", self.check_auth),
            ("test database", self.check_test_database),
            ("env", self.check_env),
            ("extras", self.check_extras),
            ("server", self.check_server),
            ("migrations", self.check_migrations),
        ]
        for name, step in steps:
            if self.settings is None and name != "settings":
                yield Check("skip", name, "needs the settings")
                continue
            try:
                status, detail = step()
            except CheckFailed as exc:
                status, detail = "FAIL", str(exc)
            yield Check(status, name, detail)

    # -- settings and imports ----------------------------------------------------------

    def check_settings(self) -> Outcome:
        from aksara_testing._environment import export_env
        from aksara_testing._settings import load_settings
        from aksara_testing._text import relative_path
        from aksara_testing.errors import ConfigurationError

        try:
            settings = load_settings(self.root, self.settings_file, flags=self.flags)
        except ConfigurationError as exc:
            raise CheckFailed(str(exc)) from None
        if not settings.sources:
            raise CheckFailed(
                f"no [tool.aksara] table in {self.root / 'pyproject.toml'} and no AKSARA_ "
                "variables; run aksara init to write one"
            )
        self.settings = settings
        # As the plugin does: the project's modules import from its folder, with its env.
        if str(settings.root) not in sys.path:
            sys.path.insert(0, str(settings.root))
        export_env(settings.env)
        by_source: dict[str, list[str]] = {}
        for key, source in settings.sources.items():
            by_source.setdefault(source, []).append(key)
        where = relative_path(settings.file, self.root) if settings.file else "no settings file"
        sources = "; ".join(f"{', '.join(keys)} from {src}" for src, keys in by_source.items())
        return "ok", f"{where}: {sources}"

    def _import(self, key: str, spec: str) -> Any:
        from aksara_testing._imports import import_target
        from aksara_testing.errors import ConfigurationError

        assert self.settings is not None
        try:  # the same line as aksara test's: a missing module, or the line that raised
            return import_target(self.settings, key, spec)
        except ConfigurationError as exc:
            raise CheckFailed(str(exc)) from None

    def _named(self, key: str) -> str:
        assert self.settings is not None
        return f"{getattr(self.settings, key)} (from {self.settings.source(key)})"

    def check_app(self) -> Outcome:
        assert self.settings is not None
        spec = self.settings.app
        if not spec:
            return "skip", "app not set: the client fixture needs it (or an app fixture)"
        from aksara_testing._apps import app_problem, is_asgi_app

        app = self._import("app", spec)
        problem = app_problem(app, self.settings.describe("app"))
        if problem is not None:
            raise CheckFailed(problem)
        if not is_asgi_app(app):  # not called here: building the app may start things
            return "ok", f"{self._named('app')} imports: a factory, {_callable_name(app)}()"
        return "ok", f"{self._named('app')} imports: {type(app).__name__}"

    def check_models(self) -> Outcome:
        from sqlalchemy import MetaData

        assert self.settings is not None
        if not self.settings.models:
            return "skip", "models not set: the schema comes from migrations only"
        models = self._import("models", self.settings.models)
        metadata = getattr(models, "metadata", models)
        if not isinstance(metadata, MetaData):
            raise CheckFailed(
                f"{self.settings.describe('models')} is neither a DeclarativeBase subclass nor "
                "a MetaData; point it at your models' Base"
            )
        if not metadata.tables:
            raise CheckFailed(
                f"{self.settings.describe('models')} has no tables; import the modules that "
                "define your models in the module of the Base"
            )
        return "ok", f"{self._named('models')} imports: {len(metadata.tables)} tables"

    def check_session(self) -> Outcome:
        from aksara_testing._db import classify, kind_of_run
        from aksara_testing.errors import ConfigurationError

        assert self.settings is not None
        if not self.settings.session and not self.settings.engine:
            return "skip", "session not set: only db_session uses the test transaction"
        named = []
        for key in ("session", "engine"):
            for spec in getattr(self.settings, key):
                target = self._import(key, spec)
                try:
                    named.append(classify(key, spec, target, self.settings.source(key)))
                except ConfigurationError as exc:
                    raise CheckFailed(str(exc)) from None
        try:
            kind = kind_of_run(named)
        except ConfigurationError as exc:
            raise CheckFailed(str(exc)) from None
        shown = ", ".join(f"{n.spec} ({n.what})" for n in named)
        return "ok", f"{shown} import: a {kind} app"

    def check_auth(self) -> Outcome:
        assert self.settings is not None
        if not self.settings.auth:
            return "skip", "auth not set: client.authenticate(user) needs it"
        function = self._import("auth", self.settings.auth)
        if not callable(function):
            raise CheckFailed(
                f"{self.settings.describe('auth')} is a {type(function).__name__}, not a "
                "function; point it at a callable(user) -> token or headers"
            )
        return "ok", f"{self._named('auth')} imports: callable"

    # -- the database (see _doctor_database) -------------------------------------------

    def check_test_database(self) -> Outcome:
        assert self.settings is not None
        outcome, self.url = check_test_database(self.settings)
        return outcome

    def check_env(self) -> Outcome:
        assert self.settings is not None
        return check_env(self.settings)

    def check_extras(self) -> Outcome:
        if self.url is None:
            return "skip", "no test database"
        outcome = check_extras(self.url)
        self.driver_ok = True
        return outcome

    def check_server(self) -> Outcome:
        if self.url is None or not self.driver_ok:
            return "skip", "needs a test database URL and its driver"
        assert self.settings is not None
        return check_server(self.url, self.settings)

    # -- migrations --------------------------------------------------------------------

    def check_migrations(self) -> Outcome:
        assert self.settings is not None
        path = self.settings.migrations
        if path is None:
            return "skip", "migrations not set: the schema is built from models"
        from alembic.script import ScriptDirectory

        from aksara_testing._text import typed_line

        config = _alembic_config(path, self.settings.describe("migrations"))
        try:
            script = ScriptDirectory.from_config(config)
            heads = script.get_heads()
            count = sum(1 for _ in script.walk_revisions())
        except Exception as exc:
            raise CheckFailed(
                f"{self.settings.describe('migrations')}: Alembic cannot load the scripts "
                f"({typed_line(exc)}); fix script_location or the "
                "revision files"
            ) from None
        if not heads:
            raise CheckFailed(
                f"{self.settings.describe('migrations')} has no revisions; create the first "
                "with alembic revision --autogenerate -m initial"
            )
        if len(heads) > 1:
            raise CheckFailed(
                f"{self.settings.describe('migrations')} has {len(heads)} heads "
                f"({', '.join(sorted(heads))}); join them with alembic merge heads -m merge"
            )
        return "ok", f"{self._named('migrations')}: one head {heads[0]}, {count} revisions"


def _callable_name(function: object) -> str:
    return str(getattr(function, "__qualname__", type(function).__name__))


def _alembic_config(path: Path, described: str) -> Any:
    from alembic.config import Config

    if path.is_file():
        config = Config(str(path))
        location = config.get_main_option("script_location")
        if location and ":" not in location and not Path(location).is_absolute():
            # As if alembic were run from the folder of alembic.ini.
            config.set_main_option("script_location", str(path.parent / location))
        return config
    if path.is_dir():
        config = Config()
        config.set_main_option("script_location", str(path))
        return config
    raise CheckFailed(f"{described} does not exist; point it at alembic.ini or the script folder")
