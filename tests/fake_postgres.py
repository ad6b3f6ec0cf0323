"""Servers on 127.0.0.1 that fail the way real PostgreSQL servers do, for the diagnostics tests.

They speak just enough of PostgreSQL's wire protocol (version 3) to make the
driver raise what a real server makes it raise, with the messages in German:
aksara must tell failures apart by SQLSTATE, never by the server's words.

- :func:`rejecting` answers every connection with one error (``28000``,
  ``3D000``, ...), as a server without that role or database does;
- :func:`silent` accepts connections and never answers (a black-holed host);
- :func:`without_createdb` forwards everything to a real server but refuses
  ``CREATE DATABASE`` with ``42501``, as for a role without CREATEDB.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator

__all__ = ["free_port", "rejecting", "silent", "without_createdb"]

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


def free_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def error_response(sqlstate: str, message: str) -> bytes:
    fields = b"".join(
        code + value.encode() + b"\0"
        for code, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!i", len(body) + 4) + body


@contextlib.contextmanager
def rejecting(sqlstate: str, message: str) -> Iterator[int]:
    """A server that answers every login with ``sqlstate``; yields its port."""

    def serve(client: socket.socket) -> None:
        _read_startup(client)
        client.sendall(error_response(sqlstate, message))

    with _listening(serve) as port:
        yield port


@contextlib.contextmanager
def silent() -> Iterator[int]:
    """A server that accepts connections and never says a word; yields its port."""
    stop = threading.Event()

    with _listening(lambda client: stop.wait(60)) as port:
        try:
            yield port
        finally:
            stop.set()


@contextlib.contextmanager
def without_createdb(server_port: int) -> Iterator[int]:
    """A proxy to the real server at ``server_port`` that refuses ``CREATE DATABASE``."""

    def serve(client: socket.socket) -> None:
        startup = _read_startup(client)
        with socket.create_connection(("127.0.0.1", server_port)) as upstream:
            upstream.sendall(startup)
            threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
            _forward_refusing_createdb(client, upstream)

    with _listening(serve) as port:
        yield port


def _forward_refusing_createdb(client: socket.socket, upstream: socket.socket) -> None:
    """Forward the client's messages; answer a ``CREATE DATABASE`` statement with 42501.

    As a server does: the error goes out at the first Flush or Sync after the
    statement, the messages up to the Sync are dropped, and the Sync gets
    ReadyForQuery (idle: the admin connection is in autocommit).
    """
    state = "forwarding"
    while True:
        header = _read_exactly(client, 5)
        if not header:
            return
        kind, length = header[:1], struct.unpack("!i", header[1:])[0]
        body = _read_exactly(client, length - 4)
        if kind in (b"P", b"Q") and b"CREATE DATABASE" in body.upper():
            state = "refusing"
        if state == "forwarding":
            upstream.sendall(header + body)
            continue
        if state == "refusing" and (kind in (b"H", b"S", b"Q")):
            client.sendall(error_response("42501", "keine Berechtigung, um Datenbank zu erzeugen"))
            state = "refused"
        if kind in (b"S", b"Q"):
            client.sendall(b"Z\0\0\0\x05I")
            state = "forwarding"


def _pump(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


def _read_startup(client: socket.socket) -> bytes:
    """The client's startup message, after declining SSL and GSS encryption."""
    while True:
        header = _read_exactly(client, 8)
        length, code = struct.unpack("!ii", header)
        if code in (_SSL_REQUEST, _GSSENC_REQUEST):
            client.sendall(b"N")
            continue
        return header + _read_exactly(client, length - 8)


def _read_exactly(client: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = client.recv(size - len(data))
        if not chunk:
            return data
        data += chunk
    return data


@contextlib.contextmanager
def _listening(serve: Callable[[socket.socket], None]) -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port: int = listener.getsockname()[1]

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = listener.accept()
                threading.Thread(target=_serve_one, args=(serve, client), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield port
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        listener.close()


def _serve_one(serve: Callable[[socket.socket], None], client: socket.socket) -> None:
    with client, contextlib.suppress(OSError):
        serve(client)
