"""``aksara doctor`` through the real executable: all good, then each check failing."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from textwrap import dedent

import pytest
from app_process import AKSARA, Outcome, clean_env

from aksara_cli._doctor_check import CheckFailed
from aksara_cli._doctor_database import server_verdict
from aksara_testing._db.diagnostics import Server

BLOG = Path(__file__).resolve().parents[1] / "examples" / "blog"
CHECKS = [
    "settings",
    "app",
    "models",
    "session",
    "auth",
    "test database",
    "env",
    "extras",
    "server",
    "migrations",
]
LINE = re.compile(rf"^(ok|FAIL|skip) +({'|'.join(CHECKS)}) +\S")

SETTINGS = """
    [tool.aksara]
    app = "appmod:app"
    database_url = "sqlite:///app.db"
    models = "models:Base"
    session = "db:SessionLocal"
    auth = "auth:token"
    migrations = "db/alembic.ini"
    env = { APP_DATABASE_URL = "{database_url}" }
"""
REVISION = """
    revision = "{rev}"
    down_revision = {down!r}


    def upgrade():
        pass


    def downgrade():
        pass
"""
PROJECT = {
    "pyproject.toml": SETTINGS,
    "models.py": """
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class Base(DeclarativeBase):
            pass


        class Author(Base):
            __tablename__ = "authors"
            id: Mapped[int] = mapped_column(primary_key=True)
    """,
    "emptymodels.py": """
        from sqlalchemy.orm import DeclarativeBase


        class Base(DeclarativeBase):
            pass
    """,
    "appmod.py": """
        async def app(scope, receive, send):
            pass


        def factory():
            return app


        def needs_args(settings, debug):
            return app
    """,
    "broken.py": """
        import os

        URL = os.environ["BROKEN_DATABASE_URL"]
    """,
    "db.py": """
        from sqlalchemy.ext.asyncio import async_sessionmaker

        SessionLocal = async_sessionmaker()
    """,
    "auth.py": """
        def token(user):
            return f"token-{user}"


        not_callable = 3
    """,
    "db/alembic.ini": "[alembic]\nscript_location = migrations\n",
    "db/migrations/versions/a1_first.py": REVISION.format(rev="a1", down=None),
    "db/migrations/versions/a2_second.py": REVISION.format(rev="a2", down="a1"),
    "afile": "",
}


def make(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text).lstrip())
    return root


def doctor(*args: str, cwd: Path, **env: str) -> Outcome:
    done = subprocess.run(
        [str(AKSARA), "doctor", *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


def lines(outcome: Outcome) -> dict[str, tuple[str, str]]:
    """``{check: (status, detail)}`` from the check lines; every other line is a header."""
    found = {}
    for line in outcome.stdout.splitlines()[1:-1]:
        assert LINE.match(line), line
        status, rest = line.split(None, 1)
        name = next(n for n in CHECKS if rest.startswith(n))
        found[name] = (status, rest[len(name) :].strip())
    assert list(found) == CHECKS
    return found


def test_the_example_app_passes_every_check(tmp_path: Path) -> None:
    outcome = doctor(cwd=BLOG, TMPDIR=str(tmp_path))

    assert outcome.code == 0, outcome.stdout + outcome.stderr
    found = lines(outcome)
    assert {name for name, (status, _) in found.items() if status != "ok"} == {"env"}
    assert found["env"] == ("skip", "env sets no database URL")
    assert found["migrations"][1].endswith("one head 0003, 3 revisions")
    assert found["settings"][1] == (
        "pyproject.toml: app, database_url, models, migrations, session, auth, env "
        "from pyproject.toml"
    )
    assert found["app"][1] == "blog.app:app (from pyproject.toml) imports: FastAPI"
    assert found["test database"][1].startswith("sqlite+aiosqlite:///<tmp>/test_blog.db ")
    assert outcome.stdout.rstrip().endswith("aksara doctor: all checks passed (1 skipped)")
    assert list(tmp_path.iterdir()) == [], "doctor must not create the test database"
    assert not (BLOG / "blog.db").exists()


def test_a_project_with_migrations_passes_from_a_sub_folder(tmp_path: Path) -> None:
    project = make(tmp_path, PROJECT)

    outcome = doctor(cwd=project / "db", AKSARA_DATABASE_URL="sqlite:///other.db")

    assert outcome.code == 0, outcome.stdout
    found = lines(outcome)
    assert all(status == "ok" for status, _ in found.values())
    assert "database_url from env AKSARA_DATABASE_URL" in found["settings"][1]
    assert found["migrations"][1].endswith(": one head a2, 2 revisions")
    assert found["models"][1].endswith("imports: 1 tables")


SYNC_DB = """
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    engine = create_engine("postgresql+psycopg2://u@h/app")
    SessionLocal = sessionmaker(bind=engine)
