"""The run's one event loop, and anyio's tests on it.

The test database's connection (asyncpg's above all) belongs to the loop that
opened it, so every test and fixture that reaches the database must run on one
loop: pytest-asyncio's session loop. pytest-asyncio puts its tests there (the
plugin fills its loop scopes with ``session``); anyio's pytest plugin runs
``@pytest.mark.anyio`` tests and their async fixtures on a runner of its own.
For the session, :class:`SessionLoop` answers anyio's request for an asyncio
runner with one on the session loop instead.

Private APIs relied on (both looked up when used, so a change shows as a clear
error or as anyio running on its own loop, never as a crash at start-up):

- pytest-asyncio's ``_session_scoped_runner`` fixture, an ``asyncio.Runner``
  (pytest-asyncio 1.1 and later);
- anyio's ``anyio.pytest_plugin.get_runner(backend_name, backend_options)``,
  a context manager its hooks look up at every call (anyio 4).

Public, but by design rather than documented: pytest-asyncio's items subclass
``pytest.Function``, so ``pytest.Function.runtest`` runs one as plain pytest
would (see :func:`run_by_anyio`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterable, Iterator
from types import ModuleType
from typing import Any, TypeVar

import pytest

from ._asyncio_options import active_plugin
from .errors import AksaraError, ConfigurationError

__all__ = ["SessionLoop", "check_anyio_backend", "run_by_anyio"]

T = TypeVar("T")
_RUNNER_FIXTURE = "_session_scoped_runner"  # pytest-asyncio's
_GET_RUNNER = "get_runner"  # anyio.pytest_plugin's
# pytest's skip/fail/xfail/exit exceptions: not Exceptions, yet a test's normal outcomes.
_OUTCOMES = (
    pytest.skip.Exception,
    pytest.fail.Exception,
    pytest.xfail.Exception,
    pytest.exit.Exception,
)


class SessionLoop:
    """pytest-asyncio's session loop, lent to anyio for the rest of the run."""

    def __init__(self, runner: asyncio.Runner) -> None:
        self._runner = runner
        self.anyio_runner = AnyioRunner(runner.get_loop())
        self._anyio_plugin: ModuleType | None = None
        self._original: Callable[..., Any] | None = None

    @classmethod
    def open(cls, request: pytest.FixtureRequest) -> SessionLoop:
        """The session loop of this run; from here on anyio's asyncio tests run on it."""
        try:
            runner = request.getfixturevalue(_RUNNER_FIXTURE)
        except pytest.FixtureLookupError:
            raise ConfigurationError(
                "aksara-testing runs on pytest-asyncio's session loop and this run has none "
                "(pytest-asyncio disabled with -p no:asyncio, or older than 1.1); enable it, "
                "or upgrade it: pip install 'pytest-asyncio>=1.1'"
            ) from None
        loop = cls(runner)
        loop._lend_to_anyio(active_plugin(request.config, "anyio.pytest_plugin"))
        return loop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the session loop, from synchronous code."""
        return self._runner.run(coroutine)

    def close(self) -> None:
        """Give anyio its own runners back and end the task that ran its tests."""
        plugin = self._anyio_plugin
        if plugin is not None and getattr(plugin, _GET_RUNNER, None) == self._get_runner:
            setattr(plugin, _GET_RUNNER, self._original)
        self.anyio_runner.close()

    def _lend_to_anyio(self, plugin: ModuleType | None) -> None:
        original = getattr(plugin, _GET_RUNNER, None)
        if plugin is not None and callable(original):
            self._anyio_plugin, self._original = plugin, original
            setattr(plugin, _GET_RUNNER, self._get_runner)

    @contextlib.contextmanager
    def _get_runner(self, backend_name: str, backend_options: Any) -> Iterator[Any]:
        if backend_name == "asyncio" and not backend_options:
            yield self.anyio_runner
            return
        # trio, or asyncio with options (a loop factory, uvloop, debug): anyio's own runner.
        assert self._original is not None
        with self._original(backend_name, backend_options) as runner:
            yield runner


class AnyioRunner:
    """anyio's asyncio test runner contract (``anyio.abc.TestRunner``), on a given loop.

    As in anyio's own runner, one task runs every fixture and test, one after the
    other, so a task group or cancel scope opened in a fixture closes in the same
    task at teardown, and context variables set by a fixture reach the test.
    Exceptions raised in callbacks while a test runs fail that test.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._inbox: asyncio.Queue[_Call | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._errors: list[BaseException] = []

    def __enter__(self) -> AnyioRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None  # open for the whole session; SessionLoop.close ends it

    def is_running(self) -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    def run_fixture(
        self, fixture_func: Callable[..., Coroutine[Any, Any, T]], kwargs: dict[str, Any]
    ) -> T:
        result: T = self._call(fixture_func, **kwargs)
        return result

    def run_asyncgen_fixture(
        self, fixture_func: Callable[..., AsyncGenerator[T, Any]], kwargs: dict[str, Any]
    ) -> Iterable[T]:
        generator = fixture_func(**kwargs)
        yield self._call(generator.asend, None)
        try:
            self._call(generator.asend, None)
        except StopAsyncIteration:
            return
        self._loop.run_until_complete(generator.aclose())
        raise RuntimeError("Async generator fixture did not stop")

    def run_test(
        self, test_func: Callable[..., Coroutine[Any, Any, Any]], kwargs: dict[str, Any]
    ) -> None:
        self._call(test_func, **kwargs)

    def close(self) -> None:
        """End the task (once its queue is empty); the loop itself stays pytest-asyncio's."""
        task, inbox = self._task, self._inbox
        self._task = self._inbox = None
        if task is None or inbox is None or task.done() or self._loop.is_closed():
            return
        inbox.put_nowait(None)
        self._loop.run_until_complete(task)

    def _call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._task is None or self._inbox is None or self._task.done():
            self._inbox = asyncio.Queue()
            self._task = self._loop.create_task(_serve(self._inbox))
        future: asyncio.Future[Any] = self._loop.create_future()
        self._inbox.put_nowait(_Call(func, args, kwargs, future))
        handler = self._loop.get_exception_handler()
        self._loop.set_exception_handler(self._collect)
        try:
            result = self._loop.run_until_complete(future)
        except BaseException as exc:
            if not isinstance(exc, (Exception, *_OUTCOMES)):  # Ctrl-C: stop the test
                self._stop()
            raise
        finally:
            self._loop.set_exception_handler(handler)
        self._raise_collected()
        return result

    def _stop(self) -> None:
        task, self._task, self._inbox = self._task, None, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                self._loop.run_until_complete(task)

    def _collect(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), Exception):
            self._errors.append(context["exception"])
        else:
            loop.default_exception_handler(context)

    def _raise_collected(self) -> None:
        errors, self._errors = self._errors, []
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise BaseExceptionGroup(
                "Multiple exceptions occurred in asynchronous callbacks", errors
            )


