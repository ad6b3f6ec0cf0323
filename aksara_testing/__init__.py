"""aksara-testing: test async SQLAlchemy + ASGI apps with pytest.

The plugin loads by itself (entry point ``aksara``); import helpers from here.
Nothing here imports SQLAlchemy or your app until it is used.
"""

from __future__ import annotations

from ._queries import QueryLog, assert_num_queries, count_queries
from ._runtime import setup_test_database
from ._testcase import AksaraTestCase, async_test
from ._version import __version__
from .errors import AksaraError, ConfigurationError, UnsafeDatabaseError
from .fixtures import db_session, test_settings

__all__ = [
    "AksaraError",
    "AksaraTestCase",
    "ConfigurationError",
    "QueryLog",
    "UnsafeDatabaseError",
    "__version__",
    "assert_num_queries",
    "async_test",
    "count_queries",
    "db_session",
    "setup_test_database",
    "test_settings",
]
