"""The pytest plugin (entry point ``aksara``): options, settings and hooks.

Fixtures live in :mod:`aksara_testing.fixtures`; this module only wires them in.
Nothing heavy is imported here. A project without aksara settings (no
``[tool.aksara]``, ``AKSARA_*`` variable or ``--aksara-app``/``--aksara-database-url``)
pays for a TOML read and a few hooks, and sees no change: no pytest-asyncio
defaults, markers, safety net or header line. Its tests can still use the fixtures.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from . import _gc_freeze, _secrets, fixtures
from ._asyncio_options import AsyncioDefaults, fill_unset
from ._db import RefusedConnection
from ._environment import export_env, restore_env
from ._loops import run_by_anyio
from ._markers import MARKERS, apply_run_markers
from ._mock_ai import _net as ai_net
from ._report import header_line, summary_lines
from ._runtime import RUNTIME_KEY, Runtime
from ._settings import Settings, load_settings
from .errors import ConfigurationError
from .fixtures import SESSION_FIXTURE, request_session_fixture

__all__ = ["SEED_KEY", "SETTINGS_KEY"]

SETTINGS_KEY = pytest.StashKey[Settings]()
SEED_KEY = pytest.StashKey[int]()
_ENV_BACKUP_KEY = pytest.StashKey[dict[str, str | None]]()
_AI_NET_KEY = pytest.StashKey[tuple[bool, str]]()
_ASYNCIO_KEY = pytest.StashKey[AsyncioDefaults]()
_FROZEN_KEY = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # The module object itself, not its name in pytest_plugins: importing it by name
    # would have pytest's assertion rewriter warn that it is already imported.
    if not pluginmanager.is_registered(fixtures):
        pluginmanager.register(fixtures, fixtures.__name__)
    group = parser.getgroup("aksara", "aksara-testing")
    group.addoption(
        "--aksara-settings",
        metavar="FILE",
        default=None,
        help="pyproject.toml holding [tool.aksara] (default: the one at the rootdir).",
    )
    group.addoption("--aksara-app", metavar="MODULE:ATTR", default=None, help="ASGI app to test.")
    group.addoption(
        "--aksara-database-url", metavar="URL", default=None, help="The app's database URL."
    )
    group.addoption(
        "--aksara-slow", action="store_true", default=False, help="Also run tests marked slow."
    )
    group.addoption(
        "--aksara-ci", action="store_true", default=False, help="Also run tests marked ci_only."
    )
    group.addoption(
        "--aksara-seed", metavar="N", type=int, default=None, help="Seed for fake data (Faker)."
    )
    group.addoption(
        "--aksara-reuse-db",
        action="store_true",
        default=False,
        help="Keep the test database after the run and reuse it while the schema is unchanged.",
    )
    group.addoption(
        "--aksara-create-db",
        action="store_true",
        default=False,
        help="Rebuild the test database even if --aksara-reuse-db could reuse it.",
    )
    group.addoption(
        "--aksara-no-migrations",
        action="store_true",
        default=False,
        help="Build the test database from models metadata, not by running migrations.",
    )
    group.addoption(
        "--aksara-migrations",
        action="store_true",
        default=False,
        help="Also run the built-in migration checks (heads, upgrade/downgrade, models match).",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    options = early_config.known_args_namespace
    settings_file = options.aksara_settings
    try:
        settings = load_settings(
            early_config.rootpath,
            Path(settings_file) if settings_file else None,
            flags={"app": options.aksara_app, "database_url": options.aksara_database_url},
        )
    except ConfigurationError as exc:
        raise pytest.UsageError(str(exc)) from None
    early_config.stash[SETTINGS_KEY] = settings
    _secrets.install(early_config, settings)
    if settings.configured:  # before pytest-asyncio reads its options
        early_config.stash[_ASYNCIO_KEY] = fill_unset(early_config, parser)
    early_config.stash[_ENV_BACKUP_KEY] = export_env(settings.env)
    if settings.file is not None and str(settings.root) not in sys.path:
        sys.path.insert(0, str(settings.root))


def _configured(config: pytest.Config) -> bool:
    """True when the project asked for aksara (see :attr:`Settings.configured`)."""
    settings = config.stash.get(SETTINGS_KEY, None)
    return settings is not None and settings.configured


def pytest_configure(config: pytest.Config) -> None:
    _gc_freeze.start_run()
    seed = config.getoption("aksara_seed")
    if seed is None:  # an xdist worker uses the controller's seed
        seed = getattr(config, "workerinput", {}).get("aksara_seed")
    config.stash[SEED_KEY] = seed if seed is not None else random.randrange(1_000_000)
    runtime = Runtime(config, config.stash[SETTINGS_KEY])
    runtime.seed = config.stash[SEED_KEY]
    config.stash[RUNTIME_KEY] = runtime
    _secrets.follow(config, lambda: runtime.settings)
    runtime.install()
    if _configured(config):
        for line in MARKERS:
            config.addinivalue_line("markers", line)
        ai_net.install(config.stash[SETTINGS_KEY].ai_hosts)
        if config.pluginmanager.has_plugin("django"):
            _client_over_django(config)
        if hasattr(config, "workerinput"):
            from . import _xdist_messages

            _xdist_messages.hold_back(config)
    if config.getoption("aksara_migrations"):
        _register_migration_checks(config, runtime)


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if _configured(config) and getattr(config.option, "splits", None):
        # Plain `pytest --splits` as `aksara test --splits`: groups that do not
        # depend on the run order (pytest-randomly), so every test runs once.
        from . import _sharding

        if not config.pluginmanager.is_registered(_sharding):
            config.pluginmanager.register(_sharding, _sharding.__name__)


def _client_over_django(config: pytest.Config) -> None:
    """Register our ``client`` again after pytest-django's, so that ours is the one used.

    Of two plugin fixtures with one name, the one registered later wins, and
    pytest-django's entry point may load after ours. A project configured for
    aksara asked for our client.
    """
    config.pluginmanager.register(_ClientOverDjango(), "aksara-client-over-django")


class _ClientOverDjango:
    @pytest.fixture(name="client")
    def client(self, request: pytest.FixtureRequest, app: Any) -> Iterator[Any]:
        """aksara's client (pytest-django's ``client`` is hidden in this project)."""
        yield from fixtures.client_for(request, app)


def _register_migration_checks(config: pytest.Config, runtime: Runtime) -> None:
    if not runtime.settings.migrations:
        raise pytest.UsageError(
            "--migrations (--aksara-migrations) needs the migrations setting: set "
            "migrations = 'alembic.ini' in [tool.aksara] or AKSARA_MIGRATIONS"
        )
    from ._migrations.checks import CheckRun
    from ._migrations.items import MigrationChecksPlugin

    try:
        run = CheckRun(runtime)
    except ConfigurationError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.pluginmanager.register(MigrationChecksPlugin(run), "aksara-migration-checks")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller, per worker: share the seed and the folder for SQLite files, and
    (a configured project) ask for one message per test."""
    runtime = node.config.stash[RUNTIME_KEY]
    node.workerinput["aksara_seed"] = node.config.stash[SEED_KEY]
    node.workerinput["aksara_run_dir"] = str(runtime.database.sqlite_dir())
    runtime.parallel = True
    if _configured(node.config):
        from . import _xdist_messages

        _xdist_messages.ask(node)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: keep each worker's database notes for the summary."""
    runtime = node.config.stash[RUNTIME_KEY]
    worker = node.workerinput.get("workerid", "?")
    output = getattr(node, "workeroutput", {})
    runtime.worker_notes += [f"{worker}: {note}" for note in output.get("aksara_notes", ())]
    runtime.database.template_used |= bool(output.get("aksara_cloned", False))
    runtime.database.template_dropped |= bool(output.get("aksara_template_dropped", False))
    if output.get("aksara_config_error") and runtime.config_error is None:
        runtime.config_error = str(output["aksara_config_error"])


