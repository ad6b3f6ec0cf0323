"""pytest-asyncio's options in a project configured for aksara: fill only what it left unset.

The test database's connection belongs to the event loop that opened it, so
aksara wants async tests and fixtures on one loop for the whole run. A project
that chose its own values keeps them; the two loop scopes stay equal (when the
project set one, the other follows it), so fixtures and tests never end up on
different loops. anyio's own auto mode runs the async tests there, and
pytest-asyncio's auto mode next to it makes anyio warn at start-up: then
``asyncio_mode`` stays pytest-asyncio's ``strict``.

Nothing here runs for a project without aksara settings.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from types import ModuleType

import pytest

__all__ = ["AsyncioDefaults", "active_plugin", "fill_unset"]

MODE = "asyncio_mode"
FIXTURE_SCOPE = "asyncio_default_fixture_loop_scope"
TEST_SCOPE = "asyncio_default_test_loop_scope"
_MATCH_FIXTURE_SCOPE = "fixture-scope"  # pytest-asyncio: each fixture on a loop of its scope
_HELP = {
    MODE: "default for --asyncio-mode (aksara-testing fills it when unset)",
    FIXTURE_SCOPE: "default loop scope of async fixtures (aksara-testing fills it when unset)",
    TEST_SCOPE: "default loop scope of async tests (aksara-testing fills it when unset)",
}


class _Ours(str):
    """A default registered by aksara: tells "the project left it unset" from a set value."""

    __slots__ = ()


@dataclass(frozen=True)
class AsyncioDefaults:
    """What aksara filled in, for the report header."""

    filled: dict[str, str] = field(default_factory=dict)
    follows: str | None = None  # the project's scope option that the other one copied
    anyio_auto: bool = False  # asyncio_mode left strict for anyio's auto mode

    @property
    def auto_mode_is_ours(self) -> bool:
        """True when pytest-asyncio's auto mode is on because aksara filled it in."""
        return self.filled.get(MODE) == "auto"

    def header(self) -> str | None:
        """``aksara: asyncio_mode=auto, loop scopes session (set by aksara; ...)``, or None."""
        values = [f"{MODE}={self.filled[MODE]}"] if MODE in self.filled else []
        scopes = [name for name in (FIXTURE_SCOPE, TEST_SCOPE) if name in self.filled]
        if len(scopes) == 2 and self.filled[FIXTURE_SCOPE] == self.filled[TEST_SCOPE]:
            values.append(f"loop scopes {self.filled[TEST_SCOPE]}")
        else:
            values += [f"{name}={self.filled[name]}" for name in scopes]
        clauses = []
        if values:
            them = "them" if len(self.filled) > 1 else "it"
            reason = f"set by aksara; the project left {them} unset"
            if self.follows is not None:
                leader = "fixture" if self.follows == FIXTURE_SCOPE else "test"
                follower = "test" if leader == "fixture" else "fixture"
                reason += f"; the {follower} loop scope follows the project's {leader} loop scope"
            clauses.append(f"{', '.join(values)} ({reason})")
        if self.anyio_auto:
            clauses.append(f"{MODE} left strict: anyio_mode = auto runs the async tests")
        return f"aksara: {'; '.join(clauses)}" if clauses else None


def fill_unset(config: pytest.Config, parser: pytest.Parser) -> AsyncioDefaults:
    """Give pytest-asyncio aksara's values for the options the project did not set.

    Call it from ``pytest_load_initial_conftests``, before pytest-asyncio reads them.
    """
    if active_plugin(config, "pytest_asyncio.plugin") is None:
        return AsyncioDefaults()
    anyio_auto = _anyio_auto_mode(config)
    mode = "strict" if anyio_auto else "auto"
    for name, value in ((MODE, mode), (FIXTURE_SCOPE, "session"), (TEST_SCOPE, "session")):
        _register(config, parser, name, value)
    unset = {name for name in _HELP if isinstance(config.getini(name), _Ours)}
    if getattr(config.known_args_namespace, "asyncio_mode", None):  # --asyncio-mode
        unset.discard(MODE)
    follows = None
    if FIXTURE_SCOPE in unset and TEST_SCOPE not in unset:
        follows = TEST_SCOPE
        _register(config, parser, FIXTURE_SCOPE, config.getini(TEST_SCOPE))
    elif TEST_SCOPE in unset and FIXTURE_SCOPE not in unset:
        follows = FIXTURE_SCOPE
        scope = config.getini(FIXTURE_SCOPE)
        _register(
            config, parser, TEST_SCOPE, "function" if scope == _MATCH_FIXTURE_SCOPE else scope
        )
    filled = {name: str(config.getini(name)) for name in unset if not (anyio_auto and name == MODE)}
    return AsyncioDefaults(filled, follows, anyio_auto=anyio_auto and MODE in unset)


def _register(config: pytest.Config, parser: pytest.Parser, name: str, default: str) -> None:
    # Registering an ini key again replaces only its default: the project's value wins.
    parser.addini(name, _HELP[name], default=_Ours(default))
    # getini() caches what it returned (pytest's private cache); drop it so that the
    # default registered now is what pytest-asyncio reads.
    cache = getattr(config, "_inicache", None)
    if isinstance(cache, dict):
        cache.pop(name, None)


def active_plugin(config: pytest.Config, module_name: str) -> ModuleType | None:
    """The plugin module ``module_name`` if this run loaded it (by entry point or ``-p``)."""
    module = sys.modules.get(module_name)
    return module if module is not None and config.pluginmanager.is_registered(module) else None


def _anyio_auto_mode(config: pytest.Config) -> bool:
    if active_plugin(config, "anyio.pytest_plugin") is None:
        return False
    option = getattr(config.known_args_namespace, "anyio_mode", None)
    return bool(option == "auto" or (option is None and config.getini("anyio_mode") == "auto"))
