"""The test database of one process: its URL, build, clone, run lock and drop.

A :class:`TestDatabase` knows nothing of pytest: give it the settings and
where it runs (an xdist worker or not, ``--reuse-db``) and it hands out the
URL, builds the database once, and drops it at the end::

    database = TestDatabase(settings)
    handle = await database.build()  # created, schema built (or reused)
    ...
    await database.close()  # dropped unless reused

The session layers on it live in ``isolation``; the pytest run that uses it
is ``_runtime.Runtime``. Nothing here imports SQLAlchemy until a method needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AksaraError, ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncEngine

    from .._settings import Settings
    from .lifecycle import DatabaseHandle, SchemaSource
    from .postgres import RunLock

__all__ = ["TestDatabase"]


class TestDatabase:
    """One process's test database (a worker's own one under pytest-xdist)."""

    __test__ = False  # not a test class, whatever pytest's name rules say

    def __init__(
        self,
        settings: Settings,
        *,
        worker: str | None = None,
        workers: int | None = None,
        shared_dir: Path | None = None,
        reuse: bool = False,
        recreate: bool = False,
        migrations: bool = True,
    ) -> None:
        self.settings = settings
        self.worker = worker  # the xdist worker id ("gw0"), None outside workers
        self.workers = workers  # how many workers the run has (a worker's view)
        self.reuse = reuse  # --reuse-db
        self.recreate = recreate  # --create-db
        self.migrations = migrations  # False: --no-migrations, build from the models
        self.handle: DatabaseHandle | None = None
        self.template_used = False  # controller: a worker of this run cloned the template
        self.cloned = False  # this worker built its database from the template
        self.template_dropped = False  # this worker (or, controller: a worker) dropped it
        self._shared_dir = shared_dir  # a worker: the controller's folder for SQLite files
        self._sqlite_dir: Path | None = None
        self._run_lock: RunLock | None = None
        self._early_engine: AsyncEngine | None = None  # engine() before the build

    # -- where -------------------------------------------------------------------

    @property
    def reuse_allowed(self) -> bool:
        return self.reuse and not self.recreate

    def worker_url(self, purpose: str | None = None) -> URL:
        """``test_<name>[_<worker>][_<purpose>]``: this process's database, or a scratch one."""
        from .urls import derive_test_url

        suffix = "".join(f"_{part}" for part in (self.worker, purpose) if part)
        return derive_test_url(self.settings, self.sqlite_dir, suffix=suffix)

    def url(self) -> URL:
        """This process's test database URL."""
        return self.worker_url()

    def template_url(self) -> URL:
        """The database parallel workers clone theirs from (``test_<name>_template``)."""
        from .parallel import TEMPLATE_SUFFIX
        from .urls import derive_test_url

        return derive_test_url(self.settings, self.sqlite_dir, suffix=TEMPLATE_SUFFIX)

    def engine(self) -> AsyncEngine:
        """The test database's engine; before the build, one on its URL that opens nothing."""
        if self.handle is not None:
            return self.handle.engine
        if self._early_engine is None:
            from .lifecycle import create_engine_for

            self._early_engine = create_engine_for(self.url())
        return self._early_engine

    def sqlite_dir(self) -> Path:
        """Where SQLite test files live: one folder per project, a sub-folder per run.

        ``--reuse-db`` uses the project folder itself. Folders of runs whose
        process is gone (killed with kill -9) are removed when the next run
        needs one. Nothing is created here; building the database does that.
        """
        if self._shared_dir is not None:
            return self._shared_dir
        if self._sqlite_dir is not None:
            return self._sqlite_dir
        base = self.project_dir()
        if self.reuse:
            return base
        _remove_dead_runs(base)
        self._sqlite_dir = base / f"run-{os.getpid()}"
        return self._sqlite_dir

    def project_dir(self) -> Path:
        """This project's folder under the temporary directory (SQLite files, locks)."""
        project = hashlib.sha256(str(self.settings.root).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"aksara-{os.getuid()}" / project

    # -- build -------------------------------------------------------------------

    async def build(self) -> DatabaseHandle:
        """Create the database and its schema (or reuse it, or clone the template), once."""
        if self.handle is not None:
            return self.handle
        from .lifecycle import build_database
        from .urls import check_safe, is_memory

        url = self.url()
        await self._take_run_lock(check_safe(url, self.settings).url)
        if self.worker is not None and not is_memory(url):
            self.cloned = True  # past the run lock: this run owns the template too
            handle = await self._build_clone(url)
        else:
            target = check_safe(url, self.settings)
            source = self.schema_source(url)
            handle = await build_database(target, source, reuse=self.reuse_allowed)
        if self.reuse and self.recreate:
            handle.note = "rebuilt (--create-db)"
        self.handle = handle
        return handle

    async def _build_clone(self, url: URL) -> DatabaseHandle:
        from .parallel import build_worker_database
        from .urls import check_safe, database_name

        template_url = self.template_url()
        built = await build_worker_database(
            check_safe(template_url, self.settings),
            check_safe(url, self.settings),
            self.schema_source(template_url),
            reuse=self.reuse_allowed,
            lock=self.sqlite_dir() / f"{database_name(template_url)}.lock",  # the run's folder
            admin=self._run_lock,  # PostgreSQL: the run lock's connection does the admin work
            drop_after=None if self.reuse or not self.workers else self.workers,
        )
        self.template_dropped = built.template_dropped
        return built.handle

    def schema_source(self, url: URL) -> SchemaSource:
        """How the schema is built: the migrations, the ``models`` metadata, or nothing."""
        from sqlalchemy import MetaData

        from .._imports import import_target
        from .lifecycle import SchemaSource

        if self.settings.migrations and self.migrations:
            from .._migrations.schema import migrations_source

            return migrations_source(self.settings, url)
        if not self.settings.models:
            return SchemaSource(metadata=None)
        models = import_target(self.settings, "models", self.settings.models)  # errors: exit 4
        metadata = getattr(models, "metadata", models)
        if not isinstance(metadata, MetaData):
            raise ConfigurationError(
                f"setting {self.settings.describe('models')} is neither a DeclarativeBase "
                "subclass nor a MetaData; point it at your models' Base"
            )
        return SchemaSource(metadata=metadata)

    def check_same_database(self, merged: Settings) -> None:
        """``merged`` settings, after the build, must still name the database that was built."""
        from .._settings import mask_url
        from .urls import derive_test_url

        assert self.handle is not None
        url = derive_test_url(merged, self.sqlite_dir)
        if url != self.handle.url:
            raise ConfigurationError(
                "setup_test_database() was called with settings for another database "
                f"({mask_url(str(url))}) after the test database was set up; "
                "give the same database_url in test_settings and [tool.aksara]"
            )

    def server_problem(self, exc: Exception) -> str | None:
        """The one line for ``exc`` if it says the PostgreSQL server cannot be used."""
        from .diagnostics import DOCTOR_HINT, Server, build_problem

        url = self.settings.test_database_url or self.settings.database_url or ""
        if not url.startswith("postgresql"):
            return None
        problem = build_problem(exc, Server.of_settings(self.settings, DOCTOR_HINT))
        return None if problem is None else str(problem)

    # -- the run lock --------------------------------------------------------------

    async def lock_names(self) -> None:
        """Hold the run lock on this process's database name (and so on its derived names)."""
        from .urls import check_safe

        await self._take_run_lock(check_safe(self.worker_url(), self.settings).url)

    async def _take_run_lock(self, url: URL) -> None:
        """PostgreSQL: no other run may use this database name until this run ends."""
        from .urls import backend_of

        if backend_of(url) == "postgresql" and self._run_lock is None:
            from .diagnostics import DOCTOR_HINT, Server, connect_first
            from .postgres import RunLock

            # The run's first connection: a server that cannot be used is one line, at once.
            server = Server.of_settings(self.settings, DOCTOR_HINT)
            self._run_lock = await connect_first(RunLock.take(url, str(self.settings.root)), server)

    # -- the end -----------------------------------------------------------------

    async def close(self) -> None:
        """Dispose of the engines; drop the database unless reused; release the run lock."""
        if self._early_engine is not None:
            await self._early_engine.dispose()
            self._early_engine = None
        if self.handle is not None:
            await self.handle.engine.dispose()
            if not self.reuse:
                from .lifecycle import drop_database
                from .urls import check_safe

                await drop_database(check_safe(self.handle.url, self.settings))
            self.handle = None
        if self._run_lock is not None:
            if not await self._run_lock.settle():  # the template's drop failed
                self.template_dropped = False  # the controller tries again at the end
            await self._run_lock.release()
            self._run_lock = None
        self._remove_run_dir()

    async def drop_template(self) -> None:
        """Controller, end of a parallel run: drop the template unless ``--reuse-db``."""
        from .lifecycle import drop_database
        from .urls import backend_of, check_safe, is_memory

        url = self.template_url()
        if is_memory(url):
            return
        target = check_safe(url, self.settings)
        if backend_of(url) != "postgresql":
            await drop_database(target)
            return
        from .postgres import RunLock

        lock = await RunLock.take(url, "template", wait=True)  # not while another run clones
        try:
            await drop_database(target)
        finally:
            await lock.release()

    def finish_parallel_run(self) -> str | None:
        """Controller, after the workers are done: drop the template and the run folder.

        The worker that made the last clone normally dropped the template already;
        then nothing here imports SQLAlchemy or connects anywhere. Returns a note
        when the template could not be dropped.
        """
        note = None
        if not self.reuse and self.template_used and not self.template_dropped:
            try:
                asyncio.run(self.drop_template())
            except AksaraError as exc:  # e.g. a refused URL: the workers reported it already
                note = f"template not dropped: {exc}"
        self._remove_run_dir()
        return note

    def _remove_run_dir(self) -> None:
        """The per-run folder (``--reuse-db`` uses a fixed one, kept)."""
        folder, self._sqlite_dir = self._sqlite_dir, None
        if folder is None:
            return
        shutil.rmtree(folder, ignore_errors=True)
        for parent in (folder.parent, folder.parent.parent):
            with contextlib.suppress(OSError):
                parent.rmdir()  # only when no other run or reused database is there


def _remove_dead_runs(base: Path) -> None:
    if not base.is_dir():
        return
    for folder in base.glob("run-*"):
        pid = folder.name.removeprefix("run-")
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
