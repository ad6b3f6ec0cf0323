"""One resolved view of the ``[tool.aksara]`` settings.

Precedence, lowest first: defaults, the settings file (``pyproject.toml`` at
pytest's rootdir, or ``--aksara-settings FILE``), ``AKSARA_<KEY>`` environment
variables, command-line flags, then the ``test_settings`` fixture. Every value
remembers where it came from so the report header and error messages can say.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ._text import relative_path
from .errors import ConfigurationError

__all__ = ["SETTINGS", "SettingDef", "Settings", "load_settings", "mask_url"]

Kind = Literal["str", "target", "targets", "path", "table", "hosts", "bool", "databases"]


@dataclass(frozen=True)
class SettingDef:
    """The definition of one key of ``[tool.aksara]``: the single source for docs and parsing."""

    key: str
    kind: Kind
    help: str
    flag: str | None = None

    @property
    def env_var(self) -> str | None:
        return None if self.kind == "table" else f"AKSARA_{self.key.upper()}"


SETTINGS: tuple[SettingDef, ...] = (
    SettingDef(
        "app",
        "target",
        "`module:attr` of the ASGI app the test client talks to, or of a function that takes "
        "no arguments and returns it (sync or async).",
        "--app",
    ),
    SettingDef(
        "database_url",
        "str",
        "The app's own database URL; the test database is derived from it.",
        "--database-url",
    ),
    SettingDef(
        "test_database_url", "str", "An explicit test database URL (name must start with test_)."
    ),
    SettingDef("models", "target", "`module:attr` of a DeclarativeBase subclass or a MetaData."),
    SettingDef(
        "session",
        "targets",
        "`module:attr` (or a list) of what the app makes sessions with: an async_sessionmaker, "
        "a sessionmaker, a scoped_session or a Session class.",
    ),
    SettingDef(
        "engine",
        "targets",
        "`module:attr` (or a list) of the app's module-level Engine or AsyncEngine; every "
        "connection taken from it runs on the test layer.",
    ),
    SettingDef("migrations", "path", "Path to alembic.ini or an Alembic script directory."),
    SettingDef("auth", "target", "`module:attr` of callable(user) -> token or headers."),
    SettingDef("env", "table", "Environment variables set before test modules are collected."),
    SettingDef("ai_hosts", "hosts", "More AI API hosts (`host` or `host:port`) mock_ai guards."),
    SettingDef("allow_ai_calls", "bool", "Let every test call real AI services (no safety net)."),
    SettingDef(
        "allow_databases",
        "databases",
        "Databases tests may connect to although they are not test_ databases (URLs or names).",
    ),
)
_BY_KEY = {s.key: s for s in SETTINGS}
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_HOST = re.compile(r"^(?:[a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$")
_NAME = re.compile(r"^[\w$.-]+$")
_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True,
             "false": False, "0": False, "no": False, "off": False}  # fmt: skip
_DEFAULT = "default"


@dataclass(frozen=True)
class Settings:
    """The merged settings of one run. Read it from the ``test_settings`` fixture."""

    root: Path
    file: Path | None = None
    app: str | None = None
    database_url: str | None = None
    test_database_url: str | None = None
    models: str | None = None
    session: tuple[str, ...] = ()
    engine: tuple[str, ...] = ()
    migrations: Path | None = None
    auth: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    ai_hosts: tuple[str, ...] = ()
    allow_ai_calls: bool = False
    allow_databases: tuple[str, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)

    def source(self, key: str) -> str:
        """Where ``key`` came from: the settings file, an env var, a flag, or ``default``."""
        return self.sources.get(key, _DEFAULT)

    def describe(self, key: str) -> str:
        """``key 'value' (from source)`` for error messages."""
        value = getattr(self, key)
        if key.endswith("url") and isinstance(value, str):
            value = mask_url(value)
        elif isinstance(value, Path):
            value = str(value)
        return f"{key} = {value!r} (from {self.source(key)})"

    def merged(self, values: Mapping[str, Any], source: str) -> Settings:
        """These settings with ``values`` applied on top; keys are case-insensitive."""
        changes: dict[str, Any] = {}
        sources = dict(self.sources)
        for raw_key, raw in values.items():
            key = raw_key.lower()
            definition = _BY_KEY.get(key)
            if definition is None or raw is None:
                continue
            value = _convert(definition, raw, source, self.root)
            if value == getattr(self, key):
                continue  # unchanged: keep naming where it really came from
            changes[key] = value
            sources[key] = source
        return replace(self, **changes, sources=sources) if changes else self

    @property
    def configured(self) -> bool:
        """True when the project asked for aksara: a settings file, ``AKSARA_*`` or flags."""
        return self.file is not None or bool(self.sources)

    def as_dict(self) -> dict[str, Any]:
        """The settings as a plain mapping (keys as in ``[tool.aksara]``)."""
        return {s.key: getattr(self, s.key) for s in SETTINGS}


def mask_url(url: str) -> str:
    """``url`` with its password (in the user part or the query) replaced by ``***``."""
    url = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)
    return re.sub(r"([?&](?:password|passwd)=)[^&]*", r"\1***", url, flags=re.IGNORECASE)


def load_settings(
    root: Path,
    settings_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, str | None] | None = None,
) -> Settings:
    """Resolve the settings of a project rooted at ``root``.

    >>> load_settings(Path("."), flags={"app": "myapp.main:app"}).app
    'myapp.main:app'
    """
    environ = os.environ if environ is None else environ
    settings = Settings(root=root)
    path = settings_file if settings_file is not None else root / "pyproject.toml"
    if settings_file is not None and not path.is_file():
        raise ConfigurationError(
            f"settings file {str(path)!r} given by --settings (--aksara-settings) does not exist; "
            "pass the path of a pyproject.toml that has a [tool.aksara] table"
        )
    if path.is_file():
        table = _read_table(path)
        if table is not None:
            label = relative_path(path, root)
            settings = replace(settings, file=path, root=path.parent)
            _reject_unknown(table, label)
            settings = _apply(settings, table, label)
    from_env = {
        s.key: environ[s.env_var]
        for s in SETTINGS
        if s.env_var is not None and environ.get(s.env_var, "") != ""
    }
    for key, value in from_env.items():
        settings = _apply(settings, {key: value}, f"env {_BY_KEY[key].env_var}")
    for key, flag_value in (flags or {}).items():
        if flag_value is not None:
            settings = _apply(settings, {key: flag_value}, _BY_KEY[key].flag or key)
    return _follow_database_url(settings)


FOLLOW = "{database_url}"  # in an env value: the database_url of this run, wherever it came from


def _follow_database_url(settings: Settings) -> Settings:
    """``env`` values holding ``{database_url}`` get the resolved ``database_url``.

    So ``env = { APP_DATABASE_URL = "{database_url}" }`` keeps the app's own
    variable on the database the settings, ``AKSARA_DATABASE_URL`` or
    ``--database-url`` name.
    """
    if not any(FOLLOW in value for value in settings.env.values()):
        return settings
    if not settings.database_url:
        name = next(name for name, value in settings.env.items() if FOLLOW in value)
        raise ConfigurationError(
            f"env {name} (from {settings.source('env')}) uses {FOLLOW} but database_url is not "
            "set; set database_url in [tool.aksara] (or AKSARA_DATABASE_URL)"
        )
    url = settings.database_url
    env = {name: value.replace(FOLLOW, url) for name, value in settings.env.items()}
    return replace(settings, env=env)


def _read_table(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(
            f"{path} is not valid TOML ({exc}); fix the file or pass another with --settings"
        ) from None
    tool = data.get("tool", {})
    table = tool.get("aksara") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise ConfigurationError(f"[tool.aksara] in {path} must be a table, not {table!r}")
    _reject_misspelt_table(data, path, found=table is not None)
    return table


def _reject_misspelt_table(data: Mapping[str, Any], path: Path, *, found: bool) -> None:
    """A table meant as ``[tool.aksara]`` under another name is an error, not ignored.

    Meant for us: its name is a typo of ``tool.aksara`` (``[tool.aksra]``,
    ``[tools.aksara]``, ``[tool.Aksara]``, ``[tool.aksara-testing]``, ``[aksara]``)
    and it is empty or has a key that is, or is one typo away from, a setting.
    """
    for name, table in _tables(data):
        if name == "tool.aksara" or not _looks_like_ours(name, table):
            continue
        if found:
            raise ConfigurationError(
                f"{path} has [{name}] next to [tool.aksara]; did you mean [tool.aksara]? "
                "move its keys into [tool.aksara] (aksara reads only that table)"
            )
        raise ConfigurationError(
            f"{path} has [{name}] but no [tool.aksara]; did you mean [tool.aksara]? "
            "rename the table (aksara reads only [tool.aksara])"
        )


def _tables(data: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Every table one or two levels deep, by its dotted name."""
    found = []
    for outer, value in data.items():
        if not isinstance(value, Mapping):
            continue
        found.append((outer, value))
        found += [(f"{outer}.{inner}", v) for inner, v in value.items() if isinstance(v, Mapping)]
    return found


