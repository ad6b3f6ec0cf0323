"""The built-in migration checks (``--aksara-migrations`` / ``aksara test --migrations``).

Each check is a pytest item named ``aksara-migrations::<check>``; a broken chain
fails the item that names the culprit, with the facts on one line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from app_process import AKSARA, clean_env
from conftest import MODELS, Project
from migration_project import (
    FIRST,
    HEAD,
    MIDDLE,
    REVISIONS,
    add_migrations,
    pg_databases,
    revision_file,
    write_revision,
)
from run_locks import lock_held_by

BLOG = Path(__file__).resolve().parents[1] / "examples" / "blog"
ALL_CHECKS = [
    "single_head",
    f"upgrade[{FIRST}]",
    f"upgrade[{MIDDLE}]",
    f"upgrade[{HEAD}]",
    f"downgrade[{HEAD}]",
    f"downgrade[{MIDDLE}]",
    f"downgrade[{FIRST}]",
    "models_match",
    "round_trip",
]


def run_checks(project: Project, *args: str) -> pytest.RunResult:
    return project.run("-v", "--aksara-migrations", *args)


def outcome_of(result: pytest.RunResult, check: str) -> str:
    """PASSED, FAILED or SKIPPED for ``check`` in a ``-v`` run."""
    prefix = f"aksara-migrations::{check} "
    [line] = [line for line in result.stdout.lines if line.startswith(prefix)]
    return line[len(prefix) :].split()[0]


def failure_text(result: pytest.RunResult, check: str) -> str:
    """The report printed under the ``_ aksara-migrations::<check> _`` heading."""
    lines = result.stdout.lines
    heading = f" aksara-migrations::{check} "
    [start] = [i for i, line in enumerate(lines) if line.startswith("_") and heading in line]
    body = []
    for line in lines[start + 1 :]:
        if line.startswith(("_", "=", "aksara: ")):
            break
        body.append(line)
    return "\n".join(body)


def no_frames_from_our_code(result: pytest.RunResult) -> None:
    __tracebackhide__ = True
    output = result.stdout.str() + result.stderr.str()
    assert "aksara_testing/" not in output, output
    assert "Traceback" not in output, output
    assert "INTERNALERROR" not in output, output


def leftover_databases(project: Project) -> list[str]:
    """PostgreSQL: the databases of this project still on the server after its run."""
    if project.backend == "sqlite":
        return []
    server = project.database_url.rsplit("/", 1)[0] + "/postgres"
    return pg_databases(server, f"test_{project.name}")


def test_a_good_chain_passes_every_check_as_its_own_item(project: Project) -> None:
    add_migrations(project, "async")
    result = run_checks(project, "--junitxml=report.xml")
    result.assert_outcomes(passed=len(ALL_CHECKS))
    result.stdout.fnmatch_lines(
        [f"aksara-migrations::{check.replace('[', '[[]')} PASSED*" for check in ALL_CHECKS]
    )
    report = ET.parse(project.pytester.path / "report.xml")
    cases = [(c.get("classname"), c.get("name")) for c in report.iter("testcase")]
    assert cases == [("aksara-migrations", check) for check in ALL_CHECKS]
    assert leftover_databases(project) == []


def test_the_checks_run_beside_the_projects_own_tests_and_follow_k(
    sqlite_project: Project,
) -> None:
    add_migrations(sqlite_project, "sync")
    sqlite_project.pytester.makepyfile(test_it="def test_own():\n    pass\n")
    run_checks(sqlite_project).assert_outcomes(passed=1 + len(ALL_CHECKS))
    selected = run_checks(sqlite_project, "-k", "upgrade")
    selected.assert_outcomes(passed=3, deselected=1 + len(ALL_CHECKS) - 3)


@pytest.mark.postgres
def test_a_second_runs_checks_keep_off_the_scratch_database_the_first_is_using(
    pytester: pytest.Pytester, postgres_url: str
) -> None:
    project = Project(pytester, "postgres", postgres_url)
    add_migrations(project, "async")
    name = f"test_{project.name}_checks"
    with lock_held_by(postgres_url, name, 1) as label:  # pid 1: a live run
        result = run_checks(project)

    assert outcome_of(result, f"upgrade[{FIRST}]") == "FAILED"
    assert f"test database {name} is in use by another run ({label})" in failure_text(
        result, f"upgrade[{FIRST}]"
    )
    no_frames_from_our_code(result)
    assert leftover_databases(project) == []


def test_a_downgrade_that_raises_is_reported_by_its_revision(project: Project) -> None:
    root = add_migrations(project, "async")
    _, down, message, upgrade, _ = REVISIONS[1]
    refusing = 'raise RuntimeError("no way back from books")'
    write_revision(root, MIDDLE, revision_file(MIDDLE, down, message, upgrade, refusing))
    result = run_checks(project)
    result.assert_outcomes(passed=6, failed=1, skipped=2)
    assert outcome_of(result, f"downgrade[{HEAD}]") == "PASSED"
    assert outcome_of(result, f"downgrade[{MIDDLE}]") == "FAILED"
    assert outcome_of(result, f"downgrade[{FIRST}]") == "SKIPPED"
    assert outcome_of(result, "round_trip") == "SKIPPED"
    assert failure_text(result, f"downgrade[{MIDDLE}]") == (
        f"revision {MIDDLE}: downgrade failed: RuntimeError: no way back from books"
    )
    no_frames_from_our_code(result)
    assert leftover_databases(project) == []


CHANGED_MODELS = (
    MODELS.replace(
        "name: Mapped[str] = mapped_column(String(50), unique=True)",
        "name: Mapped[str] = mapped_column(String(50), unique=True)\n"
        "    email: Mapped[str | None] = mapped_column(String(80), default=None)",
    )
    + """

