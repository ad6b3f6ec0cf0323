"""``aksara init``: write ``[tool.aksara]`` from what :mod:`._scan` finds in the project.

Nothing of the project is imported: the app, its models and its session
factory are found by reading the source, so no server or connection starts.
Where the scan finds several candidates and nobody can be asked, none is
chosen and the candidates are listed. URLs are printed with their password
masked; one read from an env file is not written either (see :mod:`._scan_url`).
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click

from aksara_testing._settings import FOLLOW, SETTINGS, mask_url

from ._conftest import conftest_path, write_conftest
from ._pyproject import PyprojectError, read_table, render_table, replace_table
from ._scan import Found, Scan, scan
from ._scan_names import ASYNC_CLASS_MAKER

__all__ = ["InitOptions", "run_init"]


@dataclass(frozen=True)
class InitOptions:
    """What ``aksara init`` was given; a set value is written as given, not detected."""

    root: Path
    yes: bool = False
    interactive: bool = False
    app: str | None = None
    database_url: str | None = None
    models: str | None = None
    session: tuple[str, ...] = ()
    engine: tuple[str, ...] = ()
    migrations: str | None = None
    auth: str | None = None


@dataclass
class _Plan:
    """The table to write, and what to tell the user about each key."""

    values: dict[str, Any] = field(default_factory=dict)
    report: list[tuple[str, str]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    conftest: str = "tests/conftest.py"
    factory: Found | None = None  # an app factory the conftest's app fixture must call
    url_env: str | None = None  # the env var the app reads its URL from
    password_from: str | None = None  # the env file whose password was not copied
    unresolved: list[str] = field(default_factory=list)

    def ordered(self) -> dict[str, Any]:
        """The values in the order the settings are documented, unknown keys last."""
        order = [s.key for s in SETTINGS]
        return dict(sorted(self.values.items(), key=lambda kv: _position(order, kv[0])))


def _position(order: list[str], key: str) -> int:
    return order.index(key) if key in order else len(order)


def run_init(options: InitOptions, echo: Callable[[str], None] = click.echo) -> int:
    """Scan, write ``[tool.aksara]`` and the tests' ``conftest.py``; return the exit code."""
    root = options.root
    pyproject = root / "pyproject.toml"
    text = pyproject.read_bytes().decode("utf-8") if pyproject.is_file() else ""
    old_table = _read_table(text)
    exists = old_table is not None
    if exists and not options.yes and not options.interactive:
        _fail(
            "pyproject.toml already has a [tool.aksara] table and there is no terminal to "
            "ask on; run aksara init --yes to overwrite it"
        )
    found = scan(root)
    echo(f"aksara init: read {found.files} Python files under {root}")
    layout = conftest_path(root)
    plan = _plan(found, options, layout[0])
    _keep(plan, old_table or {})
    newline = "\r\n" if "\r\n" in text else "\n"
    table = render_table(plan.ordered(), plan.comments, newline)
    _validate(table)
    for key, detail in plan.report:
        echo(_mask_urls(f"  {key:<13} {detail}"))
    echo("")
    echo(_mask_urls(table.rstrip()))
    echo("")
    if exists and not options.yes and not click.confirm("Overwrite [tool.aksara]?", default=False):
        echo("aksara init: left pyproject.toml unchanged")
        return 1
    try:
        new_text = replace_table(text, table)
    except PyprojectError as exc:
        _fail(str(exc))
    pyproject.write_bytes(new_text.encode("utf-8"))
    echo(f"wrote [tool.aksara] {'in' if text else 'to a new'} pyproject.toml")
    write_conftest(root, layout, plan.factory, echo)
    then = "aksara test"
    if plan.password_from:
        then += f" (with the password from {plan.password_from}: see database_url above)"
    if plan.unresolved:
        todo = " and ".join(plan.unresolved)
        echo(f"next: set {todo} (see above), then {then}")
    else:
        echo(f"next: {then}")
    return 0


def _read_table(text: str) -> dict[str, Any] | None:
    try:
        return read_table(text)
    except PyprojectError as exc:
        _fail(str(exc))


def _keep(plan: _Plan, old: dict[str, Any]) -> None:
    """Keep what the old table set and the scan did not decide (test_database_url, env...)."""
    for key, value in old.items():
        if key == "env" and isinstance(value, dict):
            new_env = plan.values.get("env", {})
            kept = [name for name in value if name not in new_env]
            if kept:
                plan.values["env"] = {**value, **new_env}
                plan.report.append(("env", f"kept {', '.join(kept)} from the old table"))
        elif key not in plan.values:
            plan.values[key] = value
            plan.report.append((key, f"{value!r} kept from the old table"))
            if _in_table(key) in plan.unresolved:
                plan.unresolved.remove(_in_table(key))
                plan.comments = [c for c in plan.comments if not c.startswith(f"{key}:")]


def _fail(message: str) -> NoReturn:
    raise click.UsageError(message, ctx=click.get_current_context(silent=True))