"""


def test_a_sync_project_passes_the_session_and_driver_checks(tmp_path: Path) -> None:
    files = setting('session = "syncdb:SessionLocal"') | {"syncdb.py": SYNC_DB}
    project = make(tmp_path, PROJECT | files)

    outcome = doctor(cwd=project, AKSARA_DATABASE_URL="postgresql+psycopg2://u@127.0.0.1:1/app")

    found = lines(outcome)
    assert found["session"] == ("ok", "syncdb:SessionLocal (sessionmaker) import: a sync app")
    assert found["extras"] == ("ok", "asyncpg installed for postgresql")


def setting(line: str) -> dict[str, str]:
    """The project's settings with ``key = value`` replacing that key's line (or added)."""
    key = line.split("=")[0].strip()
    kept = [old for old in dedent(SETTINGS).splitlines() if not old.startswith(f"{key} =")]
    return {"pyproject.toml": "\n".join([*kept, line, ""])}


FAILURES = {
    "env-stale": (
        setting('env = { APP_DATABASE_URL = "sqlite+aiosqlite:///old.db" }'),
        "env",
        "env APP_DATABASE_URL = 'sqlite+aiosqlite:///old.db' (from pyproject.toml) is not the "
        "database_url database, so the app would use another database than the one tests "
        'guard; write APP_DATABASE_URL = "{database_url}" in [tool.aksara] env so that it '
        "follows database_url",
    ),
    "unknown-key": (setting('databse_url = "x"'), "settings", "did you mean 'database_url'?"),
    "no-settings": ({"pyproject.toml": ""}, "settings", "run aksara init"),
    "app-missing": (setting('app = "nomodule:app"'), "app", "cannot be imported: No module"),
    "app-raises": (
        setting('app = "broken:URL"'),
        "app",
        "raised KeyError: 'BROKEN_DATABASE_URL' at broken.py:3; fix that line",
    ),
    "app-factory": (
        setting('app = "appmod:needs_args"'),
        "app",
        "takes arguments (settings, debug): it is neither an ASGI app",
    ),
    "app-not-callable": (setting('app = "auth:not_callable"'), "app", "is a int, not an ASGI app"),
    "models-wrong": (setting('models = "auth:token"'), "models", "neither a DeclarativeBase"),
    "models-empty": (setting('models = "emptymodels:Base"'), "models", "has no tables"),
    "session-wrong": (
        setting('session = "auth:token"'),
        "session",
        "not an async_sessionmaker, a sessionmaker, a scoped_session or a Session class",
    ),
    "engine-wrong": (
        setting('engine = "auth:token"'),
        "session",
        "not an Engine or AsyncEngine made by create_engine() or create_async_engine()",
    ),
    "auth-wrong": (setting('auth = "auth:not_callable"'), "auth", "is a int, not a function"),
    "unsafe": (
        setting('test_database_url = "sqlite:///app.db"'),
        "test database",
        "its name 'app' does not start with 'test_'",
    ),
    "no-url": (
        {"pyproject.toml": '[tool.aksara]\nmodels = "models:Base"\n'},
        "test database",
        "database_url is not",
    ),
    "mixed-kinds": (
        setting('engine = "syncdb:engine"') | {"syncdb.py": SYNC_DB},
        "session",
        "is async (async_sessionmaker) but engine = 'syncdb:engine' is sync (Engine)",
    ),
    "server-down": (
        setting('database_url = "postgresql://u:secret@127.0.0.1:1/app"'),
        "server",
        "PostgreSQL at 127.0.0.1:1 refused the connection (nothing listens on that port)",
    ),
    "sqlite-folder": (
        setting('test_database_url = "sqlite:///afile/test_app.db"'),
        "server",
        "cannot be written",
    ),
    "migrations-missing": (setting('migrations = "nowhere.ini"'), "migrations", "does not exist"),
    "two-heads": (
        {"db/migrations/versions/b1.py": REVISION.format(rev="b1", down=None)},
        "migrations",
        "has 2 heads (a2, b1); join them with alembic merge heads",
    ),
    "no-revisions": (
        setting('migrations = "emptydir"') | {"emptydir/README": ""},
        "migrations",
        "has no revisions",
    ),
    "bad-revision": (
        {"db/migrations/versions/c1.py": "revision = (\n"},
        "migrations",
        "Alembic cannot load the scripts",
    ),
}


@pytest.mark.parametrize(("files", "check", "message"), FAILURES.values(), ids=FAILURES.keys())
def test_a_failing_check_is_one_line_and_exit_1(
    tmp_path: Path, files: dict[str, str], check: str, message: str
) -> None:
    project = make(tmp_path, PROJECT | files)

    outcome = doctor(cwd=project)

    assert outcome.code == 1, outcome.stdout
    found = lines(outcome)
    failed = [name for name, (status, _) in found.items() if status == "FAIL"]
    assert failed == [check], outcome.stdout
    assert message in found[check][1]
    assert "secret" not in outcome.stdout
    assert outcome.stdout.rstrip().endswith("aksara doctor: 1 of 10 checks failed")
    assert outcome.stderr == ""


def test_a_missing_postgres_driver_names_the_extra(tmp_path: Path) -> None:
    project = make(
        tmp_path,
        PROJECT
        | setting('database_url = "postgresql://u@127.0.0.1:1/app"')
        | {"shadow/asyncpg/__init__.py": "raise ImportError(\"No module named 'asyncpg'\")\n"},
    )

    outcome = doctor(cwd=project, PYTHONPATH=str(project / "shadow"))

    assert outcome.code == 1
    status, detail = lines(outcome)["extras"]
    assert status == "FAIL"
    assert "asyncpg is not installed" in detail
    assert "pip install 'aksara-testing[postgres]'" in detail


@pytest.mark.postgres
def test_a_reachable_postgres_server(tmp_path: Path, postgres_url: str) -> None:
    server = postgres_url.rsplit("/", 1)[0]
    project = make(tmp_path, PROJECT)

    good = doctor("--database-url", f"{server}/app", cwd=project)
    wrong_password = doctor(
        "--database-url", re.sub(r":[^:@/]*@", ":wrong@", f"{server}/app"), cwd=project
    )

    assert good.code == 0, good.stdout
    assert "connected as" in lines(good)["server"][1]
    assert wrong_password.code == 1
    assert "rejected the password of user" in lines(wrong_password)["server"][1]


def test_a_role_that_may_not_create_databases_fails() -> None:
    server = Server("h:5432", "app", "database_url (from pyproject.toml)")
    with pytest.raises(CheckFailed, match="run ALTER ROLE app CREATEDB as a superuser"):
        server_verdict(server, "test_app", "app", False, 0)
    assert server_verdict(server, "test_app", "app", True, 1)[1].endswith(
        "test_app exists (kept by --reuse-db)"
    )


def test_bad_option_is_a_usage_error(tmp_path: Path) -> None:
    outcome = doctor("--bogus", cwd=tmp_path)

    assert outcome.code == 4
    assert "No such option" in outcome.stderr and "--bogus" in outcome.stderr  # any Click 8


def test_settings_flags_are_read_like_aksara_test(tmp_path: Path) -> None:
    project = make(tmp_path, PROJECT)

    missing = doctor("--settings", "missing.toml", cwd=project)
    flagged = doctor("--app", "appmod:needs_args", cwd=project)

    assert missing.code == 1
    assert "settings file 'missing.toml' given by --settings" in lines(missing)["settings"][1]
    assert flagged.code == 1
    assert "app from --app" in lines(flagged)["settings"][1]
    assert lines(flagged)["app"][0] == "FAIL"


def test_an_app_factory_without_arguments_is_accepted_without_being_called(tmp_path: Path) -> None:
    project = make(tmp_path, PROJECT)

    outcome = doctor("--app", "appmod:factory", cwd=project)

    assert lines(outcome)["app"] == (
        "ok",
        "appmod:factory (from --app) imports: a factory, factory()",
    )
