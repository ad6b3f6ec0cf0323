"""What the ``app`` setting names: an ASGI app, or a factory that returns one.

``app = "shop.main:app"`` names the app; ``app = "shop.main:create_app"``
names a function called with no arguments (sync or async) whose result is the
app. Anything else is told apart here, once, with a one-line reason.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["AppFactory", "app_problem", "is_asgi_app", "resolve_app"]


class AppFactory:
    """An async ``create_app()``: awaited on the run's loop by the ``client`` fixture."""

    def __init__(self, factory: Callable[[], Any], described: str) -> None:
        self.factory = factory
        self.described = described
        self._app: Any = None

    async def build(self) -> Any:
        if self._app is None:
            app = await self.factory()
            problem = _result_problem(app, self.described)
            if problem is not None:
                from .errors import ConfigurationError

                raise ConfigurationError(problem)
            self._app = app
        return self._app


def resolve_app(target: object, described: str) -> Any:
    """The app ``target`` names: itself, a sync factory's result, or an :class:`AppFactory`.

    ``described`` is the setting as errors show it (``app = '...' (from ...)``).
    Raises ConfigurationError with one line when it is neither.
    """
    from .errors import ConfigurationError

    if is_asgi_app(target):
        return target
    problem = app_problem(target, described)
    if problem is not None:
        raise ConfigurationError(problem)
    assert callable(target)
    if inspect.iscoroutinefunction(target):
        return AppFactory(target, described)
    app = target()
    problem = _result_problem(app, described)
    if problem is not None:
        raise ConfigurationError(problem)
    return app


def app_problem(target: object, described: str) -> str | None:
    """Why ``target`` is neither an ASGI app nor a zero-argument factory; None if it is one."""
    if is_asgi_app(target):
        return None
    if not callable(target):
        return (
            f"setting {described} is a {type(target).__name__}, not an ASGI app; point app at "
            "the app instance, or at a function that takes no arguments and returns it"
        )
    required = _required(target)
    if required is None or not required:
        return None
    return (
        f"setting {described} takes arguments ({', '.join(required)}): it is neither an ASGI "
        "app (scope, receive, send) nor a factory that takes no arguments; point app at the "
        "app, or override the app fixture in tests/conftest.py to call your factory"
    )


def _result_problem(app: object, described: str) -> str | None:
    if is_asgi_app(app):
        return None
    return (
        f"setting {described} is a factory, and it returned a {type(app).__name__}, not an "
        "ASGI app; return the app from it"
    )


def is_asgi_app(target: object) -> bool:
    """True for anything callable as ``app(scope, receive, send)`` (and not a class)."""
    if inspect.isclass(target) or not callable(target):
        return False
    parameters = _parameters(target)
    if parameters is None:
        return True  # a builtin or C callable: nothing to tell it by, take it as given
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3


def _required(target: object) -> list[str] | None:
    parameters = _parameters(target)
    if parameters is None:
        return None
    return [
        p.name
        for p in parameters
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _parameters(target: object) -> list[inspect.Parameter] | None:
    try:
        return list(inspect.signature(target).parameters.values())  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