class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
"""
)


def test_models_that_differ_are_reported_as_the_operations_autogenerate_would_emit(
    project: Project,
) -> None:
    add_migrations(project, "async")
    project.pytester.makepyfile(models=CHANGED_MODELS)
    result = run_checks(project)
    result.assert_outcomes(passed=len(ALL_CHECKS) - 1, failed=1)
    assert outcome_of(result, "models_match") == "FAILED"
    report = failure_text(result, "models_match")
    assert report.startswith(
        "the migrated schema differs from models; autogenerate would emit: "
    ), report
    operations = report.split(": ", 1)[1].split("; ")
    assert sorted(operations) == ["add_column authors.email", "add_table tags"]


def without_models_setting(project: Project) -> None:
    project.pytester.makepyprojecttoml(
        f'[tool.aksara]\ndatabase_url = "{project.database_url}"\nmigrations = "alembic.ini"\n'
    )


def test_without_models_env_pys_target_metadata_is_compared(sqlite_project: Project) -> None:
    root = add_migrations(sqlite_project, "async")
    env = root / "migrations" / "env.py"
    env.write_text(
        env.read_text().replace(
            "target_metadata = None", "from models import Base\n\ntarget_metadata = Base.metadata"
        )
    )
    sqlite_project.pytester.makepyfile(models=CHANGED_MODELS)
    without_models_setting(sqlite_project)
    result = run_checks(sqlite_project)
    assert outcome_of(result, "models_match") == "FAILED"
    assert "add_column authors.email" in failure_text(result, "models_match")


def test_with_no_metadata_at_all_the_model_check_is_skipped(sqlite_project: Project) -> None:
    add_migrations(sqlite_project, "async")
    without_models_setting(sqlite_project)
    result = run_checks(sqlite_project, "-rs")
    result.assert_outcomes(passed=len(ALL_CHECKS) - 1, skipped=1)
    assert outcome_of(result, "models_match") == "SKIPPED"
    result.stdout.fnmatch_lines(
        ["*no models to compare with: set models in [[]tool.aksara] or target_metadata in env.py"]
    )


def test_two_heads_fail_the_single_head_check_naming_both(sqlite_project: Project) -> None:
    root = add_migrations(sqlite_project, "async")
    write_revision(root, "cc04", revision_file("cc04", MIDDLE, "a fork", "pass", "pass"))
    result = run_checks(sqlite_project)
    assert outcome_of(result, "single_head") == "FAILED"
    assert failure_text(result, "single_head") == (
        f"2 heads: {HEAD}, cc04; merge them with `alembic merge -m merge {HEAD} cc04` "
        "or give each branch a branch_labels"
    )
    result.assert_outcomes(passed=len(ALL_CHECKS) + 2 - 1, failed=1)  # cc04 up and down


def test_declared_branches_pass_the_single_head_check(sqlite_project: Project) -> None:
    root = add_migrations(sqlite_project, "async")
    notes = 'op.create_table("notes", sa.Column("id", sa.Integer(), primary_key=True))'
    _, _, message, upgrade, downgrade = REVISIONS[0]
    core = revision_file(FIRST, None, message, upgrade, downgrade, ("core",))
    extra = revision_file("dd01", None, "notes", notes, 'op.drop_table("notes")', ("extra",))
    write_revision(root, FIRST, core)
    write_revision(root, "dd01", extra)
    result = run_checks(sqlite_project)
    assert outcome_of(result, "single_head") == "PASSED"
    assert outcome_of(result, "upgrade[dd01]") == "PASSED"
    assert outcome_of(result, "downgrade[dd01]") == "PASSED"


def test_a_failing_upgrade_names_the_revision_and_the_sql_error_in_one_line(
    project: Project,
) -> None:
    root = add_migrations(project, "async")
    failing = 'op.execute("ALTER TABLE nowhere ADD COLUMN x INTEGER")'
    write_revision(root, MIDDLE, revision_file(MIDDLE, FIRST, "books", failing, "pass"))
    result = run_checks(project)
    result.assert_outcomes(passed=2, failed=1, skipped=6)
    assert outcome_of(result, f"upgrade[{FIRST}]") == "PASSED"
    assert outcome_of(result, f"upgrade[{MIDDLE}]") == "FAILED"
    assert outcome_of(result, f"upgrade[{HEAD}]") == "SKIPPED"
    if project.backend == "sqlite":
        error = "OperationalError: no such table: nowhere"
    else:
        error = 'ProgrammingError: relation "nowhere" does not exist'
    assert failure_text(result, f"upgrade[{MIDDLE}]") == (
        f"revision {MIDDLE}: upgrade failed: {error}"
    )
    result.stdout.fnmatch_lines(
        [f"*aksara-migrations::upgrade[[]{HEAD}] SKIPPED (not reached: revision {MIDDLE}*"]
    )
    no_frames_from_our_code(result)
    assert leftover_databases(project) == []


def test_a_syntax_error_in_a_revision_fails_a_check_with_the_file_and_line(
    sqlite_project: Project,
) -> None:
    root = add_migrations(sqlite_project, "async")
    write_revision(root, MIDDLE, revision_file(MIDDLE, FIRST, "books", "op.create_table(", "pass"))
    result = run_checks(sqlite_project)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"*SyntaxError in {MIDDLE}.py line 13: *never closed*"])
    no_frames_from_our_code(result)


@pytest.mark.parametrize(
    ("upgrade", "expected"),
    [
        (
            'op.execute("CREATE TABLE IF NOT EXISTS tags (id INTEGER PRIMARY KEY)")',
            "downgrading to base left tables behind: tags",
        ),
        (
            'op.create_table("tags", sa.Column("id", sa.Integer(), primary_key=True))',
            "upgrading again after downgrading to base failed: revision cc04: upgrade failed: "
            "OperationalError: table tags already exists",
        ),
    ],
    ids=["left-behind", "upgrade-again-fails"],
)
def test_a_downgrade_that_leaves_a_table_fails_the_round_trip(
    sqlite_project: Project, upgrade: str, expected: str
) -> None:
    root = add_migrations(sqlite_project, "async")
    write_revision(root, "cc04", revision_file("cc04", HEAD, "tags", upgrade, "pass"))
    result = run_checks(sqlite_project)
    assert outcome_of(result, "downgrade[cc04]") == "PASSED"  # it ran; it just did nothing
    assert outcome_of(result, "round_trip") == "FAILED"
    assert failure_text(result, "round_trip") == expected


# A revision whose second upgrade builds the table differently (it remembers the first
# in a file next to it): only comparing the schema after up-down-up can tell.
DRIFTING_UPGRADE = """
import pathlib