def pytest_sessionfinish(session: pytest.Session) -> None:
    runtime = session.config.stash.get(RUNTIME_KEY, None)
    if runtime is None:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the notes to the controller
        workeroutput["aksara_notes"] = list(runtime.notes)
        workeroutput["aksara_cloned"] = runtime.database.cloned
        workeroutput["aksara_template_dropped"] = runtime.database.template_dropped
        workeroutput["aksara_config_error"] = runtime.config_error
    elif runtime.parallel:
        note = runtime.database.finish_parallel_run()
        if note is not None:
            runtime.notes.append(note)
        if runtime.config_error is not None:  # a worker met a configuration error: exit 4
            session.exitstatus = pytest.ExitCode.USAGE_ERROR


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    if _configured(session.config) and session.items:
        session.config.stash[_FROZEN_KEY] = _gc_freeze.freeze()


def pytest_unconfigure(config: pytest.Config) -> None:
    _gc_freeze.end_run(config.stash.get(_FROZEN_KEY, False))
    if RUNTIME_KEY in config.stash and _configured(config):
        ai_net.uninstall()
    runtime = config.stash.get(RUNTIME_KEY, None)
    if runtime is not None:
        runtime.uninstall()
    backup = config.stash.get(_ENV_BACKUP_KEY, None)
    if backup is not None:
        restore_env(backup)


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not _configured(config):
        return []
    runtime = config.stash[RUNTIME_KEY]
    line = header_line(runtime.settings, config.stash[SEED_KEY], config.rootpath, runtime)
    workers = getattr(config.option, "numprocesses", None)
    if workers and getattr(config.option, "dist", "no") != "no":
        line += f", workers {workers}"
    lines = [line]
    asyncio_line = config.stash[_ASYNCIO_KEY].header()
    if asyncio_line is not None:
        lines.append(asyncio_line)
    return lines


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[Any, Any, Any]:
    # Database work done while a fixture runs belongs to that fixture's scope.
    runtime = request.config.stash[RUNTIME_KEY]
    previous = runtime.fixture_request
    runtime.fixture_request = request
    if fixturedef.argname == SESSION_FIXTURE:  # it takes no arguments: give it its request
        fixtures.SETUP_REQUESTS.append(request)
    try:
        return (yield)
    finally:
        runtime.fixture_request = previous
        if fixturedef.argname == SESSION_FIXTURE:
            fixtures.SETUP_REQUESTS.pop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    runtime = item.config.stash[RUNTIME_KEY]
    runtime.item = item
    if runtime.responses:
        runtime.responses.clear()
    settings = item.config.stash[SETTINGS_KEY]
    if not settings.configured:
        return (yield)
    allowed = settings.allow_ai_calls or item.get_closest_marker(ai_net.MARKER) is not None
    item.stash[_AI_NET_KEY] = ai_net.enter_test(item.nodeid, allowed)
    try:
        return (yield)
    except pytest.exit.Exception as exc:
        if runtime.stopped is None or exc.msg != runtime.stopped:
            raise
        # pytest formats the whole traceback of an exit only to print its first line:
        # 1-2 s through SQLAlchemy's and asyncio's frames. Leave them behind.
        raise pytest.exit.Exception(exc.msg, exc.returncode) from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.excinfo is not None and report.failed:
        refused = _refusal(call.excinfo.value)
        if refused is not None:  # the line says it all: no traceback through the driver
            report.longrepr = f"aksara: {refused}"
    responses = item.config.stash[RUNTIME_KEY].responses
    if responses and report.failed and call.when == "call":
        from ._client import describe_response

        last = responses[-1]
        title = f"last response (of {len(responses)} in this test)"
        report.sections.append((f"aksara client: {title}", describe_response(last)))
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    if report.failed and RUNTIME_KEY in collector.config.stash:
        # Importing a test module connected somewhere the guard refused (an app that
        # connects at import): pytest keeps only the traceback's text, so read it there.
        marker = f"{RefusedConnection.__name__}: "
        for line in str(report.longrepr).splitlines():
            if marker in line:
                report.longrepr = "aksara: " + line.split(marker, 1)[1]
                break
    return report


