"""Another run's lock on a test database name, held from the test process (PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def lock_held_by(server_url: str, name: str, pid: int, *, release: bool = False) -> Iterator[str]:
    """``name``'s run lock, as ``RunLock`` takes it, on a connection labelled as process ``pid``'s.

    With ``release``, let go one second after a run's own lock connection shows
    up on the server (it has found the lock taken by then), as the server ends a
    dead client's connection; otherwise when the block ends. Yields the label.
    """
    import asyncpg

    label = f"aksara admin: {name} pid {pid} /elsewhere"  # short: the server keeps 63 bytes
    ready, done = threading.Event(), threading.Event()

    async def hold() -> None:
        connection = await asyncpg.connect(server_url, server_settings={"application_name": label})
        await connection.execute("SELECT pg_advisory_lock(hashtext($1))", f"aksara:{name}")
        ready.set()
        while release and not done.is_set():
            others = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name LIKE $1 AND application_name <> $2",
                f"aksara admin: {name} pid %",
                label,
            )
            if others:
                await asyncio.sleep(1.0)
                break
            await asyncio.sleep(0.01)
        else:
            await asyncio.to_thread(done.wait)
        await connection.close()

    thread = threading.Thread(target=asyncio.run, args=(hold(),))
    thread.start()
    try:
        assert ready.wait(30), "the lock was never taken"
        yield label
    finally:
        done.set()
        thread.join(30)
