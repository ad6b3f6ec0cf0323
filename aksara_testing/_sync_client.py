"""The sync test client: an ``httpx.Client`` over the ASGI app, on the run's event loop.

Sync tests call the app without ``await``, yet the app's async code (its
endpoints, its lifespan, the test database's async connection) belongs to
the run's one session loop. That loop is idle while a sync test runs, so each
request runs there to completion (``loop.run_until_complete``) through the
same ASGI transport as :class:`~aksara_testing.AksaraClient`; sync endpoints
run in anyio's thread pool, as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx

from ._client import AppTransport, AuthFunction, ClientAPI, Credentials, prepare, received
from .errors import AksaraError, ConfigurationError

if TYPE_CHECKING:
    from ._context import Run

__all__ = ["AksaraSyncClient", "new_sync_client", "run_on_session_loop", "sync_client"]

T = TypeVar("T")

_IN_ASYNC_CODE = (
    "the sync client was called from async code (an event loop is running in this thread); "
    "in async tests and fixtures use the async client: the client fixture, with "
    "await client.get(...)"
)
_NO_LOOP = (
    "the sync client runs the app on aksara's session event loop, and this run has none "
    "open: use it in a test or fixture of a project configured for aksara "
    "([tool.aksara] in pyproject.toml, with app = 'module:attr')"
)


class Runner(Protocol):
    """Runs a coroutine to completion from synchronous code and returns its result."""

    def __call__(self, coroutine: Coroutine[Any, Any, T], /) -> T: ...


def run_on_session_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on the pytest run's session loop, idle while sync code runs."""
    from ._context import current_run

    runtime = current_run()
    loop = runtime.loop if runtime is not None else None
    if loop is None or loop.is_closed():
        coroutine.close()
        raise ConfigurationError(_NO_LOOP)
    return loop.run_until_complete(coroutine)


class AksaraSyncClient(ClientAPI, httpx.Client):
    """A sync HTTP client for the app under test (base URL ``http://testserver``).

    The ``client`` fixture gives you one in plain ``def`` tests; for a client
    shared by a module, see :func:`sync_client`::

        def test_home(client):
            client.authenticate(user)          # every later request carries the token
            response = client.get("/api/me/")
            assert response.status_code == 200

    The same API as :class:`~aksara_testing.AksaraClient`, without ``await``:
    the lifespan starts at the first request and stops at ``close()``, app
    exceptions propagate unless ``raise_app_exceptions = False``. Requests run
    on the run's session loop, so the client cannot be used while that loop
    runs (in ``async def`` tests and fixtures).
    """

    def __init__(
        self,
        app: Any,
        *,
        auth_function: AuthFunction | None = None,
        raise_app_exceptions: bool = True,
        on_response: Callable[[httpx.Response], None] | None = None,
        base_url: str = "http://testserver",
        run: Runner | None = None,
        **kwargs: Any,
    ) -> None:
        self._app_transport = AppTransport(app, raise_app_exceptions)
        self._runner: Runner = run or run_on_session_loop
        transport = _LoopTransport(self._app_transport, self._run)
        super().__init__(transport=transport, base_url=base_url, **kwargs)
        self._credentials = Credentials(auth_function)
        self._on_response = on_response

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        self._run(prepare(self._app_transport, self._credentials, self, request))
        return received(super().send(request, **kwargs), self._on_response)

    def close(self) -> None:
        """Close the client and run the app's lifespan shutdown."""
        self.logout()
        super().close()  # closes the transport: the lifespan's shutdown

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if _in_async_code():
            coroutine.close()
            raise AksaraError(_IN_ASYNC_CODE)
        return self._runner(coroutine)


def _in_async_code() -> bool:
    """True where a loop runs in this thread: the session loop cannot run again inside it."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _LoopTransport(httpx.BaseTransport):
    """A sync transport that runs each request through ``app_transport`` on the loop."""

    def __init__(self, app_transport: AppTransport, run: Runner) -> None:
        self._app_transport = app_transport
        self._run = run

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # an iterator or multipart body, as bytes the ASGI transport can stream
        return self._run(self._handle(request))

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        response = await self._app_transport.handle_async_request(request)
        body = await response.aread()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(body),
            extensions=response.extensions,
        )

    def close(self) -> None:
        if self._app_transport.started:
            self._run(self._app_transport.aclose())


def new_sync_client(runtime: Run, app: Any) -> AksaraSyncClient:
    """A sync client for ``app`` (or an async factory's app), with the ``auth`` setting."""
    from ._apps import AppFactory

    if isinstance(app, AppFactory):  # an async create_app(): built on the session loop, once
        app = run_on_session_loop(app.build())
    return AksaraSyncClient(
        app,
        auth_function=runtime.auth_function(),  # type: ignore[arg-type]
        on_response=runtime.responses.append,
    )


@contextlib.contextmanager
def sync_client(app: Any = None) -> Iterator[AksaraSyncClient]:
    """A sync client over ``app`` (default: the ``app`` setting's), closed when the block ends.

    What the ``client`` fixture gives a sync test, for fixtures of a wider
    scope, in place of Starlette's ``TestClient``; ``authenticate()`` uses the
    ``auth`` setting, and a failing test shows the last response::

        @pytest.fixture(scope="module")
        def client(app):
            with sync_client(app) as client:
                yield client

    Use it from sync tests and fixtures only: requests run on the run's
    session loop, which must be idle.
    """
    from ._context import current_run

    runtime = current_run()
    if runtime is None:
        raise AksaraError(
            "sync_client() needs a pytest run with the aksara plugin; "
            "call it from a fixture or test, not at import time"
        )
    if _in_async_code():
        raise AksaraError(_IN_ASYNC_CODE)
    if runtime.loop is None:
        raise ConfigurationError(_NO_LOOP)
    if app is None:
        app = runtime.load_app()
    with new_sync_client(runtime, app) as client:
        yield client
