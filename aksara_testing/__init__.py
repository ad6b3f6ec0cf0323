"""aksara-testing: test async SQLAlchemy + ASGI apps with pytest.

The plugin loads by itself (entry point ``aksara``); import helpers from here.
Nothing here imports SQLAlchemy or your app until it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    AksaraError,
    ConfigurationError,
    FactoryError,
    MigrationError,
    UnsafeDatabaseError,
)

if TYPE_CHECKING:
    from ._client import AksaraClient, AksaraResponse
    from ._factories import Factory, Faker
    from ._migrations.testcase import MigrationTestCase
    from ._mock_ai import AICall, MockAI, mock_ai
    from ._queries import QueryLog, assert_num_queries, count_queries
    from ._runtime import setup_test_database
    from ._sync_client import AksaraSyncClient, sync_client
    from ._tasks import (
        CapturedTask,
        CapturedTasks,
        TaskCall,
        capture_tasks,
        register_task_backend,
    )
    from ._testcase import AksaraTestCase, async_test
    from .fixtures import app, client, db_session, test_settings

# Imported on first use: the pytest plugin imports this package before it needs any of
# these (factories, tasks, test cases: ~30 modules), and httpx costs ~70 ms, too much for
# projects that never use the client.
_LAZY = {
    "AICall": "._mock_ai",
    "AksaraClient": "._client",
    "AksaraResponse": "._client",
    "AksaraSyncClient": "._sync_client",
    "AksaraTestCase": "._testcase",
    "CapturedTask": "._tasks",
    "CapturedTasks": "._tasks",
    "Factory": "._factories",
    "Faker": "._factories",
    "MigrationTestCase": "._migrations.testcase",
    "MockAI": "._mock_ai",
    "QueryLog": "._queries",
    "TaskCall": "._tasks",
    "app": ".fixtures",
    "assert_num_queries": "._queries",
    "async_test": "._testcase",
    "capture_tasks": "._tasks",
    "client": ".fixtures",
    "count_queries": "._queries",
    "db_session": ".fixtures",
    "mock_ai": "._mock_ai",
    "register_task_backend": "._tasks",
    "setup_test_database": "._runtime",
    "sync_client": "._sync_client",
    "test_settings": ".fixtures",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        import sys

        # Read from sys.modules each time, never cached in globals(): if the module is
        # dropped from sys.modules and imported again (pytester's in-process runs do this),
        # a cached name would keep the old module's class while the rest of the package
        # uses the new one.
        home = _LAZY[name]
        module = sys.modules.get(__name__ + home) or importlib.import_module(home, __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'aksara_testing' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "AICall",
    "AksaraClient",
    "AksaraError",
    "AksaraResponse",
    "AksaraSyncClient",
    "AksaraTestCase",
    "CapturedTask",
    "CapturedTasks",
    "ConfigurationError",
    "Factory",
    "FactoryError",
    "Faker",
    "MigrationError",
    "MigrationTestCase",
    "MockAI",
    "QueryLog",
    "TaskCall",
    "UnsafeDatabaseError",
    "__version__",
    "app",
    "assert_num_queries",
    "async_test",
    "capture_tasks",
    "client",
    "count_queries",
    "db_session",
    "mock_ai",
    "register_task_backend",
    "setup_test_database",
    "sync_client",
    "test_settings",
]
