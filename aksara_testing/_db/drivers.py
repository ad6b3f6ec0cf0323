"""Every database connection the test process opens, seen before it opens.

The connect functions of the drivers SQLAlchemy apps use — asyncpg,
psycopg 3, psycopg2, pg8000, aiosqlite, and the ``sqlite3.dbapi2`` module
SQLAlchemy's pysqlite dialect calls — are wrapped while a check is installed.
The wrapper turns the driver's own arguments (a DSN, keyword arguments, libpq's
``PG*`` environment variables and defaults) into one
:class:`~.endpoints.Endpoint` and calls the check, which raises to refuse. A
driver imported later is wrapped as it is imported, so installing costs no
driver import.

``sqlite3.connect`` itself is left alone: coverage.py and other tools keep
their own data in SQLite files, and SQLAlchemy never calls it under that name.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import inspect
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from .._text import relative_path
from .endpoints import BY_DRIVER, Endpoint, Parser

__all__ = ["Check", "caller_outside", "install", "uninstall"]

Check = Callable[[Endpoint], None]


@dataclass(frozen=True)
class _Hook:
    """One connect function: ``module.attr`` (or ``module.Class.attr``) and its parser."""

    module: str
    attr: str
    parse: Parser
    cls: str | None = None  # a classmethod (psycopg) or __init__ (pg8000) of this class


_HOOKS: dict[str, tuple[_Hook, ...]] = {
    "asyncpg": (
        _Hook("asyncpg", "connect", BY_DRIVER["asyncpg"]),
        _Hook("asyncpg.connection", "connect", BY_DRIVER["asyncpg"]),  # what asyncpg's pools call
    ),
    "psycopg2": (_Hook("psycopg2", "connect", BY_DRIVER["psycopg2"]),),
    "psycopg": (
        _Hook("psycopg", "connect", BY_DRIVER["psycopg"], cls="Connection"),
        _Hook("psycopg", "connect", BY_DRIVER["psycopg"], cls="AsyncConnection"),
    ),
    "pg8000": (_Hook("pg8000.core", "__init__", BY_DRIVER["pg8000"], cls="CoreConnection"),),
    "aiosqlite": (
        _Hook("aiosqlite", "connect", BY_DRIVER["aiosqlite"]),
        _Hook("aiosqlite.core", "connect", BY_DRIVER["aiosqlite"]),
    ),
    "sqlite3": (_Hook("sqlite3.dbapi2", "connect", BY_DRIVER["pysqlite"]),),
}

_lock = threading.Lock()
_check: Check | None = None
_saved: list[tuple[Any, str, Any]] = []  # (owner, attribute, original) to put back
_finder: _WrapOnImport | None = None


def install(check: Check) -> None:
    """Call ``check`` before every connection a supported driver opens, until :func:`uninstall`.

    Installing again replaces the check (a nested pytest run): the drivers stay wrapped once.
    """
    global _check, _finder
    with _lock:
        _check = check
        if _finder is not None:
            return
        _finder = _WrapOnImport()
        sys.meta_path.insert(0, _finder)
        for package in _HOOKS:
            if package in sys.modules:
                _wrap_package(package)


def uninstall() -> None:
    """Put every driver back as it was."""
    global _check, _finder
    with _lock:
        _check = None
        if _finder is not None:
            if _finder in sys.meta_path:
                sys.meta_path.remove(_finder)
            _finder = None
        while _saved:
            owner, attr, original = _saved.pop()
            setattr(owner, attr, original)


def _wrap_package(package: str) -> None:
    for hook in _HOOKS[package]:
        module = sys.modules.get(hook.module)
        if module is None:
            try:
                module = importlib.import_module(hook.module)  # a submodule of a loaded package
            except ImportError:
                continue
        _wrap(module, hook)
    if package == "psycopg":  # the module's connect is Connection.connect, bound at import
        module = sys.modules["psycopg"]
        _saved.append((module, "connect", module.connect))
        module.connect = module.Connection.connect  # type: ignore[attr-defined]


def _wrap(module: ModuleType, hook: _Hook) -> None:
    owner: Any = getattr(module, hook.cls) if hook.cls else module
    raw = owner.__dict__.get(hook.attr) if hook.cls else getattr(owner, hook.attr, None)
    if raw is None or getattr(raw, "__aksara_wrapped__", False):
        return
    if isinstance(raw, classmethod):
        function = raw.__func__
        wrapped: Any = classmethod(_checked(function, hook, skip_first=True))
    elif hook.attr == "__init__":
        wrapped = _checked(raw, hook, skip_first=True)
    else:
        wrapped = _checked(raw, hook, skip_first=False)
    _saved.append((owner, hook.attr, raw))
    setattr(owner, hook.attr, wrapped)


def _checked(function: Any, hook: _Hook, *, skip_first: bool) -> Any:
    def look(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        check = _check
        if check is not None:
            check(hook.parse(args[1:] if skip_first else args, kwargs))

    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            look(args, kwargs)
            return await function(*args, **kwargs)

        async_wrapper.__aksara_wrapped__ = True  # type: ignore[attr-defined]
        return async_wrapper

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        look(args, kwargs)
        return function(*args, **kwargs)

    wrapper.__aksara_wrapped__ = True  # type: ignore[attr-defined]
    return wrapper


class _WrapOnImport(importlib.abc.MetaPathFinder):
    """Wraps a driver package right after its first import."""

    def __init__(self) -> None:
        self._finding: set[str] = set()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> Any:
        if fullname not in _HOOKS or fullname in self._finding:
            return None
        self._finding.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._finding.discard(fullname)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _WrappingLoader(spec.loader, fullname)
        return spec


class _WrappingLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, package: str) -> None:
        self._loader = loader
        self._package = package

    def create_module(self, spec: Any) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        # Loaders compare spec.loader with themselves (SourceFileLoader.get_resource_reader):
        # hand the module the real loader back before it runs.
        module.__spec__.loader = self._loader  # type: ignore[union-attr]
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        with _lock:
            if _finder is not None:
                _wrap_package(self._package)


_PACKAGE = Path(__file__).parent.parent  # aksara_testing/


def caller_outside() -> str | None:
    """``file:line`` of the innermost frame in the project's own code, or None.

    Frames of aksara-testing (the whole package, not only ``_db``), the standard
    library and installed packages are skipped.
    """
    ignored = (str(_PACKAGE), *{sys.prefix, sys.base_prefix, sys.exec_prefix})
    frame: Any = sys._getframe(1)
    # SQLAlchemy's async engines connect inside a greenlet: its frames end where the
    # greenlet started, and the caller's frames hang off the parent greenlet.
    glet = sys.modules["greenlet"].getcurrent() if "greenlet" in sys.modules else None
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith("<") and not filename.startswith(ignored):
            return f"{relative_path(filename, Path.cwd())}:{frame.f_lineno}"
        frame = frame.f_back
        if frame is None and glet is not None and glet.parent is not None:
            glet = glet.parent
            frame = glet.gr_frame
    return None
