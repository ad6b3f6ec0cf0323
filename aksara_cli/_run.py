"""``aksara test``: a pure mapping from options to a pytest argv, then one ``pytest.main``.

Kept pure so every option's translation is unit-tested without running pytest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "COV_REPORT_TYPES",
    "FAKER_PLUGIN_ARGS",
    "SHARDING_PLUGIN",
    "TestOptions",
    "pytest_args",
    "run_pytest",
    "validate_cov_report",
    "validate_sharding",
]

COV_REPORT_TYPES = (
    "term",
    "term-missing",
    "annotate",
    "html",
    "xml",
    "json",
    "lcov",
    "markdown",
    "markdown-append",
)
# Faker's own plugin imports Faker at every start (~0.09 s); ours gives the same fixtures
# and imports Faker when a test asks for one (aksara_testing/_faker_fixtures.py). First,
# so that a user's own -p faker still wins. A literal: importing the module here would
# import aksara_testing before pytest.
FAKER_PLUGIN_ARGS = ("-p", "no:faker", "-p", "aksara_testing._faker_fixtures")
# Makes --splits groups independent of the run order (pytest-randomly); see the module.
SHARDING_PLUGIN = "aksara_testing._sharding"


@dataclass(frozen=True)
class TestOptions:
    """Everything ``aksara test`` was given, in the form Click parsed it."""

    __test__ = False  # not a pytest test class

    args: tuple[str, ...] = ()
    keyword: str | None = None
    markexpr: str | None = None
    verbose: int = 0
    quiet: int = 0
    failfast: bool = False
    last_failed: bool = False
    failed_first: bool = False
    maxfail: int | None = None
    durations: int | None = None
    junitxml: str | None = None
    pdb: bool = False
    cov: tuple[str, ...] = ()
    cov_report: tuple[str, ...] = ()
    cov_fail_under: float | None = None
    settings: str | None = None
    app: str | None = None
    database_url: str | None = None
    slow: bool = False
    ci: bool = False
    seed: int | None = None
    reuse_db: bool = False
    create_db: bool = False
    no_migrations: bool = False
    check_migrations: bool = False
    numprocesses: str | None = None
    splits: int | None = None
    group: int | None = None
    store_durations: bool = False
    durations_path: str | None = None
    splitting_algorithm: str | None = None


def validate_cov_report(value: str) -> str | None:
    """Return an error sentence for a bad ``--cov-report`` value, else None.

    An empty value is pytest-cov's "no report" (coverage data only, e.g. for
    shards combined later).
    """
    if value == "":
        return None
    kind, _, dest = value.partition(":")
    if kind == "term" or kind == "term-missing":
        if dest not in ("", "skip-covered"):
            return f"--cov-report={value}: {kind} takes only ':skip-covered'"
        return None
    if kind not in COV_REPORT_TYPES:
        return (
            f"--cov-report={value} is not a report type; use one of "
            f"{', '.join(COV_REPORT_TYPES)} (optionally TYPE:DEST)"
        )
    return None


def validate_sharding(
    numprocesses: str | None, splits: int | None, group: int | None
) -> str | None:
    """An error sentence for bad ``-n`` / ``--splits`` / ``--group`` values, else None."""
    if numprocesses not in (None, "auto", "logical") and not str(numprocesses).isdigit():
        return f"-n {numprocesses}: give a number of workers or 'auto'"
    if (splits is None) != (group is None):
        return "--splits N and --group I go together: add the missing one (1 <= I <= N)"
    if splits is not None and group is not None and group > splits:
        return f"--group {group} is past --splits {splits}: groups are numbered 1 to {splits}"
    return None


def pytest_args(options: TestOptions) -> list[str]:
    """The pytest command line equivalent to ``options``."""
    argv: list[str] = []
    flags = {
        "-x": options.failfast,
        "--lf": options.last_failed,
        "--ff": options.failed_first,
        "--pdb": options.pdb,
        "--aksara-slow": options.slow,
        "--aksara-ci": options.ci,
        "--aksara-reuse-db": options.reuse_db,
        "--aksara-create-db": options.create_db,
        "--aksara-no-migrations": options.no_migrations,
        "--aksara-migrations": options.check_migrations,
        "--store-durations": options.store_durations,
    }
    values: dict[str, object | None] = {
        "-k": options.keyword,
        "-m": options.markexpr,
        "--maxfail": options.maxfail,
        "--durations": options.durations,
        "--junitxml": options.junitxml,
        "--cov-fail-under": options.cov_fail_under,
        "--aksara-settings": options.settings,
        "--aksara-app": options.app,
        "--aksara-database-url": options.database_url,
        "--aksara-seed": options.seed,
        "--numprocesses": options.numprocesses,
        "--splits": options.splits,
        "--group": options.group,
        "--durations-path": options.durations_path,
        "--splitting-algorithm": options.splitting_algorithm,
    }
    argv += ["-v"] * options.verbose + ["-q"] * options.quiet
    argv += [flag for flag, on in flags.items() if on]
    for flag, value in values.items():
        if value is not None:
            # Short options take their value as the next word: -k '-x' stays a value.
            argv += [flag, _format(value)] if len(flag) == 2 else [f"{flag}={_format(value)}"]
    if options.splits is not None:
        argv += ["-p", SHARDING_PLUGIN]
    argv += [f"--cov={pkg}" if pkg else "--cov" for pkg in options.cov]
    argv += [f"--cov-report={report}" for report in options.cov_report]
    argv += list(options.args)
    return argv


def _format(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def run_pytest(argv: Sequence[str]) -> int:
    """Run pytest in this process with the aksara plugin; return its exit code.

    An option nobody defines is pytest's usage error (exit 4), shown on one line.
    Faker's plugin gives way to our lazy copy of it (:data:`FAKER_PLUGIN_ARGS`);
    xdist workers get the same arguments.
    """
    import pytest

    from ._usage_errors import OneLineUsageErrors

    args = [*FAKER_PLUGIN_ARGS, *argv]
    return int(pytest.main(args, plugins=[OneLineUsageErrors()]))
