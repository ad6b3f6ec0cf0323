"""Counting what a test sends its database: shared by ``run.py`` and ``sync_run.py``.

Two halves:

- **In the harness** (PostgreSQL): :class:`PostgresProxy`, a TCP proxy in the
  harness process that the generated projects connect through. It reads the
  client's protocol messages: a *round trip* is a simple ``Query`` or a
  ``Sync`` (each waits for the server's ``ReadyForQuery``); a *statement* is
  each statement of a simple query and each ``Execute``. So a prepared
  statement that misses the driver's cache costs two round trips (Parse +
  Describe + Sync, then Bind + Execute + Sync), a cached one one.
- **In the test process** (SQLite): this file, copied into the project and
  loaded with ``-p _wire`` while ``$BENCH_COUNT_FILE`` is set, counts every
  statement the SQLite library runs (``set_trace_callback`` on each
  connection a SQLAlchemy pool opens: pysqlite, aiosqlite and aksara's
  loop-thread aiosqlite alike, so statements sent straight to the driver are
  counted too) and writes them as JSON when pytest ends. SQLite has no round
  trips: it runs in the test process.

Per test = (count with K tests - count with 1 test)/(K - 1), which cancels
start-up, schema and test-database work (:func:`per_test`).

At import this module uses the standard library and pytest only (it is a
pytest plugin of the generated projects); SQLAlchemy is imported where it is
needed. The test process also counts its Python function calls (``sys.setprofile``
around each test's run protocol): a figure the machine's load does not move.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "COUNT_FILE_ENV",
    "KINDS",
    "PLUGIN_FILE",
    "Counts",
    "PostgresProxy",
    "Sample",
    "kind",
    "maybe_proxy",
    "per_test",
    "proxied_url",
    "read_sqlite_counts",
    "sqlite_plugin",
]

PLUGIN_FILE = Path(__file__)  # copied into a project as its counting plugin
COUNT_FILE_ENV = "BENCH_COUNT_FILE"
KINDS = (
    "ROLLBACK TO SAVEPOINT",
    "RELEASE SAVEPOINT",
    "SAVEPOINT",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "INSERT",
    "SELECT",
    "UPDATE",
    "DELETE",
)


def kind(sql: str) -> str:
    """``SAVEPOINT``, ``INSERT``...: what one statement is."""
    words = " ".join(sql.split()).upper()
    for known in KINDS:
        if words.startswith(known):
            return known
    return words.split(" ", 1)[0] if words else ""


# --------------------------------------------------------------------------
# Test process: SQLite (pytest plugin, ``-p _wire``)
# --------------------------------------------------------------------------

COUNTS: Counter[str] = Counter()
_LOCK = threading.Lock()  # aiosqlite traces on its worker thread


def _trace(sql: str) -> None:
    found = kind(sql)
    if found:
        with _LOCK:
            COUNTS[found] += 1


def _trace_connection(dbapi_connection: Any) -> None:
    """Trace the sqlite3 connection behind ``dbapi_connection``, whatever wraps it."""
    if isinstance(dbapi_connection, sqlite3.Connection):  # pysqlite
        dbapi_connection.set_trace_callback(_trace)
        return
    aio = getattr(dbapi_connection, "_connection", None)  # SQLAlchemy's aiosqlite adapter
    inline = getattr(aio, "sqlite3_connection", None)  # aksara's loop-thread aiosqlite
    if isinstance(inline, sqlite3.Connection):
        inline.set_trace_callback(_trace)
    elif type(aio).__module__.startswith("aiosqlite"):  # aiosqlite: on its worker thread
        from sqlalchemy.util import await_only

        await_only(aio._execute(lambda: aio._conn.set_trace_callback(_trace)))


def _install() -> None:
    if not os.environ.get(COUNT_FILE_ENV):
        return
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    @event.listens_for(Pool, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        _trace_connection(dbapi_connection)


_install()


CALLS = "Python calls"  # a pseudo-kind: function calls while tests run (load-independent)


def _count_call(_frame: Any, event: str, _arg: Any) -> None:
    if event in ("call", "c_call"):
        COUNTS[CALLS] += 1


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: Any, nextitem: Any) -> Iterator[object]:
    """Count the Python function calls (and C calls) of each test's whole run protocol."""
    counting = bool(os.environ.get(COUNT_FILE_ENV))
    if counting:
        sys.setprofile(_count_call)
    try:
        return (yield)
    finally:
        if counting:
            sys.setprofile(None)


def pytest_unconfigure(config: Any) -> None:
    path = os.environ.get(COUNT_FILE_ENV)
    if path:
        with open(path, "w") as out, _LOCK:
            json.dump(dict(COUNTS), out)


# --------------------------------------------------------------------------
# Harness: what to give a project, and the per-test arithmetic
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """What one run sent: round trips (None: SQLite, in-process) and statements by kind.

    ``statements`` also holds the test process's Python calls (:data:`CALLS`), when counted.
    """

    round_trips: int | None
    statements: Counter[str]


@dataclass
class Counts:
    statements: dict[str, float]  # per test, by kind
    round_trips: float | None  # per test (PostgreSQL); None: in-process (SQLite)
    calls: float | None = None  # Python function calls per test in the test process

    @property
    def total(self) -> float:
        return sum(self.statements.values())

    def trips(self) -> str:
        return _num(self.round_trips) if self.round_trips is not None else "in-process"

    def describe(self) -> str:
        order = [*KINDS, *sorted(set(self.statements) - set(KINDS))]
        parts = [
            f"{_num(self.statements[k])} {k}"
            for k in order
            if k in self.statements and abs(self.statements[k]) > 0.01
        ]
        return ", ".join(parts)


