"""Route AI requests sent over httpx and httpx2 to the innermost active mock.

respx does the interception for both stacks: its ``httpcore`` mocker for
httpx 0.28 (Ollama's client, older SDKs, hand-written code) and an
``httpcore2`` mocker for httpx2 (openai 3.x, anthropic 2.x). Both patch the
connection pool classes, so clients built before the mock started, even at
import time, are intercepted. The ``httpcore2`` mocker is the one
pytest-httpx2 registers when that plugin is installed, else the same dozen
lines defined here (respx does the rest).

There is one pair of routers for the whole process, started while at least
one mock is active: the patches are process-wide, so their owner is too.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Protocol

from ..errors import AksaraError

try:
    import httpx
    import respx
    from respx.mocks import HTTPCoreMocker, Mocker
    from respx.models import AllMockedAssertionError
except ImportError as exc:  # pragma: no cover - respx is a dependency; a broken install
    raise AksaraError(
        f"mock_ai needs respx, which aksara-testing depends on ({exc}); "
        "install it with: pip install respx"
    ) from None

if TYPE_CHECKING:
    from ._wire import Reply

__all__ = ["INTERCEPTOR", "Responder"]


class Responder(Protocol):
    """What the interceptor asks: the reply to a request, or None when it is not an AI call."""

    def respond(
        self, method: str, url: str, path: str, host: str, port: int, headers: httpx.Headers,
        content: bytes,
    ) -> Reply | None: ...  # fmt: skip


def _httpcore2_mocker() -> str | None:
    """The name of respx's httpcore2 mocker, registering it if need be; None without httpx2."""
    if importlib.util.find_spec("httpcore2") is None:
        return None
    if "httpcore2" not in Mocker.registry:
        try:
            # pytest-httpx2 registers the same mocker; defining a second would clash.
            import pytest_httpx2  # type: ignore[import-not-found]  # noqa: F401
        except ImportError:

            class HTTPCore2Mocker(HTTPCoreMocker):
                name = "httpcore2"
                targets: ClassVar[list[str]] = [
                    "httpcore2._sync.connection.HTTPConnection",
                    "httpcore2._sync.connection_pool.ConnectionPool",
                    "httpcore2._sync.http_proxy.HTTPProxy",
                    "httpcore2._async.connection.AsyncHTTPConnection",
                    "httpcore2._async.connection_pool.AsyncConnectionPool",
                    "httpcore2._async.http_proxy.AsyncHTTPProxy",
                ]

    return "httpcore2"


class Interceptor:
    """Starts the respx routers with the first active mock and stops them with the last."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: list[Responder] = []
        self._routers: list[respx.MockRouter] | None = None

    def push(self, mock: Responder) -> None:
        with self._lock:
            if self._routers is None:
                self._routers = self._make_routers()
            if not self._active:
                for router in self._routers:
                    router.start()
            self._active.append(mock)

    def pop(self, mock: Responder) -> None:
        with self._lock:
            if mock in self._active:
                self._active.remove(mock)
            if not self._active and self._routers is not None:
                for router in self._routers:
                    router.stop(quiet=True)

    def _make_routers(self) -> list[respx.MockRouter]:
        routers = []
        for using in ("httpcore", _httpcore2_mocker()):
            if using is None:
                continue
            router = respx.MockRouter(using=using, assert_all_called=False)
            router.route().mock(side_effect=self._side_effect(router))
            routers.append(router)
        return routers

    def _side_effect(
        self, router: respx.MockRouter
    ) -> Callable[[httpx.Request], httpx.Response | httpx.Request]:
        def answer(request: httpx.Request) -> httpx.Response | httpx.Request:
            active = self._active
            mock = active[-1] if active else None
            url = request.url
            reply = None
            if mock is not None:
                reply = mock.respond(
                    request.method, str(url), url.path, url.host,
                    url.port or (443 if url.scheme == "https" else 80),
                    request.headers, request.content,
                )  # fmt: skip
            if reply is not None:
                return httpx.Response(
                    reply.status, headers=reply.headers, content=reply.body, request=request
                )
            mocker = router.Mocker
            if mocker is not None and any(other is not router for other in mocker.routers):
                # Let the test's own respx routers decide (respx tries each in turn).
                raise AllMockedAssertionError(f"RESPX: {request!r} not mocked!")
            return request  # not an AI call: let it through

        return answer


INTERCEPTOR = Interceptor()
