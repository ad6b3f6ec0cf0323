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
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from .errors import ConfigurationError

__all__ = ["AksaraClient", "AksaraResponse", "describe_response"]

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


class AksaraClient(httpx.AsyncClient):
    """An async HTTP client for the app under test (base URL ``http://testserver``).

    The ``client`` fixture and ``AksaraTestCase.client`` give you one::

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
        self._lifespan = LifespanManager(app)
        self._transport_ = httpx.ASGITransport(
            app=self._lifespan.app, raise_app_exceptions=raise_app_exceptions
        )
        super().__init__(transport=self._transport_, base_url=base_url, **kwargs)
        self._started = False
        self._auth_function = auth_function
        self._auth_headers: dict[str, str] = {}
        self._pending_auth: Awaitable[str | dict[str, str]] | None = None
        self._on_response = on_response

    @property
    def raise_app_exceptions(self) -> bool:
        return self._transport_.raise_app_exceptions

    @raise_app_exceptions.setter
    def raise_app_exceptions(self, value: bool) -> None:
        self._transport_.raise_app_exceptions = value

    def authenticate(self, user: Any) -> None:
        """Send ``user``'s credentials (from the ``auth`` setting) with every later request."""
        if self._auth_function is None:
            raise ConfigurationError(
                "authenticate() needs the auth setting: set auth = 'module:attr' in "
                "[tool.aksara], naming a function user -> token (or headers)"
            )
        self.logout()
        credentials = self._auth_function(user)
        if inspect.isawaitable(credentials):
            self._pending_auth = credentials  # awaited before the next request
        else:
            self._use_credentials(credentials)

    def logout(self) -> None:
        """Stop sending credentials."""
        if self._pending_auth is not None and inspect.iscoroutine(self._pending_auth):
            self._pending_auth.close()
        self._pending_auth = None
        for name in self._auth_headers:
            self.headers.pop(name, None)
        self._auth_headers = {}

    def _use_credentials(self, credentials: str | dict[str, str]) -> None:
        if isinstance(credentials, str):
            headers = {"Authorization": f"Bearer {credentials}"}
        elif isinstance(credentials, dict):
            headers = {str(k): str(v) for k, v in credentials.items()}
        else:
            raise ConfigurationError(
                f"the auth function returned {type(credentials).__name__}; it must return "
                "a token string or a dict of headers"
            )
        self._auth_headers = headers
        self.headers.update(headers)

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        if not self._started:
            await self._lifespan.__aenter__()
            self._started = True
        if self._pending_auth is not None:
            pending, self._pending_auth = self._pending_auth, None
            self._use_credentials(await pending)
            request.headers.update(self._auth_headers)
        response = await super().send(request, **kwargs)
        response.__class__ = AksaraResponse
        if self._on_response is not None:
            self._on_response(response)
        return response

    async def aclose(self) -> None:
        """Close the client and run the app's lifespan shutdown."""
        self.logout()
        await super().aclose()
        if self._started:
            self._started = False
            await self._lifespan.__aexit__(None, None, None)
