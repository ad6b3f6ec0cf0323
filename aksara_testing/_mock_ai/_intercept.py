"""Route AI requests sent over httpx and httpx2 to the innermost active mock.

One class-level patch per stack: ``HTTPTransport.handle_request`` and
``AsyncHTTPTransport.handle_async_request`` of httpx (Ollama's client, older
SDKs, hand-written code) and of httpx2 (openai 3.x, anthropic 2.x). Every
client that sends through the standard transport is covered, including
clients built at import time, before any mock started. A request that is not
an AI call goes on to the real transport untouched (its body is not even
read).

Why not respx: respx installs a pytest plugin that imports respx, httpx and
httpcore at every pytest start-up (~130 ms), for every project that has it
installed; it needs pytest-httpx2, another auto-loading plugin, for httpx2;
and a pass-through route in a respx router would skip the test's own
routers. Patching the transport keeps ``import aksara_testing`` and the
plugin free of HTTP libraries, and sits above respx: a test's own respx
routes (at the httpcore level) still see every non-AI request.

The patches are process-wide, and so is the stack of active mocks: a request
sent from a worker thread must find the mock of the test that started it.
Once installed the patches stay; with no mock active they only check an
empty list.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from ._calls import endpoint_of
from ._net import current_hosts

if TYPE_CHECKING:
    from ._wire import Reply

__all__ = ["INTERCEPTOR", "Responder"]

_STACKS = ("httpx", "httpx2")


class Responder(Protocol):
    """What the interceptor asks: the reply to a request, or None when it is not an AI call."""

    def respond(
        self, method: str, url: str, path: str, host: str, port: int,
        headers: Mapping[str, str], content: bytes,
    ) -> Reply | None: ...  # fmt: skip


class Interceptor:
    """The stack of active mocks, and the transport patches that consult it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: list[Responder] = []
        self._wrappers: set[Callable[..., Any]] = set()

    def push(self, mock: Responder) -> None:
        with self._lock:
            self._install()
            self._active.append(mock)

    def pop(self, mock: Responder) -> None:
        with self._lock:
            if mock in self._active:
                self._active.remove(mock)

    def current(self) -> Responder | None:
        active = self._active
        return active[-1] if active else None

    def _install(self) -> None:
        for name in _STACKS:
            module = sys.modules.get(name)
            if module is None and importlib.util.find_spec(name) is not None:
                module = importlib.import_module(name)  # so a client made later is covered too
            if module is not None:
                self._patch(module, module.HTTPTransport, "handle_request", _sync_wrapper)
                self._patch(
                    module, module.AsyncHTTPTransport, "handle_async_request", _async_wrapper
                )

    def _patch(
        self,
        module: ModuleType,
        cls: type,
        method: str,
        wrap: Callable[[ModuleType, Callable[..., Any]], Callable[..., Any]],
    ) -> None:
        original = cls.__dict__[method]
        if original not in self._wrappers:
            wrapper = wrap(module, original)
            self._wrappers.add(wrapper)
            setattr(cls, method, wrapper)


INTERCEPTOR = Interceptor()


def _port(url: Any) -> int:
    return int(url.port or (443 if url.scheme == "https" else 80))


def _is_candidate(request: Any) -> bool:
    """Cheap test before the body is read: an AI endpoint's path, or an AI host."""
    url = request.url
    if endpoint_of(request.method, url.path) is not None:
        return True
    return (url.host, _port(url)) in current_hosts()


def _response(module: ModuleType, mock: Responder, request: Any, content: bytes) -> Any:
    url = request.url
    reply = mock.respond(
        request.method, str(url), url.path, url.host, _port(url), request.headers, content
    )
    if reply is None:
        return None
    return module.Response(
        reply.status, headers=dict(reply.headers), content=reply.body, request=request
    )


def _sync_wrapper(module: ModuleType, original: Callable[..., Any]) -> Callable[..., Any]:
    def handle_request(self: Any, request: Any) -> Any:
        mock = INTERCEPTOR.current()
        if mock is not None and _is_candidate(request):
            response = _response(module, mock, request, request.read())
            if response is not None:
                return response
        return original(self, request)

    return handle_request


def _async_wrapper(module: ModuleType, original: Callable[..., Any]) -> Callable[..., Any]:
    async def handle_async_request(self: Any, request: Any) -> Any:
        mock = INTERCEPTOR.current()
        if mock is not None and _is_candidate(request):
            response = _response(module, mock, request, await request.aread())
            if response is not None:
                return response
        return await original(self, request)

    return handle_async_request