# -- choosing values -----------------------------------------------------------------


def _plan(found: Scan, options: InitOptions, conftest: str) -> _Plan:
    plan = _Plan(conftest=conftest)
    choose = _chooser(options)
    _plan_app(plan, found, options, choose)
    _plan_database(plan, found, options)
    _plan_one(plan, "models", options.models, found.models, choose)
    if found.models_note and "models" in plan.values and not options.models:
        plan.report.append(("", found.models_note))
    if found.kind == "sync":
        _plan_sync(plan, found, options)
    elif options.session:
        _given(plan, "session", options.session)
    elif found.sessions:
        # Every async_sessionmaker is rerouted to the test transaction: no need to choose.
        _found(plan, "session", found.sessions)
    else:
        detail = "none found: only db_session writes to the test transaction"
        for sync in found.sync_sessions:
            kind = sync.what.partition("(")[0]  # sessionmaker(class_=AsyncSession) too
            detail = f"none: {sync.target} is a {kind}, not an async_sessionmaker"
        plan.report.append(("session", detail))
    if found.kind != "sync" and options.engine:
        _given(plan, "engine", options.engine)
    _plan_one(plan, "migrations", options.migrations, found.migrations, choose)
    _plan_one(plan, "auth", options.auth, found.auths, choose)
    if plan.url_env is not None and "database_url" in plan.values:
        # Not a copy of the URL: a copy stays behind when database_url changes later.
        plan.values["env"] = {plan.url_env: FOLLOW}
    return plan


def _given(plan: _Plan, key: str, values: Sequence[str]) -> None:
    plan.values[key] = _one_or_list(list(values))
    plan.report.append((key, "given on the command line"))


def _found(plan: _Plan, key: str, found: Sequence[Found]) -> None:
    """Set ``key`` to every one of ``found`` (a list when more than one), and say where each was."""
    plan.values[key] = _one_or_list([f.target for f in found])
    plan.report += [(key, _describe(f)) for f in found]


def _plan_sync(plan: _Plan, found: Scan, options: InitOptions) -> None:
    """A sync app: its engines, and what it makes sessions with (db_session's class too).

    Every module-level engine is named, so sessions the app builds from it
    (``Session(engine)``, a sessionmaker bound to it) and its raw connections
    all run on the test's connection. ``session`` names the app's
    sessionmakers, or else the Session class it calls with the engine.
    """
    if options.session:
        _given(plan, "session", options.session)
    else:
        makers = [s for s in found.sync_sessions if s.what != ASYNC_CLASS_MAKER]
        chosen = makers or found.session_classes[:1]
        if chosen:
            _found(plan, "session", chosen)
        else:
            plan.report.append(("session", "none found: the app's sessions come from its engine"))
    if options.engine:
        _given(plan, "engine", options.engine)
    elif found.engines:
        _found(plan, "engine", found.engines)
    else:
        plan.report.append(
            (
                "engine",
                "none at module level: only sessions made by the session setting are "
                "isolated; set engine = 'module:attr' to the engine the app connects with",
            )
        )


Chooser = Callable[[str, Sequence[Found]], "Found | None"]


def _chooser(options: InitOptions) -> Chooser:
    def choose(key: str, candidates: Sequence[Found]) -> Found | None:
        if len(candidates) == 1:
            return candidates[0]
        if not options.interactive or options.yes:
            return None
        click.echo(f"Found {len(candidates)} candidates for {key}:")
        for number, candidate in enumerate(candidates, 1):
            click.echo(f"  {number}  {_describe(candidate)}")
        click.echo("  0  none of them")
        number = click.prompt(
            f"Which {key} should the tests use?", type=click.IntRange(0, len(candidates))
        )
        return candidates[number - 1] if number else None

    return choose


def _plan_one(
    plan: _Plan, key: str, given: str | None, candidates: Sequence[Found], choose: Chooser
) -> Found | None:
    if given is not None:
        plan.values[key] = given
        plan.report.append((key, "given on the command line"))
        return None
    if not candidates:
        plan.report.append((key, _NONE_FOUND[key]))
        return None
    chosen = choose(key, candidates)
    if chosen is None:
        names = ", ".join(c.target for c in candidates)
        plan.report.append((key, f"{len(candidates)} candidates, none chosen: {names}"))
        plan.comments.append(f"{key}: choose one of {names}")
        plan.unresolved.append(_in_table(key))
        return None
    plan.values[key] = chosen.target
    plan.report.append((key, _describe(chosen)))
    return chosen


_NONE_FOUND = {
    "app": "none found: set app = 'module:attr' to use the client fixture",
    "models": "none found: no DeclarativeBase subclass or SQLModel table, so the schema "
    "comes from migrations",
    "migrations": "none found: the schema is built from models",
    "auth": "none found: set auth = 'module:attr' (user -> token) for client.authenticate",
}