def _looks_like_ours(name: str, table: Mapping[str, Any]) -> bool:
    import difflib

    *outer, inner = name.lower().split(".")
    if len(outer) > 1 or (outer and difflib.SequenceMatcher(None, outer[0], "tool").ratio() < 0.75):
        return False
    if (
        not inner.startswith("aksara")
        and difflib.SequenceMatcher(None, inner, "aksara").ratio() < 0.8
    ):
        return False
    keys = [str(key) for key in table]
    return not keys or any(difflib.get_close_matches(key, list(_BY_KEY), n=1) for key in keys)


def _reject_unknown(table: Mapping[str, Any], label: str) -> None:
    for key in table:
        if key not in _BY_KEY:
            import difflib

            close = difflib.get_close_matches(key, list(_BY_KEY), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            valid = ", ".join(sorted(_BY_KEY))
            raise ConfigurationError(
                f"[tool.aksara] in {label} has unknown key {key!r}; {hint}valid keys: {valid}"
            )


def _apply(settings: Settings, values: Mapping[str, Any], source: str) -> Settings:
    changes = {
        key: _convert(_BY_KEY[key], raw, source, settings.root) for key, raw in values.items()
    }
    sources = {**settings.sources, **dict.fromkeys(values, source)}
    return replace(settings, **changes, sources=sources)


def _convert(definition: SettingDef, raw: Any, source: str, root: Path) -> Any:
    key = definition.key
    if definition.kind == "table":
        return _convert_table(raw, source)
    if definition.kind == "bool":
        return _convert_bool(key, raw, source)
    if definition.kind == "hosts":
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise _type_error(key, raw, source, 'a list of hosts such as ["llm.internal:8000"]')
        return tuple(_check_host(key, i.strip(), source) for i in items if i.strip())
    if definition.kind == "databases":
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise _type_error(key, raw, source, 'a list such as ["postgresql://db/analytics"]')
        return tuple(_check_database(key, i.strip(), source) for i in items if i.strip())
    if definition.kind == "targets":
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise _type_error(key, raw, source, 'a "module:attr" string or a list of them')
        return tuple(_check_target(key, i.strip(), source) for i in items if i.strip())
    if definition.kind == "path" and isinstance(raw, str | os.PathLike):
        path = Path(raw)
        return path if path.is_absolute() else root / path
    if not isinstance(raw, str):
        raise _type_error(key, raw, source, "a string")
    if definition.kind == "target":
        return _check_target(key, raw, source)
    return raw


def _convert_table(raw: Any, source: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise _type_error("env", raw, source, 'a table such as env = { DEBUG = "true" }')
    table: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, bool):
            table[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            table[name] = str(value)
        else:
            raise _type_error(f"env.{name}", value, source, "a string, number or boolean")
    return table


def _convert_bool(key: str, raw: Any, source: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _BOOLEANS:
        return _BOOLEANS[raw.strip().lower()]
    raise _type_error(key, raw, source, "true or false")


def _check_host(key: str, value: str, source: str) -> str:
    """``host``, ``host:port`` or a URL, normalised to ``host[:port]`` in lower case."""
    host = value.lower()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.split("/", 1)[0]
    if not _HOST.match(host):
        raise ConfigurationError(
            f"setting {key} entry {value!r} (from {source}) is not a host; "
            "write it like 'llm.internal' or 'localhost:8000'"
        )
    return host


def _check_database(key: str, value: str, source: str) -> str:
    """A ``postgresql://`` or ``sqlite://`` URL, or a bare PostgreSQL database name."""
    scheme = value.partition("://")[0].partition("+")[0].lower() if "://" in value else None
    if scheme in ("postgresql", "postgres", "sqlite") or (scheme is None and _NAME.match(value)):
        return value
    raise ConfigurationError(
        f"setting {key} entry {mask_url(value)!r} (from {source}) is not a database; write a "
        "URL like 'postgresql://db.internal/analytics' or 'sqlite:///cache.db', or a "
        "PostgreSQL database name"
    )


def _check_target(key: str, value: str, source: str) -> str:
    if not _TARGET.match(value):
        raise ConfigurationError(
            f"setting {key} = {value!r} (from {source}) is not of the form "
            f"'module:attr'; write it like 'myapp.main:app'"
        )
    return value


def _type_error(key: str, raw: Any, source: str, expected: str) -> ConfigurationError:
    return ConfigurationError(
        f"setting {key} = {raw!r} (from {source}) has the wrong type; it must be {expected}"
    )