ran = pathlib.Path(__file__).with_name("cc04.ran")
width = 80 if ran.exists() else 50
ran.touch()
op.create_table(
    "tags",
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("label", sa.String(width)),
)
"""

# env.py tells autogenerate to skip the table: the round trip must still compare it.
SKIP_TAGS = (
    "context.configure(connection=connection, target_metadata=target_metadata)",
    "context.configure(connection=connection, target_metadata=target_metadata, "
    'include_name=lambda name, kind, parent: name != "tags")',
)


@pytest.mark.parametrize("autogenerate_skips_it", [False, True], ids=["compared", "excluded"])
def test_an_upgrade_that_builds_another_schema_the_second_time_fails_the_round_trip(
    project: Project, autogenerate_skips_it: bool
) -> None:
    root = add_migrations(project, "async")
    if autogenerate_skips_it:
        env = root / "migrations" / "env.py"
        env.write_text(env.read_text().replace(*SKIP_TAGS))
    drop = 'op.drop_table("tags")'
    write_revision(root, "cc04", revision_file("cc04", HEAD, "tags", DRIFTING_UPGRADE, drop))
    result = run_checks(project)
    assert outcome_of(result, "round_trip") == "FAILED"
    assert failure_text(result, "round_trip") == (
        "up-down-up changed the schema: tags columns: "
        "[('id', 'INTEGER', False), ('label', 'VARCHAR(50)', True)] became "
        "[('id', 'INTEGER', False), ('label', 'VARCHAR(80)', True)]"
    )
    models = "PASSED" if autogenerate_skips_it else "FAILED"  # tags is not in models
    assert outcome_of(result, "models_match") == models
    assert leftover_databases(project) == []


# -- configuration errors: exit 4, one line ----------------------------------------------

NO_SCRIPT_LOCATION = "[alembic]\nsqlalchemy.url = driver://\n"
EMPTY_LOCATION = "[alembic]\nscript_location = %(here)s/empty\n"


@pytest.mark.parametrize(
    ("ini", "expected"),
    [
        (None, "is neither an alembic.ini nor a folder holding env.py; fix the path"),
        (NO_SCRIPT_LOCATION, "has no script_location in its [alembic] section"),
        (EMPTY_LOCATION, "holds no env.py; fix script_location"),
    ],
    ids=["missing", "no-script-location", "no-env-py"],
)
@pytest.mark.parametrize("checks", [True, False], ids=["checks", "tests-only"])
def test_migrations_pointing_nowhere_exits_4_with_one_line(
    sqlite_project: Project, ini: str | None, expected: str, checks: bool
) -> None:
    path = sqlite_project.pytester.path
    (path / "empty").mkdir()
    if ini is not None:
        (path / "alembic.ini").write_text(ini)
    sqlite_project.write_settings('migrations = "alembic.ini"')
    sqlite_project.pytester.makepyfile(
        test_it="""
        from sqlalchemy import text

        async def test_it(db_session):
            await db_session.execute(text("SELECT 1"))
        """
    )
    result = sqlite_project.run(*(["--aksara-migrations"] if checks else []))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.lines + result.stderr.lines
    [line] = [line for line in output if expected in line]
    assert "alembic.ini" in line
    if checks:  # refused before collection: the line is all there is
        assert result.stderr.str().strip() == line
        assert line.startswith("ERROR: ")


def test_the_checks_need_the_migrations_setting(sqlite_project: Project) -> None:
    result = run_checks(sqlite_project)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.str().strip() == (
        "ERROR: --migrations (--aksara-migrations) needs the migrations setting: set "
        "migrations = 'alembic.ini' in [tool.aksara] or AKSARA_MIGRATIONS"
    )


# -- the real executable -------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def blog_copy(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, list[str]]:
    """A copy of examples/blog and the extra ``aksara test`` arguments for the backend."""
    copy = tmp_path / "blog"
    shutil.copytree(BLOG, copy, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
    if request.param == "sqlite":
        return copy, []
    server = request.getfixturevalue("postgres_url").rsplit("/", 1)[0]
    return copy, ["--database-url", f"{server}/blog_checks_{os.getpid()}"]


def aksara_test(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AKSARA), "test", *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_aksara_test_migrations_runs_the_checks_with_the_suite(
    blog_copy: tuple[Path, list[str]],
) -> None:
    blog, extra = blog_copy
    done = aksara_test(blog, "-v", "--migrations", "--junitxml=report.xml", *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    checks = [
        "single_head",
        "upgrade[0001]",
        "upgrade[0002]",
        "upgrade[0003]",
        "downgrade[0003]",
        "downgrade[0002]",
        "downgrade[0001]",
        "models_match",
        "round_trip",
    ]
    for check in checks:
        assert f"aksara-migrations::{check} PASSED" in done.stdout, done.stdout
    assert "tests/test_migrations.py::TestMigrations::test_migration_0003 PASSED" in done.stdout
    report = ET.parse(blog / "report.xml")
    cases = [(c.get("classname"), c.get("name")) for c in report.iter("testcase")]
    assert [name for classname, name in cases if classname == "aksara-migrations"] == checks


def test_aksara_test_migrations_with_a_wrong_path_exits_4_with_one_line_on_stderr(
    tmp_path: Path,
) -> None:
    blog = tmp_path / "blog"
    shutil.copytree(BLOG, blog, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
    settings = blog / "pyproject.toml"
    settings.write_text(settings.read_text().replace('"alembic.ini"', '"nowhere.ini"'))
    done = aksara_test(blog, "--migrations")
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        f"ERROR: setting migrations = '{blog / 'nowhere.ini'}' (from pyproject.toml) is "
        "neither an alembic.ini nor a folder holding env.py; fix the path, or unset "
        "migrations to build the schema from models"
    ]
    assert done.stdout == ""
