"""The test client: an ``httpx.AsyncClient`` over the ASGI app, in-process.

The app's lifespan starts on the first request (so creating a client is
free) and stops when the client closes. Requests reach the app through
httpx's ASGI transport; the app's database sessions already run on the test's
transaction layer, so what a request writes is rolled back with the test.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
from asgi_lifespan import LifespanManager

from .errors import ConfigurationError

if TYPE_CHECKING:
    import anyio

__all__ = [
    "AksaraClient",
    "AksaraResponse",
    "AppTransport",
    "AuthFunction",
    "Credentials",
    "describe_response",
    "prepare",
    "received",
]

AuthFunction = Callable[[Any], "str | dict[str, str] | Awaitable[str | dict[str, str]]"]
_BODY_LIMIT = 500


class AksaraResponse(httpx.Response):
    """An ``httpx.Response`` whose repr names the request and starts the body.

    So a failing ``assert response.status_code == 201`` reads
    ``<Response [404 Not Found] GET /api/posts/1/ {"detail":"no such post"}>``.
    """

    def __repr__(self) -> str:
        request = self.request
        body = " ".join(_body_text(self, 120).split())
        return (
            f"<Response [{self.status_code} {self.reason_phrase}] "
            f"{request.method} {request.url.raw_path.decode()} {body}>"
        ).replace(" >", ">")


def describe_response(response: httpx.Response) -> str:
    """Method, URL, status and the first 500 characters of the body, JSON pretty-printed."""
    request = response.request
    head = f"{request.method} {request.url} -> {response.status_code} {response.reason_phrase}"
    return f"{head}\n{_body_text(response, _BODY_LIMIT, pretty=True)}"


def _body_text(response: httpx.Response, limit: int, pretty: bool = False) -> str:
    try:
        content = response.content
    except httpx.ResponseNotRead:
        return "(body not read)"
    if not content:
        return ""
    text = content.decode(response.encoding or "utf-8", errors="replace")
    if "json" in response.headers.get("content-type", ""):
        try:
            parsed = json.loads(text)
        except ValueError:
            pass
        else:
            text = json.dumps(parsed, indent=2 if pretty else None, ensure_ascii=False)
    if len(text) > limit:
        text = text[:limit] + f"... ({len(content)} bytes)"
    return text


class AppTransport(httpx.AsyncBaseTransport):
    """httpx's ASGI transport over ``app``, with the app's lifespan around it.

    The lifespan starts at :meth:`start` (the clients call it before each
    request) and stops at :meth:`aclose`. Both run on the event loop that
    serves the requests: the lifespan's task lives there between them.
    Concurrent first requests (``asyncio.gather``) wait for one startup.
    """

    def __init__(self, app: Any, raise_app_exceptions: bool = True) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self._lifespan: LifespanManager | None = None
        self._starting: anyio.Lock | None = None

    @property
    def started(self) -> bool:
        return self._lifespan is not None

    async def start(self) -> None:
        """Run the app's lifespan startup, once."""
        if self._lifespan is not None:
            return
        if self._starting is None:
            import anyio  # the running loop's library (asyncio or trio)

            self._starting = anyio.Lock()
        async with self._starting:
            if self._lifespan is None:
                # Made here, not in __init__: it needs the running loop to pick its backend.
                lifespan = LifespanManager(self.app)
                await lifespan.__aenter__()
                self._lifespan = lifespan

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.start()
        assert self._lifespan is not None
        transport = httpx.ASGITransport(
            app=self._lifespan.app, raise_app_exceptions=self.raise_app_exceptions
        )
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        """Run the app's lifespan shutdown, if it started."""
        lifespan, self._lifespan = self._lifespan, None
        if lifespan is not None:
            await lifespan.__aexit__(None, None, None)


Client = httpx.Client | httpx.AsyncClient


