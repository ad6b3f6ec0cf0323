"""Keep the passwords of the run's database URLs out of everything pytest prints.

The passwords come from the settings (``database_url``, ``test_database_url``,
``env``, whatever their source), the whole settings file, the command line and
the environment (URLs with a password, ``*PASSWORD`` variables). They are
replaced by ``***`` (:mod:`._scrubber`: in their plain, percent-encoded and
escaped forms) in test and collection reports (tracebacks of every style, ``-l``
locals, captured output and logs: what the terminal, ``--junitxml`` and xdist
workers are built from), internal errors, usage errors and every line the
terminal reporter writes.

Only projects configured for aksara (a ``[tool.aksara]`` table or an
``AKSARA_`` setting) get this: the output of any other project is untouched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import tomllib
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ._scrubber import Password, Scrubber, passwords_in
from ._settings import Settings

__all__ = ["SecretsPlugin", "follow", "install", "remember", "scrub", "scrub_report"]

_PASSWORD_VARIABLE = re.compile(r"PASS(?:WORD|WD)$", re.IGNORECASE)
_MAX_DEPTH = 12  # how deep scrubbing reaches into pytest's traceback representations


# -- where the run's passwords come from ---------------------------------------------------


def _from_settings(settings: Settings) -> Iterator[Password]:
    for url in (settings.database_url, settings.test_database_url, *settings.env.values()):
        if url:
            yield from passwords_in(url)


def _from_file(path: Path | None) -> Iterator[Password]:
    """Every URL password anywhere in the settings file, whichever setting won."""
    if path is None:
        return
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return  # load_settings reported it
    for text in _strings(data):
        yield from passwords_in(text)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _from_environment(seen: dict[str, str]) -> Iterator[Password]:
    """URL passwords and ``*PASSWORD`` variables not looked at yet (``seen`` is updated)."""
    for name, value in os.environ.items():
        if seen.get(name) == value:
            continue
        seen[name] = value
        if _PASSWORD_VARIABLE.search(name) and value:
            yield Password(value)
        elif "://" in value:
            yield from passwords_in(value)


def _environment_size() -> int:
    # pytest sets and removes PYTEST_CURRENT_TEST around every test phase.
    return len(os.environ) - ("PYTEST_CURRENT_TEST" in os.environ)


# -- reports -------------------------------------------------------------------------------


def scrub_report(report: pytest.TestReport | pytest.CollectReport, scrubber: Scrubber) -> None:
    """Scrub a report in place, keeping its rich traceback when it can be reached into."""
    longrepr = report.longrepr
    if isinstance(longrepr, str | tuple):
        report.longrepr = _scrubbed(longrepr, scrubber)
    elif longrepr is not None:
        _scrubbed(longrepr, scrubber)
        text = str(longrepr)
        if scrubber(text) != text:  # a representation we could not reach into
            report.longrepr = scrubber(text)
    if report.sections:
        report.sections[:] = [(scrubber(title), scrubber(body)) for title, body in report.sections]
    reason = getattr(report, "wasxfail", None)
    if isinstance(reason, str):
        setattr(report, "wasxfail", scrubber(reason))  # noqa: B010 (not a declared attribute)
    properties = _properties(report)
    if properties:
        properties[:] = [_scrubbed(item, scrubber) for item in properties]


def _properties(report: pytest.TestReport | pytest.CollectReport) -> list[Any]:
    """``record_property`` values (junitxml writes them); collection reports have none."""
    return getattr(report, "user_properties", None) or []


def _scrubbed(value: Any, scrubber: Scrubber, depth: int = 0) -> Any:
    """``value`` scrubbed: strings and tuples rebuilt, lists and dataclasses changed in place.

    pytest's traceback representations are dataclasses of strings and lists.
    """
    if isinstance(value, str):
        return scrubber(value)
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, tuple):
        return tuple(_scrubbed(item, scrubber, depth + 1) for item in value)
    if isinstance(value, list):
        value[:] = [_scrubbed(item, scrubber, depth + 1) for item in value]
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            old = getattr(value, field.name, None)
            new = _scrubbed(old, scrubber, depth + 1)
            if new is not old and new != old:
                with contextlib.suppress(dataclasses.FrozenInstanceError):
                    setattr(value, field.name, new)  # else scrub_report falls back to text
    return value


# -- the plugin ----------------------------------------------------------------------------

_PLUGIN_KEY = pytest.StashKey["SecretsPlugin"]()


class SecretsPlugin:
    """Hooks that scrub reports, errors and the terminal; one per configured run."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.scrubber = Scrubber()
        self.settings: Callable[[], Settings] = lambda: settings
        self._seen_settings: Settings | None = None
        self._seen_environment: dict[str, str] = {}
        self._environment_size = -1
        self.scrubber.add(_from_file(settings.file))
        for arg in config.invocation_params.args:
            self.scrubber.add(passwords_in(str(arg)))
        self.refresh()

    def refresh(self, *, environment: bool = False) -> None:
        """Learn the passwords of settings merged since (``test_settings``) and of new env vars.

        Reading the whole environment costs ~0.2 ms: it is read again when its size
        changed, after collection (apps that load a ``.env`` at import) and before
        anything but a passing test's captured output is scrubbed.
        """
        settings = self.settings()
        if settings is not self._seen_settings:
            self._seen_settings = settings
            self.scrubber.add(_from_settings(settings))
            environment = True
        size = _environment_size()
        if environment or size != self._environment_size:
            self._environment_size = size
            self.scrubber.add(_from_environment(self._seen_environment))

    @pytest.hookimpl(wrapper=True)
    def pytest_cmdline_main(self, config: pytest.Config) -> Generator[None, Any, Any]:
        try:
            return (yield)
        except pytest.UsageError as exc:
            self.refresh(environment=True)
            args = [self.scrubber(str(arg)) for arg in exc.args]
            if args == [str(arg) for arg in exc.args]:
                raise
            raise pytest.UsageError(*args) from None

    @pytest.hookimpl(trylast=True)  # after the terminal reporter exists
    def pytest_configure(self, config: pytest.Config) -> None:
        if not config.pluginmanager.has_plugin("terminalreporter"):
            return
        writer = config.get_terminal_writer()
        # Every terminal write ends in TerminalWriter.write_raw from pytest 9 on (not
        # public API); pytest 8 has no write_raw, and line() and sep() end in write().
        scrubber = self.scrubber
        write_raw = getattr(writer, "write_raw", None)
        if callable(write_raw):

            def scrubbed_write_raw(msg: str, *, flush: bool = False) -> None:
                write_raw(scrubber(msg), flush=flush)

            setattr(writer, "write_raw", scrubbed_write_raw)  # noqa: B010 (mypy: a method)
            return
        write = writer.write

        def scrubbed_write(msg: str, *, flush: bool = False, **markup: bool) -> None:
            write(scrubber(msg), flush=flush, **markup)

        setattr(writer, "write", scrubbed_write)  # noqa: B010 (mypy: a method)

    @pytest.hookimpl(tryfirst=True)  # before the terminal, junitxml and xdist's worker see it
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._scrub(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._scrub(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_internalerror(self, excrepr: Any) -> None:
        self.refresh(environment=True)
        _scrubbed(excrepr, self.scrubber)

    def pytest_collection_finish(self) -> None:
        self.refresh(environment=True)

    @pytest.hookimpl(tryfirst=True)
    def pytest_terminal_summary(self) -> None:
        self.refresh(environment=True)

    def _scrub(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        if report.longrepr is None and not report.sections and not _properties(report):
            return  # a passing test that printed nothing: nothing to look at
        self.refresh(environment=report.longrepr is not None)
        scrub_report(report, self.scrubber)


def install(config: pytest.Config, settings: Settings) -> None:
    """Scrub the output of this run, if the project is configured for aksara."""
    if settings.file is None and not settings.sources:
        return  # not an aksara project: its output stays byte for byte what pytest prints
    plugin = SecretsPlugin(config, settings)
    config.stash[_PLUGIN_KEY] = plugin
    config.pluginmanager.register(plugin, "aksara-secrets")


def follow(config: pytest.Config, settings: Callable[[], Settings]) -> None:
    """Read the run's settings from ``settings()`` from now on (``test_settings`` changes them)."""
    plugin = config.stash.get(_PLUGIN_KEY, None)
    if plugin is not None:
        plugin.settings = settings


def remember(config: pytest.Config, *texts: str) -> None:
    """Also scrub the passwords of the URLs in ``texts`` from this run's output."""
    plugin = config.stash.get(_PLUGIN_KEY, None)
    if plugin is not None:
        for text in texts:
            plugin.scrubber.add(passwords_in(text))


def scrub(config: pytest.Config, text: str) -> str:
    """``text`` without the run's passwords (unchanged in a project not configured for aksara)."""
    plugin = config.stash.get(_PLUGIN_KEY, None)
    if plugin is None:
        return text
    plugin.refresh()
    return plugin.scrubber(text)
