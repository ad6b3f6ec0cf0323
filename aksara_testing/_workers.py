"""Parallel runs (pytest-xdist): one database per worker, cloned from a template.

The first worker that needs a database builds ``test_<name>_template`` (by
migrations or ``create_all``) under a file lock; every worker then clones it
into ``test_<name>_<worker>``: ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL,
a file copy on SQLite. Nothing is built twice, and a run whose tests never
touch the database builds nothing. The controller drops the template at the
end of the run unless ``--reuse-db`` keeps everything.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
from collections.abc import Iterator
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

__all__ = ["TEMPLATE_SUFFIX", "build_worker_database", "worker_lock"]

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


async def build_worker_database(
    template: Target, target: Target, source: SchemaSource, *, reuse: bool, lock: Path
) -> DatabaseHandle:
    """This worker's database at ``target``, cloned from ``template`` (built if needed)."""
    engine = create_engine_for(target.url)
    wanted = source.fingerprint(engine)
    if reuse and await stored_fingerprint(target.url, engine) == wanted:
        return DatabaseHandle(
            target.url, engine, reused=True, note="reused (schema unchanged)", fingerprint=wanted
        )
    await engine.dispose()
    with worker_lock(lock):
        server_lock = await _server_lock(template)
        try:
            # A template left by a killed run is reused only if its fingerprint matches.
            built = await build_database(template, source, reuse=True)
            await built.engine.dispose()  # PostgreSQL clones only a template nobody uses
            await _copy(template, target, wanted)
        finally:
            if server_lock is not None:
                await server_lock.release()
    return DatabaseHandle(
        target.url,
        create_engine_for(target.url),
        note=f"cloned from {template.url.database and Path(template.url.database).name}",
        fingerprint=wanted,
    )


async def _server_lock(template: Target) -> RunLock | None:
    """Other checkouts' runs on the same server build the same template: take turns."""
    if backend_of(template.url) != "postgresql":
        return None
    from ._postgres import RunLock

    return await RunLock.take(template.url, "template", wait=True)


async def _copy(template: Target, target: Target, fingerprint: str) -> None:
    """``target`` becomes a copy of ``template``, marked with ``fingerprint``."""
    if backend_of(target.url) == "sqlite":
        await drop_database(target)
        Path(target.url.database or "").parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template.url.database or "", target.url.database or "")
        await store_fingerprint(target.url, fingerprint)
        return
    from ._postgres import clone

    await clone(template.url, target.url, comment=fingerprint_comment(fingerprint))