def _refusal(exc: BaseException | None) -> RefusedConnection | None:
    """The guard's refusal behind ``exc`` (raised through app or driver code), if any."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, RefusedConnection):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None]:
    defaults = item.config.stash.get(_ASYNCIO_KEY, None)
    with run_by_anyio(item, defaults is not None and defaults.auto_mode_is_ours):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    try:
        return (yield)
    finally:
        previous = item.stash.get(_AI_NET_KEY, None)
        if previous is not None:
            ai_net.leave_test(previous)
        item.config.stash[RUNTIME_KEY].after_item(item, nextitem)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    runtime = config.stash.get(RUNTIME_KEY, None)
    if runtime is not None:
        for line in summary_lines(runtime, config.get_verbosity()):
            terminalreporter.write_line(line)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _configured(config):
        apply_run_markers(config, items)
    runtime = config.stash[RUNTIME_KEY]
    _check_targets(config, runtime, items)
    runtime.layers.transactional_items = {
        item for item in items if item.get_closest_marker("transactional") is not None
    }
    request_session_fixture(runtime.settings, items)


def _check_targets(config: pytest.Config, runtime: Runtime, items: list[pytest.Item]) -> None:
    """Before any test: every ``module:attr`` setting's module can be found (none is imported).

    Run after collection, when conftests and ``pythonpath`` have set up
    ``sys.path``. An xdist worker runs no test and hands the line to the
    controller, which prints it once and exits 4.
    """
    from ._imports import first_missing_module

    problem = first_missing_module(runtime.settings)
    if problem is None:
        return
    if runtime.worker is None:
        raise pytest.UsageError(str(problem))
    runtime.config_error = runtime.config_error or str(problem)
    config.hook.pytest_deselected(items=list(items))
    items.clear()
