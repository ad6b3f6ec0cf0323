"""Parallel runs (pytest-xdist): one database per worker, cloned from a template.

The first worker that needs a database builds ``test_<name>_template`` (by
migrations or ``create_all``); every worker then clones it into
``test_<name>_<worker>``: ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL, a
file copy on SQLite. Nothing is built twice, and a run whose tests never
touch the database builds nothing. On PostgreSQL the clones run at the same
time (the server copies one template into several databases at once as long
as nobody is connected to it); SQLite copies take turns under a file lock.
The worker that makes the last clone drops the template (the controller does
it at the end of the run if no worker did) unless ``--reuse-db`` keeps everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .lifecycle import (
    DatabaseHandle,
    SchemaSource,
    build_database,
    build_schema,
    create_engine_for,
    drop_database,
    fingerprint_comment,
    store_fingerprint,
    stored_fingerprint,
)
from .urls import SafeTarget, backend_of

if TYPE_CHECKING:
    from .postgres import RunLock

__all__ = ["TEMPLATE_SUFFIX", "WorkerDatabase", "build_worker_database", "worker_lock"]

TEMPLATE_SUFFIX = "_template"


@contextlib.contextmanager
def worker_lock(path: Path) -> Iterator[None]:
    """An exclusive lock shared by the workers of one machine (``flock`` on ``path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class WorkerDatabase:
    """A worker's cloned database, and whether this worker dropped the template after it."""

    handle: DatabaseHandle
    template_dropped: bool = False


async def build_worker_database(
    template: SafeTarget,
    target: SafeTarget,
    source: SchemaSource,
    *,
    reuse: bool,
    lock: Path,
    admin: RunLock | None = None,
    drop_after: int | None = None,
) -> WorkerDatabase:
    """This worker's database at ``target``, cloned from ``template`` (built if needed).

    PostgreSQL work goes through ``admin`` (the worker's run lock connection;
    one is opened if not given). With ``drop_after=N`` the clone that makes N
    clones of this run drops the template: every worker has its database then.
    """
    engine = create_engine_for(target.url)
    wanted = source.fingerprint(engine)
    if reuse and await stored_fingerprint(target.url, engine) == wanted:
        handle = DatabaseHandle(
            target.url, engine, reused=True, note="reused (schema unchanged)", fingerprint=wanted
        )
        return WorkerDatabase(handle)
    await engine.dispose()
    if backend_of(template.url) == "postgresql":
        last = await _clone_postgres(
            template, target, source, wanted, admin, lock, drop_after, reuse=reuse
        )
    else:
        with worker_lock(lock):
            last = drop_after is not None and _count_clone(lock) >= drop_after
            await _clone_file(template, target, source, wanted, drop_template=last)
    handle = DatabaseHandle(
        target.url,
        create_engine_for(target.url),
        note=f"cloned from {template.url.database and Path(template.url.database).name}",
        fingerprint=wanted,
    )
    return WorkerDatabase(handle, template_dropped=last)


async def _clone_file(
    template: SafeTarget,
    target: SafeTarget,
    source: SchemaSource,
    fingerprint: str,
    *,
    drop_template: bool,
) -> None:
    """SQLite: ``target`` becomes a copy of the template file (built first if needed)."""
    # A template left by a killed run is reused only if its fingerprint matches.
    built = await build_database(template, source, reuse=True)
    await built.engine.dispose()
    await drop_database(target)
    Path(target.url.database or "").parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template.url.database or "", target.url.database or "")
    await store_fingerprint(target.url, fingerprint)
    if drop_template:
        await drop_database(template)


async def _clone_postgres(
    template: SafeTarget,
    target: SafeTarget,
    source: SchemaSource,
    fingerprint: str,
    admin: RunLock | None,
    lock: Path,
    drop_after: int | None,
    *,
    reuse: bool,
) -> bool:
    """PostgreSQL: ``CREATE DATABASE target TEMPLATE template``; True if it dropped the template.

    Clones hold the template's name *shared*, so the workers of a run clone at
    the same moment; building and dropping hold it *exclusively*, so nobody
    clones a template half built or being dropped (this run's workers, or
    another checkout's run on the same server). The builder closes its
    connections before anyone clones: PostgreSQL copies only an unused
    template. The template's fingerprint is read from the catalogue, so nobody
    connects to it except to build it. The clone carries the fingerprint only
    under ``--reuse-db`` (otherwise it is dropped at the end, unread).
    """
    from .postgres import RunLock

    own = admin is None  # then a connection of our own, holding the target's name as a run would
    server = admin or await RunLock.take(target.url, "clone", wait=True)
    comment = fingerprint_comment(fingerprint)
    try:
        await _hold_template(server, template, source, comment)
        try:
            with worker_lock(lock):  # counted while holding the template: its drop waits for us
                last = drop_after is not None and _count_clone(lock) >= drop_after
            await server.clone(template.url, target.url, comment=comment if reuse else None)
        finally:
            await server.unlock(template.url, shared=True)
        if last:  # every worker has its clone or is making it (the drop waits for those)
            server.drop_soon(template.url)
        return last
    finally:
        if own:
            await server.release()


async def _hold_template(
    server: RunLock, template: SafeTarget, source: SchemaSource, comment: str
) -> None:
    """Return holding the template's name shared, the template built with ``comment``.

    The first worker to come takes the name exclusively and builds the template
    if it is missing or stale (a killed run's leftover is reused only if its
    fingerprint matches); the others wait for the name shared, and are let in
    together the moment the builder lets go: no queue, one round trip each.
    """
    while True:
        if await server.try_lock(template.url):  # nobody builds, drops or clones it now
            try:
                if await server.comment_of(template.url) != comment:
                    await _build_template(server, template, source, comment)
                await server.lock(template.url, shared=True)  # no drop slips in between
            finally:
                await server.unlock(template.url)
            return
        await server.lock(template.url, shared=True)  # waits out a build or a drop
        if await server.comment_of(template.url) == comment:
            return
        # Dropped meanwhile, or its build failed: take a turn at building it.
        await server.unlock(template.url, shared=True)
        await asyncio.sleep(0.01)


async def _build_template(
    server: RunLock, template: SafeTarget, source: SchemaSource, comment: str
) -> None:
    """Create and build the template; the admin work on the lock's own connection."""
    await server.recreate(template.url)
    engine = create_engine_for(template.url)
    try:
        await build_schema(engine, source)
    except BaseException:
        await engine.dispose()
        await server.drop(template.url)  # a half-built template is never left behind
        raise
    await engine.dispose()  # PostgreSQL clones only a template nobody uses
    await server.comment(template.url, comment)


def _count_clone(lock: Path) -> int:
    """One more clone made in this run (call under ``lock``); the count so far."""
    counter = lock.with_name(lock.name + ".clones")
    try:
        count = int(counter.read_text()) + 1
    except (FileNotFoundError, ValueError):
        count = 1
    counter.write_text(str(count))
    return count
