"""Parallel runs (pytest-xdist): one database per worker, cloned from a template.

The first worker that needs a database builds ``test_<name>_template`` (by
migrations or ``create_all``) under a file lock; every worker then clones it
into ``test_<name>_<worker>``: ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL,
a file copy on SQLite. Nothing is built twice, and a run whose tests never
touch the database builds nothing. The worker that makes the last clone drops
the template (the controller does it at the end of the run if no worker did)
unless ``--reuse-db`` keeps everything.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ._database import (
    DatabaseHandle,
    SchemaSource,
    build_database,
    create_engine_for,
    drop_database,
    fingerprint_comment,
    store_fingerprint,
    stored_fingerprint,
)
from ._urls import Target, backend_of

if TYPE_CHECKING:
    from ._postgres import RunLock

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
    template: Target,
    target: Target,
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
    with worker_lock(lock):
        last = drop_after is not None and _count_clone(lock) >= drop_after
        if backend_of(template.url) == "postgresql":
            await _clone_postgres(template, target, source, wanted, admin, drop_template=last)
        else:
            await _clone_file(template, target, source, wanted, drop_template=last)
    handle = DatabaseHandle(
        target.url,
        create_engine_for(target.url),
        note=f"cloned from {template.url.database and Path(template.url.database).name}",
        fingerprint=wanted,
    )
    return WorkerDatabase(handle, template_dropped=last)


async def _clone_file(
    template: Target, target: Target, source: SchemaSource, fingerprint: str, *, drop_template: bool
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
    template: Target,
    target: Target,
    source: SchemaSource,
    fingerprint: str,
    admin: RunLock | None,
    *,
    drop_template: bool,
) -> None:
    """PostgreSQL: ``CREATE DATABASE target TEMPLATE template``, under the server-wide lock.

    Other checkouts' runs on the same server build the same template: they take
    turns on the template's name. The template's fingerprint is read from the
    catalogue, so nobody connects to it except to build it.
    """
    from ._postgres import RunLock

    own = admin is None
    server = admin or await RunLock.take(template.url, "template", wait=True)
    try:
        async with server.holding(template.url) if not own else contextlib.nullcontext():
            comment = fingerprint_comment(fingerprint)
            # A template left by a killed run is reused only if its fingerprint matches.
            if await server.comment_of(template.url) != comment:
                built = await build_database(template, source, reuse=False)
                await built.engine.dispose()  # PostgreSQL clones only a template nobody uses
            await server.clone(template.url, target.url, comment=comment)
        if drop_template:  # every worker has its clone
            server.drop_soon(template.url)
    finally:
        if own:
            await server.release()


def _count_clone(lock: Path) -> int:
    """One more clone made in this run (call under ``lock``); the count so far."""
    counter = lock.with_name(lock.name + ".clones")
    try:
        count = int(counter.read_text()) + 1
    except (FileNotFoundError, ValueError):
        count = 1
    counter.write_text(str(count))
    return count