def _num(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 else f"{x:.2f}"


def per_test(one: Sample, many: Sample, k: int) -> Counts:
    """Per-test counts from a 1-test run and a K-test run of the same project."""
    keys = set(one.statements) | set(many.statements)
    kinds = {key: (many.statements[key] - one.statements[key]) / (k - 1) for key in keys}
    trips = None
    if one.round_trips is not None and many.round_trips is not None:
        trips = (many.round_trips - one.round_trips) / (k - 1)
    calls = kinds.pop(CALLS, None)
    return Counts({key: v for key, v in kinds.items() if abs(v) > 0.01}, trips, calls)


def sqlite_plugin(project: Path) -> tuple[list[str], dict[str, str]]:
    """Copy the counting plugin into ``project``; the pytest arguments and environment to add."""
    (project / "_wire.py").write_text(PLUGIN_FILE.read_text())
    out = project / "counts.json"
    return ["-p", "_wire"], {COUNT_FILE_ENV: str(out), "PYTHONPATH": str(project)}


def read_sqlite_counts(project: Path, round_trips: int | None = None) -> Sample:
    """What the plugin counted in ``project``'s run (SQLite statements, Python calls)."""
    return Sample(round_trips, Counter(json.loads((project / "counts.json").read_text())))


def proxied_url(url: str, port: int) -> str:
    """``url`` (a PostgreSQL URL) through the proxy on ``port``."""
    from sqlalchemy.engine import make_url

    proxied = make_url(url).set(host="127.0.0.1", port=port)
    return proxied.render_as_string(hide_password=False)


# --------------------------------------------------------------------------
# Harness: PostgreSQL's counting proxy
# --------------------------------------------------------------------------

_STARTUP_CODES = {80877103, 80877104}  # SSLRequest, GSSENCRequest: the server answers 'N'


class _ClientStream:
    """Parses what a client sends a PostgreSQL server and counts it in ``proxy``."""

    def __init__(self, proxy: PostgresProxy) -> None:
        self.proxy = proxy
        self.buffer = b""
        self.started = False
        self.statements: dict[bytes, str] = {}  # prepared statement name -> SQL
        self.portals: dict[bytes, str] = {}

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if not self.started:
                if len(self.buffer) < 8:
                    return
                (length,) = struct.unpack("!I", self.buffer[:4])
                if len(self.buffer) < length:
                    return
                (code,) = struct.unpack("!I", self.buffer[4:8])
                self.buffer = self.buffer[length:]
                self.started = code not in _STARTUP_CODES
                continue
            if len(self.buffer) < 5:
                return
            (length,) = struct.unpack("!I", self.buffer[1:5])
            if len(self.buffer) < length + 1:
                return
            tag, body = self.buffer[:1], self.buffer[5 : length + 1]
            self.buffer = self.buffer[length + 1 :]
            self.message(tag, body)

    def message(self, tag: bytes, body: bytes) -> None:
        if tag == b"Q":
            self.proxy.count_round_trip()
            for sql in body.rstrip(b"\0").decode(errors="replace").split(";"):
                self.proxy.count_statement(sql)
        elif tag == b"P":
            name, rest = body.split(b"\0", 1)
            self.statements[name] = rest.split(b"\0", 1)[0].decode(errors="replace")
        elif tag == b"B":
            portal, statement, _ = body.split(b"\0", 2)
            self.portals[portal] = self.statements.get(statement, "?")
        elif tag == b"E":
            portal = body.split(b"\0", 1)[0]
            self.proxy.count_statement(self.portals.get(portal, "?"))
        elif tag == b"S":
            self.proxy.count_round_trip()


class PostgresProxy:
    """A TCP proxy to the PostgreSQL server that counts round trips and statements."""

    def __init__(self, server_url: str) -> None:
        from sqlalchemy.engine import make_url

        url = make_url(server_url)
        self.upstream = (url.host or "127.0.0.1", url.port or 5432)
        self.lock = threading.Lock()
        self.round_trips = 0
        self.kinds: Counter[str] = Counter()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def count_round_trip(self) -> None:
        with self.lock:
            self.round_trips += 1

    def count_statement(self, sql: str) -> None:
        found = kind(sql)
        if found:
            with self.lock:
                self.kinds[found] += 1

    def snapshot(self) -> Sample:
        with self.lock:
            return Sample(self.round_trips, Counter(self.kinds))

    def measure(self, run: Callable[[], object], project: Path | None = None) -> Sample:
        """What ``run()`` (a whole project run through this proxy) sent.

        With ``project``, the run also loaded the plugin: its Python calls are added.
        """
        before = self.snapshot()
        run()
        time.sleep(0.2)  # the proxy's threads see the last messages
        after = self.snapshot()
        assert before.round_trips is not None and after.round_trips is not None
        statements = after.statements - before.statements
        if project is not None:
            statements[CALLS] = read_sqlite_counts(project).statements[CALLS]
        return Sample(after.round_trips - before.round_trips, statements)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            stream = _ClientStream(self)
            threading.Thread(target=self._pump, args=(client, server, stream), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, stream: _ClientStream | None) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if stream is not None:
                    stream.feed(data)
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


@contextlib.contextmanager
def maybe_proxy(server_url: str | None) -> Iterator[PostgresProxy | None]:
    """A counting proxy to ``server_url`` while inside (None for SQLite)."""
    if server_url is None:
        yield None
        return
    proxy = PostgresProxy(server_url)
    try:
        yield proxy
    finally:
        proxy.close()
