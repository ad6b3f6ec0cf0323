"""The migration checks as pytest items (``aksara test --migrations``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from .checks import CheckRun

__all__ = ["MigrationChecksPlugin"]

COLLECTOR_NAME = "aksara-migrations"


class MigrationCheckFailed(Exception):
    """A check found a problem; the message is the whole report."""


class MigrationChecks(pytest.Collector):
    """The collector that holds one item per check."""

    run: CheckRun

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        return [MigrationCheck.from_parent(self, name=name) for name in self.run.names()]


class MigrationCheck(pytest.Item):
    """One check; all of them share one pass over a scratch database."""

    def runtest(self) -> None:
        assert isinstance(self.parent, MigrationChecks)
        outcome = self.parent.run.outcome(self.name)
        if outcome.status == "skipped":
            pytest.skip(outcome.message)
        if outcome.status == "failed":
            raise MigrationCheckFailed(outcome.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, MigrationCheckFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{COLLECTOR_NAME}::{self.name}"


class MigrationChecksPlugin:
    """Registered for ``--aksara-migrations``: adds the check items to the run."""

    def __init__(self, run: CheckRun) -> None:
        self.run = run

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # The very end (pytest has reported): the drop has had all that time to finish.
        problem = self.run.finish()
        if problem is None:
            return
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"aksara: {problem}", red=True, bold=True)
        else:
            print(f"aksara: {problem}", file=sys.stderr)
        session = getattr(self, "session", None)
        if session is not None and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # what pytest.main returns

    @pytest.hookimpl(tryfirst=True)  # before -k / -m deselect
    def pytest_collection_modifyitems(
        self, session: pytest.Session, items: list[pytest.Item]
    ) -> None:
        collector = MigrationChecks.from_parent(
            session,
            name=COLLECTOR_NAME,
            nodeid=COLLECTOR_NAME,
            path=self.run.runtime.settings.migrations,
        )
        collector.run = self.run
        checks = collector.collect()
        items.extend(item for item in checks if isinstance(item, pytest.Item))