class _Call:
    __slots__ = ("args", "func", "future", "kwargs")

    def __init__(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        future: asyncio.Future[Any],
    ) -> None:
        self.func, self.args, self.kwargs, self.future = func, args, kwargs, future


async def _serve(inbox: asyncio.Queue[_Call | None]) -> None:
    """The one task every anyio fixture and test runs in, as in anyio's own runner."""
    while (call := await inbox.get()) is not None:
        try:
            result = await call.func(*call.args, **call.kwargs)
        except asyncio.CancelledError:
            if not call.future.done():
                call.future.cancel()
            raise
        except BaseException as exc:
            if not call.future.done():
                call.future.set_exception(exc)
            if not isinstance(exc, (Exception, *_OUTCOMES)):
                raise
        else:
            if not call.future.done():
                call.future.set_result(result)


def check_anyio_backend(item: pytest.Item, backend: Any) -> None:
    """Stop a test that would use aksara's database away from the session loop.

    A ``trio`` variant of a parametrized ``anyio_backend`` is skipped (its
    ``asyncio`` variant runs the test); a test whose only backend is another
    one fails, as does one whose asyncio backend asks for a loop of its own.
    """
    options: Any
    if isinstance(backend, str):
        name, options = backend, {}
    elif isinstance(backend, tuple) and len(backend) == 2:
        name, options = backend
    else:
        return  # anyio rejects a malformed anyio_backend itself
    if name == "asyncio" and not options:
        return
    if name == "asyncio":
        pytest.fail(
            f"aksara: {item.nodeid} gives anyio_backend options ({options!r}) that ask for a "
            "loop of its own, but aksara's database fixtures run on the run's one asyncio loop; "
            "return plain 'asyncio' from the anyio_backend fixture",
            pytrace=False,
        )
    reason = (
        f"aksara: {item.nodeid} runs on anyio's {name} backend, but aksara's database "
        "fixtures run on asyncio; restrict the backend with a conftest.py fixture: "
        "@pytest.fixture(scope='session') def anyio_backend(): return 'asyncio'"
    )
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "anyio_backend" in callspec.params:
        pytest.skip(reason)
    pytest.fail(reason, pytrace=False)


@contextlib.contextmanager
def run_by_anyio(item: pytest.Item, auto_mode_is_ours: bool) -> Iterator[None]:
    """Let anyio run an anyio test that pytest-asyncio's auto mode took over.

    pytest-asyncio's auto mode turns every coroutine test into one of its own
    items, anyio-marked ones included: their trio runs would run on asyncio,
    and on asyncio in another task than their fixtures. When that auto mode is
    aksara's doing (the project left ``asyncio_mode`` unset), such a test runs
    as plain pytest would run it, which hands it to anyio's plugin.
    """
    if not (auto_mode_is_ours and isinstance(item, pytest.Function)) or not _taken_over(item):
        yield
        return
    # An instance attribute hides pytest-asyncio's runtest for this call only.
    item.runtest = functools.partial(pytest.Function.runtest, item)  # type: ignore[method-assign]
    try:
        yield
    finally:
        del item.runtest


def _taken_over(item: pytest.Function) -> bool:
    """An anyio test that pytest-asyncio's auto mode made its own (no asyncio mark of its own)."""
    from pytest_asyncio import is_async_test

    if "anyio_backend" not in item.fixturenames or not is_async_test(item) or item.parent is None:
        return False
    own_marks = getattr(item.obj, "pytestmark", ())
    explicit = item.parent.get_closest_marker("asyncio") is not None or any(
        mark.name == "asyncio" for mark in own_marks
    )
    return not explicit


def wait_on(loop: asyncio.AbstractEventLoop | None, work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` on the session ``loop`` to its end, from synchronous code.

    Inside SQLAlchemy's greenlet it is awaited there; when ``loop`` is idle it
    runs here; when it is busy in another thread it is handed over; when
    another loop runs in this thread (a TestClient's portal) it runs on a
    helper thread.
    """
    from ._db import in_greenlet

    if in_greenlet():
        from sqlalchemy.util import await_only

        return await_only(work)
    if loop is None or loop.is_closed():
        work.close()
        raise AksaraError("the test database was used after aksara's session loop closed")
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop.is_running():
        if running is loop:
            work.close()
            raise AksaraError(
                "the sync test database was used from async code on the session loop "
                "without an await; in async tests await the async APIs"
            )
        return asyncio.run_coroutine_threadsafe(work, loop).result()
    if running is not None:  # another loop runs in this thread
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(loop.run_until_complete, work).result()
    return loop.run_until_complete(work)
