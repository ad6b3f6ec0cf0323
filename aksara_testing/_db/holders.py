"""Who holds a run lock, and whether that run died on this machine.

A run killed with ``kill -9`` leaves its lock to the server, which ends the
dead client's session once it reads the closed socket: in moments, but a run
started right after (a rerun, a script) may still find the lock held, all the
more on a loaded machine. A holder that connected from this machine and whose
process is gone is waited for, briefly, instead of being reported as another run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from .diagnostics import CONNECT_TIMEOUT
from .guard import ADMIN_APPLICATION

__all__ = ["DEAD_HOLDER_WAIT", "died_here", "holder_of"]


# How long after it began connecting a run waits for a dead holder's lock to go:
# within the first connection's time limit (``connect_first``), which the whole
# lock taking runs under, with half a second left to name the holder.
DEAD_HOLDER_WAIT = CONNECT_TIMEOUT - 0.5


async def holder_of(connection: Any, name: str) -> tuple[str, Any] | None:
    """(application name, client address) of the run holding ``name``'s lock, if it is seen."""
    row = (
        await connection.execute(
            text(
                "SELECT application_name, client_addr FROM pg_stat_activity "
                "WHERE application_name LIKE :prefix AND pid <> pg_backend_pid() LIMIT 1"
            ),
            {"prefix": f"{ADMIN_APPLICATION}: {name} pid %"},
        )
    ).first()
    return None if row is None else (str(row[0]), row[1])


def died_here(label: str, client_address: Any) -> bool:
    """True when the holder connected from this machine and its process no longer exists.

    ``label`` is the holder's application name (``aksara admin: NAME pid N ...``);
    a unix socket (no address) or a loopback address means this machine.
    """
    import ipaddress
    import os
    import re

    if client_address is not None:
        try:
            if not ipaddress.ip_address(str(client_address)).is_loopback:
                return False
        except ValueError:
            return False
    found = re.search(r" pid (\d+)", label)
    if found is None:
        return False
    try:
        os.kill(int(found.group(1)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):  # alive, someone else's; not a pid
        return False
    return False