def _plan_app(plan: _Plan, found: Scan, options: InitOptions, choose: Chooser) -> None:
    if options.app or found.apps or not found.factories:
        _plan_one(plan, "app", options.app, found.apps, choose)
        return
    # The app setting takes a factory called without arguments; others need a fixture.
    without_args = [f for f in found.factories if not f.params]
    if without_args:
        factory = _plan_one(plan, "app", None, without_args, choose)
        if factory is not None:
            plan.report[-1] = ("app", f"{_describe(factory)}: called once per run to build the app")
        return
    fixture = f"the app fixture in {plan.conftest}"
    if len(found.factories) > 1:
        names = ", ".join(f.target for f in found.factories)
        plan.report.append(("app", f"factories that need arguments, none chosen: {names}"))
        plan.comments.append(
            f"app: write an app fixture in {plan.conftest} that calls one of {names}"
        )
        plan.unresolved.append(f"an app fixture in {plan.conftest}")
        return
    factory = found.factories[0]
    needs = ", ".join(factory.params)
    plan.factory = factory
    plan.report.append(("app", f"{_describe(factory)} needs {needs}: {fixture} must call it"))
    plan.comments.append(f"app: built by {factory.target}({needs}) in {fixture}")
    plan.unresolved.append(f"{fixture} (it needs {needs})")


def _plan_database(plan: _Plan, found: Scan, options: InitOptions) -> None:
    if options.database_url is not None:
        plan.values["database_url"] = options.database_url
        plan.report.append(("database_url", "given on the command line"))
        return
    source = found.url
    uses_database = source is not None or found.models or found.sessions or found.kind == "sync"
    if not uses_database:
        plan.report.append(("database_url", "none found: no engine, models or session factory"))
        return
    if source is not None and source.url:
        plan.values["database_url"] = source.url
        plan.report.append(("database_url", f"{source.url} ({source.what} at {source.where})"))
        if source.password_left_out:
            plan.password_from = source.env_file
            plan.report.append(("", _password_note(source.url, source.env_file)))
    else:
        guess = _guess_url(found)
        plan.values["database_url"] = guess
        where = f"{source.what} at {source.where}" if source else "no URL found in the code"
        if source is not None and source.missing:
            where += f"; no value for {', '.join(source.missing)} in {source.env_file or '.env'}"
            where += " or the code"
        plan.report.append(
            ("database_url", f"{guess} is a guess ({where}): set your development database URL")
        )
    if source is not None and source.env_var:
        # The app reads its URL from the environment at import: it follows database_url.
        plan.url_env = source.env_var
    elif source is not None and source.env_file:
        parts = f"parts in {source.env_file}"
        plan.report.append(("env", f"none: the app builds its URL from {parts} itself"))


def _guess_url(found: Scan) -> str:
    """A development URL to replace: SQLite, or PostgreSQL where the code takes nothing else.

    A sync app's URL keeps a sync driver: the app's own engine is built from
    it when the URL reaches the app through ``env`` (``{database_url}``).
    """
    name = found.package or "app"
    source = found.url
    if source is None or not source.postgres_only:
        return f"sqlite:///{name}.db" if found.kind == "sync" else f"sqlite+aiosqlite:///{name}.db"
    if found.kind != "sync":  # a SQLite URL would not even import
        return f"postgresql+asyncpg://localhost/{name}"
    scheme = source.scheme or ""
    if not scheme.startswith("postgres") or scheme.endswith(_ASYNC_DRIVERS):
        scheme = "postgresql+psycopg"
    return f"{scheme}://localhost/{name}"


_ASYNC_DRIVERS = ("+asyncpg", "+psycopg_async", "+aiosqlite")


def _password_note(url: str, env_file: str | None) -> str:
    how = "as PGPASSWORD, or " if url.startswith("postgres") else ""
    return (
        f"the password in {env_file} is not copied into pyproject.toml: give it to aksara test "
        f"{how}the whole URL as AKSARA_DATABASE_URL"
    )


def _mask_urls(text: str) -> str:
    """``text`` with the password of every URL in it shown as ``***``."""
    return _URL.sub(lambda m: mask_url(m[0]), text)


_URL = re.compile(r"[a-z][\w+.-]*://[^\s'\"]+")


def _in_table(key: str) -> str:
    return f"{key} in [tool.aksara]"


def _describe(found: Found) -> str:
    return f"{found.target} ({found.what} at {found.where})"


def _one_or_list(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def _validate(table: str) -> None:
    """Refuse to write a table that ``aksara test`` would reject (bad --app values...)."""
    from aksara_testing._settings import load_settings
    from aksara_testing.errors import ConfigurationError

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pyproject.toml"
        path.write_text(table)
        try:
            load_settings(Path(folder), environ={})
        except ConfigurationError as exc:
            _fail(str(exc))


def is_interactive() -> bool:
    """Whether there is a person to ask: standard input is a terminal."""
    return sys.stdin is not None and sys.stdin.isatty()
