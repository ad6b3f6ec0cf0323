"""The Click command group ``aksara``.

Click errors become one line on stderr and exit code 4 (pytest's usage-error
code), so scripts see the same code whether Click or pytest rejected the input.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ._passthrough import PassThroughCommand
from ._run import TestOptions, pytest_args, run_pytest, validate_cov_report, validate_sharding

__all__ = ["USAGE_ERROR", "cli", "run_cli"]

USAGE_ERROR = 4
# Click 8.2 raises NoArgsIsHelpError for a bare `aksara`; 8.1 prints the help and exits 0 itself.
_NO_ARGS_IS_HELP: tuple[type[click.UsageError], ...] = (
    (click.exceptions.NoArgsIsHelpError,) if hasattr(click.exceptions, "NoArgsIsHelpError") else ()
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
# The version is read from the installed metadata only when asked for, and
# without importing aksara_testing (pytest must be first to import its plugin).
@click.version_option(package_name="aksara-testing", prog_name="aksara-testing")
def cli() -> None:
    """Test async SQLAlchemy + ASGI apps."""


def _check_cov_reports(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    for report in value:
        problem = validate_cov_report(report)
        if problem:
            raise click.BadParameter(problem, ctx=ctx, param=param)
    return value


@cli.command(
    "test",
    cls=PassThroughCommand,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=(
        "Any other option goes to pytest and its plugins, with its value, in the order "
        "given: aksara test -p no:randomly --tb=short tests/. Everything after -- goes to "
        "pytest as it is."
    ),
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[PATHS | PYTEST OPTIONS]...")
@click.option("-k", "keyword", metavar="EXPR", help="Only tests whose names match EXPR.")
@click.option("-m", "markexpr", metavar="EXPR", help="Only tests whose markers match EXPR.")
@click.option("-v", "--verbose", count=True, help="More output (repeatable).")
@click.option("-q", "--quiet", count=True, help="Less output (repeatable).")
@click.option("-x", "--failfast", is_flag=True, help="Stop at the first failure.")
@click.option("--lf", "last_failed", is_flag=True, help="Rerun only the tests that failed last.")
@click.option("--ff", "failed_first", is_flag=True, help="Run last failures first.")
@click.option("--maxfail", type=click.IntRange(min=1), metavar="N", help="Stop after N failures.")
@click.option("--durations", type=click.IntRange(min=0), metavar="N", help="Show N slowest.")
@click.option("--junitxml", metavar="PATH", help="Write a JUnit XML report.")
@click.option("--pdb", is_flag=True, help="Start the debugger on failures.")
@click.option(
    "--cov",
    multiple=True,
    is_flag=False,
    flag_value="",
    metavar="[PKG]",
    help="Measure coverage of PKG (repeatable; alone: the whole project).",
)
@click.option(
    "--cov-report",
    multiple=True,
    metavar="TYPE[:DEST]",
    callback=_check_cov_reports,
    help="term, term-missing, html, xml, json, lcov, annotate, markdown (repeatable).",
)
@click.option("--cov-fail-under", type=float, metavar="PERCENT", help="Fail below PERCENT.")
@click.option("--settings", metavar="FILE", help="pyproject.toml with [tool.aksara].")
@click.option("--app", metavar="MODULE:ATTR", help="ASGI app to test (overrides settings).")
@click.option("--database-url", metavar="URL", help="The app's database URL (overrides settings).")
@click.option("--slow", is_flag=True, help="Also run tests marked slow.")
@click.option("--ci", is_flag=True, help="Also run tests marked ci_only (default when CI=true).")
@click.option("--seed", type=int, metavar="N", help="Seed for fake data, to reproduce a run.")
@click.option(
    "--reuse-db",
    is_flag=True,
    help="Keep the test database; reuse it while the schema is unchanged.",
)
@click.option("--create-db", is_flag=True, help="Rebuild the test database (with --reuse-db).")
@click.option(
    "--no-migrations", is_flag=True, help="Build the test database from models, not migrations."
)
@click.option(
    "--migrations",
    "check_migrations",
    is_flag=True,
    help="Also run the migration checks: one head, up/down, models match.",
)
@click.option(
    "-n",
    "--numprocesses",
    metavar="N|auto",
    help="Run on N worker processes (pytest-xdist), each with its own test database.",
)
@click.option("--splits", type=click.IntRange(min=1), help="Shard the suite into N groups.")
@click.option("--group", type=click.IntRange(min=1), help="Run group I of --splits (1-based).")
@click.option(
    "--store-durations",
    is_flag=True,
    help="Record test durations for --splits (in --durations-path).",
)
@click.option(
    "--durations-path",
    metavar="FILE",
    help="Where durations are stored and read (default .test_durations).",
)
@click.option(
    "--splitting-algorithm",
    type=click.Choice(["duration_based_chunks", "least_duration"]),
    help="How --splits balances groups (pytest-split's algorithms).",
)
def test_command(**options: Any) -> None:
    """Run the test suite with pytest, in this process.

    Exits with pytest's exit code; usage and configuration errors exit 4.
    """
    if options["cov_report"] and not options["cov"]:
        raise click.UsageError("--cov-report needs --cov[=PKG]; add --cov=yourpackage")
    problem = validate_sharding(options["numprocesses"], options["splits"], options["group"])
    if problem:
        raise click.UsageError(problem)
    argv = pytest_args(TestOptions(**options))
    sys.exit(run_pytest(argv))


@cli.command("init", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument(
    "project", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option("-y", "--yes", is_flag=True, help="Overwrite [tool.aksara] without asking.")
@click.option("--app", metavar="MODULE:ATTR", help="The ASGI app (instead of detecting it).")
@click.option("--database-url", metavar="URL", help="The app's database URL.")
@click.option(
    "--models", metavar="MODULE:ATTR", help="The DeclarativeBase subclass, SQLModel or MetaData."
)
@click.option(
    "--session",
    multiple=True,
    metavar="MODULE:ATTR",
    help="What the app makes sessions with: an async_sessionmaker, sessionmaker or Session class.",
)
@click.option(
    "--engine", multiple=True, metavar="MODULE:ATTR", help="A module-level engine of the app."
)
@click.option("--migrations", metavar="PATH", help="alembic.ini or an Alembic script folder.")
@click.option("--auth", metavar="MODULE:ATTR", help="callable(user) -> token or headers.")
def init_command(project: Path, **options: Any) -> None:
    """Write [tool.aksara] and tests/conftest.py for an existing project.

    Finds the app, models, session factory or engine, database URL and Alembic set-up by
    reading the code (nothing is imported). Options given are written as given.
    """
    from ._init import InitOptions, is_interactive, run_init

    sys.exit(run_init(InitOptions(root=project.resolve(), interactive=is_interactive(), **options)))


@cli.command("doctor", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--settings", metavar="FILE", help="pyproject.toml with [tool.aksara].")
@click.option("--app", metavar="MODULE:ATTR", help="ASGI app to check (overrides settings).")
@click.option("--database-url", metavar="URL", help="The app's database URL (overrides settings).")
def doctor_command(settings: str | None, app: str | None, database_url: str | None) -> None:
    """Check the configuration without running tests: one line per check.

    Exits 0 when every check passed or was skipped, 1 when one failed.
    """
    from ._doctor import find_root, run_doctor

    flags = {"app": app, "database_url": database_url}
    settings_file = Path(settings) if settings else None
    sys.exit(run_doctor(find_root(Path.cwd()), settings_file, flags))


def run_cli(argv: Sequence[str] | None = None) -> int:
    """Run the group; Click's usage errors become one line and exit code 4."""
    try:
        cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except _NO_ARGS_IS_HELP as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "aksara --help")
        return 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("aksara: aborted", err=True)
        return 1
    except click.ClickException as exc:
        command = (
            exc.ctx.command_path if isinstance(exc, click.UsageError) and exc.ctx else "aksara"
        )
        click.echo(f"{command}: error: {_one_line(exc.format_message())}", err=True)
        return USAGE_ERROR
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    return 0


def _one_line(message: str) -> str:
    return " ".join(message.split())
