"""The migration checks as pytest items (``aksara test --migrations``)."""

from __future__ import annotations

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