class Credentials:
    """The headers ``authenticate(user)`` adds to a client, from the ``auth`` setting.

    Shared by both clients. An async auth function cannot be awaited where
    ``authenticate()`` is called (a plain call, in sync and async tests alike):
    its result is awaited before the next request, on the app's loop.
    """

    def __init__(self, auth_function: AuthFunction | None) -> None:
        self._function = auth_function
        self._headers: dict[str, str] = {}
        self._pending: Awaitable[str | dict[str, str]] | None = None

    def authenticate(self, client: Client, user: Any) -> None:
        if self._function is None:
            raise ConfigurationError(
                "authenticate() needs the auth setting: set auth = 'module:attr' in "
                "[tool.aksara], naming a function user -> token (or headers)"
            )
        self.logout(client)
        credentials = self._function(user)
        if inspect.isawaitable(credentials):
            self._pending = credentials
        else:
            self._use(client, credentials)

    def logout(self, client: Client) -> None:
        if self._pending is not None and inspect.iscoroutine(self._pending):
            self._pending.close()
        self._pending = None
        for name in self._headers:
            client.headers.pop(name, None)
        self._headers = {}

    async def settle(self, client: Client, request: httpx.Request) -> None:
        """Await an async auth function's credentials; ``request``, built before, gets them too."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._use(client, await pending)
            request.headers.update(self._headers)

    def _use(self, client: Client, credentials: str | dict[str, str]) -> None:
        if isinstance(credentials, str):
            headers = {"Authorization": f"Bearer {credentials}"}
        elif isinstance(credentials, dict):
            headers = {str(k): str(v) for k, v in credentials.items()}
        else:
            raise ConfigurationError(
                f"the auth function returned {type(credentials).__name__}; it must return "
                "a token string or a dict of headers"
            )
        self._headers = headers
        client.headers.update(headers)


async def prepare(
    transport: AppTransport, credentials: Credentials, client: Client, request: httpx.Request
) -> None:
    """Before a request: the app's lifespan started, then pending credentials settled."""
    await transport.start()
    await credentials.settle(client, request)


def received(
    response: httpx.Response, on_response: Callable[[httpx.Response], None] | None
) -> AksaraResponse:
    """``response`` as an :class:`AksaraResponse`, handed to the ``on_response`` hook."""
    response.__class__ = AksaraResponse
    if on_response is not None:
        on_response(response)
    return response  # type: ignore[return-value]


class ClientAPI:
    """What both clients add to httpx's: the app's exceptions switch, and credentials."""

    _app_transport: AppTransport
    _credentials: Credentials

    @property
    def raise_app_exceptions(self) -> bool:
        return self._app_transport.raise_app_exceptions

    @raise_app_exceptions.setter
    def raise_app_exceptions(self, value: bool) -> None:
        self._app_transport.raise_app_exceptions = value

    def authenticate(self, user: Any) -> None:
        """Send ``user``'s credentials (from the ``auth`` setting) with every later request."""
        self._credentials.authenticate(self, user)  # type: ignore[arg-type]

    def logout(self) -> None:
        """Stop sending credentials."""
        self._credentials.logout(self)  # type: ignore[arg-type]


class AksaraClient(ClientAPI, httpx.AsyncClient):
    """An async HTTP client for the app under test (base URL ``http://testserver``).

    The ``client`` fixture (in ``async def`` tests) and ``AksaraTestCase.client``
    give you one::

        async def test_home(client):
            client.authenticate(user)          # every later request carries the token
            response = await client.get("/api/me/")
            assert response.status_code == 200

    App exceptions propagate to the test; set ``raise_app_exceptions = False``
    to get the app's 500 response instead.
    """

    def __init__(
        self,
        app: Any,
        *,
        auth_function: AuthFunction | None = None,
        raise_app_exceptions: bool = True,
        on_response: Callable[[httpx.Response], None] | None = None,
        base_url: str = "http://testserver",
        **kwargs: Any,
    ) -> None:
        self._app_transport = AppTransport(app, raise_app_exceptions)
        super().__init__(transport=self._app_transport, base_url=base_url, **kwargs)
        self._credentials = Credentials(auth_function)
        self._on_response = on_response

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        await prepare(self._app_transport, self._credentials, self, request)
        return received(await super().send(request, **kwargs), self._on_response)

    async def aclose(self) -> None:
        """Close the client and run the app's lifespan shutdown."""
        self.logout()
        await super().aclose()  # closes the transport: the lifespan's shutdown
