"""The built-in migration checks behind ``aksara test --migrations``.

One pass over a scratch database does all the work, inside one env.py run
(one engine, one connection, the revision files parsed once): upgrade every
revision in order, compare the schema with ``models``, downgrade every
revision back to base, upgrade again and compare the two schemas. The
outcomes are then reported as ordinary pytest items, one per check and
revision, so they show in the terminal and in junit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._text import error_line
from .schema_diff import autogenerate as _autogenerate
from .schema_diff import compare as _compare
from .schema_diff import describe as _describe
from .schema_diff import inspect_bind as _inspect
from .schema_diff import snapshot as _snapshot

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import MetaData
    from sqlalchemy.engine.reflection import Inspector

    from .._runtime import Runtime
    from .scratch import Scratch

__all__ = ["CheckRun", "Outcome"]


@dataclass(frozen=True)
class Outcome:
    status: str  # "passed", "failed" or "skipped"
    message: str = ""


PASSED = Outcome("passed")


@dataclass
class _Progress:
    upgraded: list[str] = field(default_factory=list)
    downgraded: list[str] = field(default_factory=list)
    model_diff: list[str] | None = None
    first: dict[str, Any] | None = None
    leftover: list[str] = field(default_factory=list)
    second: dict[str, Any] | None = None
    phase: str = "upgrade"


class CheckRun:
    """The checks of one project, run once on first use."""

    def __init__(self, runtime: Runtime) -> None:
        from ..errors import MigrationError
        from .config import alembic_config
        from .runner import script_directory
        from .testcase import _scratch_url

        self.runtime = runtime
        self.url = _scratch_url(runtime, purpose="checks")
        self.config = alembic_config(runtime.settings, self.url)
        self._outcomes: dict[str, Outcome] | None = None
        self._scratch: Scratch | None = None
        self.revisions: list[str] = []
        if _runs_items(runtime.config):
            self.start()  # before the revision files load: they take a while too
        try:
            self.script: ScriptDirectory = script_directory(self.config)
            self.revisions = [s.revision for s in reversed(list(self.script.walk_revisions()))]
        except MigrationError as exc:  # a revision file that does not load: one failing check
            self._outcomes = {"revisions_load": Outcome("failed", str(exc))}
            if self._scratch is not None:
                self._scratch.drop_soon()  # not needed after all; finish() waits for it
        except BaseException:
            if self._scratch is not None:
                self._scratch.close()
            raise

    def names(self) -> list[str]:
        if self._outcomes is not None and "revisions_load" in self._outcomes:
            return ["revisions_load"]
        return [
            "single_head",
            *(f"upgrade[{rev}]" for rev in self.revisions),
            *(f"downgrade[{rev}]" for rev in reversed(self.revisions)),
            "models_match",
            "round_trip",
        ]

    def outcome(self, name: str) -> Outcome:
        if self._outcomes is None:
            self._outcomes = self._run()
        return self._outcomes[name]

    # -- the pass ----------------------------------------------------------------

    def _run(self) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {"single_head": self._single_head()}
        progress = _Progress()
        failure: list[BaseException] = []
        stop = threading.Event()

        def in_thread() -> None:  # no event loop of pytest's is touched
            try:
                self._pass(progress, stop)
            except BaseException as exc:
                failure.append(exc)

        # A daemon: after Ctrl-C nothing waits for a revision in progress; the scratch
        # database is dropped all the same, at the run's end (finish()).
        thread = threading.Thread(target=in_thread, name="aksara-migration-checks", daemon=True)
        thread.start()
        try:
            thread.join()
        except BaseException:  # Ctrl-C: env.py stops before its next revision
            stop.set()
            raise
        error = failure[0] if failure else None
        outcomes.update(self._judge(progress, error))
        return outcomes

    def _single_head(self) -> Outcome:
        heads = self.script.get_heads()
        if len(heads) <= 1:
            return PASSED
        from .moves import labels_of_branch

        if all(labels_of_branch(self.script, head) for head in heads):
            return PASSED  # every head ends a declared branch (branch_labels)
        return Outcome(
            "failed",
            f"{len(heads)} heads: {', '.join(heads)}; merge them with "
            f"`alembic merge -m merge {' '.join(heads)}` or give each branch a branch_labels",
        )

    def start(self) -> None:
        """PostgreSQL: start creating the scratch database now, in the background.

        Called as pytest is configured; the checks, later, only wait for
        whatever is left of it. SQLite's scratch file costs nothing to make.
        """
        from .._db import backend_of, check_safe

        if self._scratch is not None:
            return
        if backend_of(self.url) != "postgresql":
            return
        try:
            target = check_safe(self.url, self.runtime.settings)
        except Exception:  # the pass checks again and reports it as a failed check
            return
        from .scratch import Scratch

        self._scratch = Scratch(target, str(self.runtime.settings.root))

    def finish(self) -> str | None:
        """At the run's end: wait for the scratch database's drop (start it if never used).

        Returns the reason if it could not be dropped (it is then still on the server).
        """
        scratch, self._scratch = self._scratch, None
        if scratch is None:
            return None
        try:
            scratch.close()
        except Exception as exc:
            name = scratch.target.url.database
            return (
                f"could not drop the migration checks' scratch database {name}: "
                f'{error_line(exc)}; it is still on the server: drop it (DROP DATABASE "{name}")'
            )
        return None

    def _pass(self, progress: _Progress, stop: threading.Event) -> None:
        from .._db import check_safe, drop_database, recreate_database, redirect_app_database
        from .runner import run_env

        settings = self.runtime.settings
        target = check_safe(self.url, settings)

        def migrate() -> None:
            with redirect_app_database(settings, self.url):
                run_env(
                    self.config,
                    lambda heads, context: self._work(progress, heads, context),
                    scratch=True,
                    stop=stop,
                )

        self.start()
        scratch = self._scratch
        if scratch is not None:  # PostgreSQL
            try:
                scratch.wait_ready()
                migrate()
            finally:
                if hasattr(self.runtime.config, "workerinput"):
                    # An xdist worker's end of run reaches no terminal and no exit
                    # status: a failed drop fails a check instead.
                    self._scratch = None
                    scratch.close()
                else:
                    scratch.drop_soon()  # waited for, and any failure reported, by finish()
            return

        async def on_scratch() -> None:
            await recreate_database(target)
            try:
                migrate()  # env.py runs in its own thread; this loop only waits
            finally:
                await drop_database(target)

        asyncio.run(on_scratch())

    def _work(
        self, progress: _Progress, heads: tuple[str, ...], context: MigrationContext
    ) -> Iterator[Any]:
        script = self.script
        for step in script._upgrade_revs("heads", heads):  # type: ignore[arg-type]
            yield step
            progress.upgraded.append(step.revision.revision)
        inspector = self._compare_models(progress, context)
        progress.first = _snapshot(inspector, context.version_table)
        progress.phase = "downgrade"
        for step in script._downgrade_revs("base", tuple(script.get_heads())):  # type: ignore[arg-type]
            yield step
            progress.downgraded.append(step.revision.revision)
        progress.leftover = sorted(_snapshot(_inspect(context), context.version_table))
        progress.phase = "round trip"
        yield from script._upgrade_revs("heads", ())  # type: ignore[arg-type]
        progress.second = _snapshot(_inspect(context), context.version_table)

    def _compare_models(self, progress: _Progress, context: MigrationContext) -> Inspector:
        """Autogenerate's comparison with ``models``; returns the inspector it read with.

        Its reflection (one ``get_multi_*`` query per kind of object) is kept
        in that inspector and reused by the first snapshot: the schema is read
        once at the head.
        """
        metadata = self._metadata(context)
        if metadata is None:
            return _inspect(context)
        diffs, inspector = _autogenerate(context, metadata)
        progress.model_diff = [_describe(diff) for diff in diffs]
        return inspector

    def _metadata(self, context: MigrationContext) -> MetaData | None:
        settings = self.runtime.settings
        if settings.models:
            from .._imports import import_target

            models = import_target(settings, "models", settings.models)
            metadata: Any = getattr(models, "metadata", models)
            return metadata  # type: ignore[no-any-return]
        found = context.opts.get("target_metadata")
        return found if found is not None and not isinstance(found, list | tuple) else None

    # -- verdicts ----------------------------------------------------------------

    def _judge(self, progress: _Progress, error: BaseException | None) -> dict[str, Outcome]:
        from ..errors import MigrationError

        failed_rev = error.revision if isinstance(error, MigrationError) else None
        reason = str(error) if isinstance(error, MigrationError) else ""
        if error is not None and not isinstance(error, MigrationError):
            reason = error_line(error)
        outcomes: dict[str, Outcome] = {}
        up_failed = error is not None and progress.phase == "upgrade"
        for rev in self.revisions:
            if rev in progress.upgraded:
                outcomes[f"upgrade[{rev}]"] = PASSED
            elif up_failed and (rev == failed_rev or failed_rev is None):
                outcomes[f"upgrade[{rev}]"] = Outcome("failed", reason)
                failed_rev = rev
            else:
                outcomes[f"upgrade[{rev}]"] = Outcome("skipped", f"not reached: {reason}")
        down_failed = error is not None and progress.phase == "downgrade"
        for rev in self.revisions:
            name = f"downgrade[{rev}]"
            if rev in progress.downgraded:
                outcomes[name] = PASSED
            elif down_failed and rev == failed_rev:
                outcomes[name] = Outcome("failed", reason)
            else:
                outcomes[name] = Outcome("skipped", f"not reached: {reason}")
        outcomes["models_match"] = self._models_verdict(progress, reason)
        outcomes["round_trip"] = _round_trip_verdict(progress, error, reason)
        return outcomes

    def _models_verdict(self, progress: _Progress, reason: str) -> Outcome:
        if progress.model_diff is None:
            if progress.first is None:
                return Outcome("skipped", f"head not reached: {reason}")
            return Outcome(
                "skipped",
                "no models to compare with: set models in [tool.aksara] or target_metadata "
                "in env.py",
            )
        if progress.model_diff:
            return Outcome(
                "failed",
                "the migrated schema differs from models; autogenerate would emit: "
                + "; ".join(progress.model_diff),
            )
        return PASSED


def _round_trip_verdict(progress: _Progress, error: BaseException | None, reason: str) -> Outcome:
    if progress.phase != "round trip":
        return Outcome("skipped", f"not reached: {reason}")
    if error is not None:
        return Outcome("failed", f"upgrading again after downgrading to base failed: {reason}")
    if progress.leftover:
        return Outcome(
            "failed",
            f"downgrading to base left tables behind: {', '.join(progress.leftover)}",
        )
    assert progress.first is not None and progress.second is not None
    changes = _compare(progress.first, progress.second)
    if changes:
        return Outcome("failed", "up-down-up changed the schema: " + "; ".join(changes))
    return PASSED


def _runs_items(config: Any) -> bool:
    """False in an xdist controller (its workers run the items) and for --collect-only."""
    option = config.option
    controller = getattr(option, "dist", "no") != "no" and not hasattr(config, "workerinput")
    return not controller and not option.collectonly
