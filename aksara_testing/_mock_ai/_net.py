"""The safety net: outside ``mock_ai``, a test's request to an AI host fails at once.

The plugin installs it once per run. It wraps the request method of the
connection pools of httpcore and httpcore2, the layer under httpx, httpx2
and the SDKs built on them, so clients made at import time are covered too.
Whatever answers a request first never reaches it: ``mock_ai``, which answers
at the httpx and httpx2 transports above httpcore (see ``_intercept``), and a
test's own respx route, which wraps these same pool methods. Only requests
that would really go out pass through the net.

The net never imports httpx: a meta-path finder patches httpcore and
httpcore2 right after they are first imported, before anything can send a
request through them. A project that never imports them pays one cheap
function call per module import and nothing per test beyond two attribute
writes.

State is process-wide on purpose: the patch is, and a request sent from a
worker thread must meet the same net as one sent from the test's own thread.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from ._hosts import DEFAULT_HOSTS, HostSet

__all__ = ["MARKER", "current_hosts", "enter_test", "install", "leave_test", "uninstall"]

MARKER = "allow_ai_calls"
_MODULES = ("httpcore", "httpcore2")


class _State:
    def __init__(self) -> None:
        self.hosts = HostSet(DEFAULT_HOSTS)
        self.blocking = False
        self.test = ""
        self.installs: list[HostSet] = []  # one per configured pytest run (pytester nests runs)
        self.patched: list[tuple[type, str, Any, Any]] = []
        self.finder: _PatchOnImport | None = None


_STATE = _State()


def current_hosts() -> HostSet:
    """The AI hosts of this run: the defaults plus the ``ai_hosts`` setting."""
    return _STATE.hosts


def install(extra_hosts: Iterable[str] = ()) -> None:
    """Arm the net for a pytest run (idempotent; nested runs stack)."""
    hosts = HostSet(DEFAULT_HOSTS).with_extra(extra_hosts)
    _STATE.installs.append(hosts)
    _STATE.hosts = hosts
    if _STATE.finder is None:
        _STATE.finder = _PatchOnImport()
        sys.meta_path.insert(0, _STATE.finder)
    _patch_imported()


def uninstall() -> None:
    """Undo :func:`install`; the last one removes the patches and the finder."""
    if _STATE.installs:
        _STATE.installs.pop()
    if _STATE.installs:
        _STATE.hosts = _STATE.installs[-1]
        return
    _STATE.hosts = HostSet(DEFAULT_HOSTS)
    if _STATE.finder is not None and _STATE.finder in sys.meta_path:
        sys.meta_path.remove(_STATE.finder)
    _STATE.finder = None
    while _STATE.patched:
        cls, name, original, guard = _STATE.patched.pop()
        if cls.__dict__.get(name) is guard:  # else respx holds it now; the guard stays inert
            setattr(cls, name, original)


def enter_test(nodeid: str, allowed: bool) -> tuple[bool, str]:
    """Block AI hosts from now on unless ``allowed``; returns what :func:`leave_test` restores."""
    previous = (_STATE.blocking, _STATE.test)
    _STATE.blocking, _STATE.test = not allowed, nodeid
    _patch_imported()  # in case a finder ahead of ours loaded httpcore
    return previous


def leave_test(previous: tuple[bool, str]) -> None:
    _STATE.blocking, _STATE.test = previous


def _check(request: Any) -> None:
    url = request.url
    host = url.host.decode("ascii") if isinstance(url.host, bytes) else str(url.host)
    scheme = url.scheme.decode("ascii") if isinstance(url.scheme, bytes) else str(url.scheme)
    port = url.port or (443 if scheme == "https" else 80)
    if (host, port) not in _STATE.hosts:
        return
    import pytest

    method = request.method.decode() if isinstance(request.method, bytes) else request.method
    target = url.target.decode() if isinstance(url.target, bytes) else str(url.target)
    where = f"{scheme}://{host}{'' if url.port is None else f':{url.port}'}{target}"
    pytest.fail(
        f"aksara: {_STATE.test} tried to call a real AI service ({method} {where}); "
        "wrap the call in "
        f"`with mock_ai(...)` (from aksara_testing) or mark the test "
        f"@pytest.mark.{MARKER} to let it through",
        pytrace=False,
    )


def _guard_sync(original: Callable[..., Any]) -> Callable[..., Any]:
    # Named like the method it replaces: respx checks the name before wrapping.
    def handle_request(self: Any, request: Any) -> Any:
        if _STATE.blocking:
            _check(request)
        return original(self, request)

    return handle_request


def _guard_async(original: Callable[..., Any]) -> Callable[..., Any]:
    async def handle_async_request(self: Any, request: Any) -> Any:
        if _STATE.blocking:
            _check(request)
        return await original(self, request)

    return handle_async_request


_TARGETS = (
    ("ConnectionPool", "handle_request", _guard_sync),
    ("AsyncConnectionPool", "handle_async_request", _guard_async),
)


def _patch(module: ModuleType) -> None:
    guards = {guard for *_, guard in _STATE.patched}
    for class_name, method, wrap in _TARGETS:
        cls = getattr(module, class_name, None)
        original = getattr(cls, "__dict__", {}).get(method)
        if cls is None or original is None or original in guards:
            continue
        guard = wrap(original)
        setattr(cls, method, guard)
        _STATE.patched.append((cls, method, original, guard))


def _patch_imported() -> None:
    for name in _MODULES:
        module = sys.modules.get(name)
        if module is not None and not _is_patched(module):
            _patch(module)


def _is_patched(module: ModuleType) -> bool:
    pool = getattr(module, "ConnectionPool", None)
    return any(cls is pool for cls, *_ in _STATE.patched)


class _PatchOnImport(MetaPathFinder):
    """Patches httpcore(2) as soon as the module has run, before any request can go out."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in _MODULES or path is not None:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec: ModuleSpec | None = find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        run = getattr(loader, "exec_module", None)
        if run is None:
            return spec

        def exec_module(module: ModuleType) -> None:
            run(module)
            _patch(module)

        # Only this module's loader object changes. A read-only loader is left
        # alone: enter_test patches the module before the next test instead.
        with contextlib.suppress(AttributeError):
            loader.exec_module = exec_module  # type: ignore[method-assign,union-attr]
        return spec
