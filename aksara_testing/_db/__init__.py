"""The test database and everything on it: the one door to SQLAlchemy and the drivers.

Every module that imports SQLAlchemy at module level lives in this package,
and the rest of aksara-testing reaches it only through this module, whose
names load their submodule on first use. Importing the plugin therefore
costs nothing here: ``from ._db import check_safe`` inside a function, or
``from . import _db`` and then ``_db.check_safe(...)``, imports SQLAlchemy
when the run first needs a database, not when pytest starts.

Submodules, from the URL to a test's session:

- ``testdb``: one process's test database: URL, build, clone, run lock, drop.
- ``urls``: test database URLs, derived from the app's, and the safety check.
- ``lifecycle``: create, build (``create_all`` or migrations), reuse, empty, drop.
- ``sqlite`` / ``postgres`` / ``sqlstate``: per-backend engines, admin and errors.
- ``parallel``: one database per pytest-xdist worker, cloned from a template.
- ``guard`` / ``drivers`` / ``endpoints``: the connection guard that refuses non-test
  databases, the drivers' connect functions it watches, and the one rule for
  "is this the app's own database".
- ``diagnostics``: why a PostgreSQL server cannot be used, in one line.
- ``kinds``: what the ``session`` and ``engine`` settings name, async or sync.
- ``layers``: which connection a session gets; the clean-up after each test.
- ``isolation`` / ``savepoints``: the rolled-back layers, one savepoint per scope.
- ``routing``: the app's sessions and engines (``session``, ``engine``) rerouted for a run;
  ``sessions`` / ``engines`` do the rerouting.
- ``leftovers``: sessions and connections a test left open.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below, for type checkers; at run time see __getattr__
    from .diagnostics import ADMIN_DATABASE as ADMIN_DATABASE
    from .diagnostics import CONNECT_TIMEOUT as CONNECT_TIMEOUT
    from .diagnostics import DOCTOR_HINT as DOCTOR_HINT
    from .diagnostics import Server as Server
    from .diagnostics import build_problem as build_problem
    from .diagnostics import connect_first as connect_first
    from .diagnostics import no_createdb as no_createdb
    from .endpoints import endpoint_of_url as endpoint_of_url
    from .endpoints import same_database as same_database
    from .engines import EngineRouting as EngineRouting
    from .engines import create_sync_test_engine as create_sync_test_engine
    from .engines import sync_driver as sync_driver
    from .guard import ConnectionGuard as ConnectionGuard
    from .guard import RefusedConnection as RefusedConnection
    from .guard import redirect_app_database as redirect_app_database
    from .isolation import Isolation as Isolation
    from .isolation import Joined as Joined
    from .kinds import Named as Named
    from .kinds import classify as classify
    from .kinds import kind_of_run as kind_of_run
    from .kinds import named_targets as named_targets
    from .layers import TestLayers as TestLayers
    from .leftovers import close_leftovers as close_leftovers
    from .leftovers import left_open_message as left_open_message
    from .lifecycle import DatabaseHandle as DatabaseHandle
    from .lifecycle import SchemaSource as SchemaSource
    from .lifecycle import build_database as build_database
    from .lifecycle import create_engine_for as create_engine_for
    from .lifecycle import drop_database as drop_database
    from .lifecycle import empty_tables as empty_tables
    from .lifecycle import mark_clean as mark_clean
    from .lifecycle import mark_dirty as mark_dirty
    from .lifecycle import recreate_database as recreate_database
    from .parallel import TEMPLATE_SUFFIX as TEMPLATE_SUFFIX
    from .parallel import build_worker_database as build_worker_database
    from .postgres import RunLock as RunLock
    from .postgres import admin_engine as admin_engine
    from .routing import AppRouting as AppRouting
    from .sessions import LayerSession as LayerSession
    from .sessions import SessionRebinding as SessionRebinding
    from .sessions import SyncLayerSession as SyncLayerSession
    from .sessions import in_greenlet as in_greenlet
    from .sessions import layer_session_factory as layer_session_factory
    from .sessions import layer_sessionmaker as layer_sessionmaker
    from .sessions import library_session_without_engine as library_session_without_engine
    from .sessions import session_class as session_class
    from .sessions import sync_layer_sessionmaker as sync_layer_sessionmaker
    from .sqlite import inline_aiosqlite as inline_aiosqlite
    from .testdb import TestDatabase as TestDatabase
    from .urls import SafeTarget as SafeTarget
    from .urls import backend_of as backend_of
    from .urls import check_safe as check_safe
    from .urls import database_name as database_name
    from .urls import derive_test_url as derive_test_url
    from .urls import is_memory as is_memory

# Each public name and the submodule that defines it.
_HOME: dict[str, str] = {
    "ConnectionGuard": "guard",
    "RefusedConnection": "guard",
    "endpoint_of_url": "endpoints",
    "redirect_app_database": "guard",
    "same_database": "endpoints",
    "ADMIN_DATABASE": "diagnostics",
    "CONNECT_TIMEOUT": "diagnostics",
    "DOCTOR_HINT": "diagnostics",
    "Server": "diagnostics",
    "build_problem": "diagnostics",
    "connect_first": "diagnostics",
    "no_createdb": "diagnostics",
    "SafeTarget": "urls",
    "backend_of": "urls",
    "check_safe": "urls",
    "database_name": "urls",
    "derive_test_url": "urls",
    "is_memory": "urls",
    "DatabaseHandle": "lifecycle",
    "SchemaSource": "lifecycle",
    "build_database": "lifecycle",
    "create_engine_for": "lifecycle",
    "drop_database": "lifecycle",
    "empty_tables": "lifecycle",
    "mark_clean": "lifecycle",
    "mark_dirty": "lifecycle",
    "recreate_database": "lifecycle",
    "TEMPLATE_SUFFIX": "parallel",
    "build_worker_database": "parallel",
    "RunLock": "postgres",
    "admin_engine": "postgres",
    "inline_aiosqlite": "sqlite",
    "TestDatabase": "testdb",
    "TestLayers": "layers",
    "AppRouting": "routing",
    "Named": "kinds",
    "classify": "kinds",
    "kind_of_run": "kinds",
    "named_targets": "kinds",
    "Isolation": "isolation",
    "Joined": "isolation",
    "close_leftovers": "leftovers",
    "left_open_message": "leftovers",
    "EngineRouting": "engines",
    "create_sync_test_engine": "engines",
    "sync_driver": "engines",
    "LayerSession": "sessions",
    "SessionRebinding": "sessions",
    "SyncLayerSession": "sessions",
    "in_greenlet": "sessions",
    "layer_session_factory": "sessions",
    "layer_sessionmaker": "sessions",
    "library_session_without_engine": "sessions",
    "session_class": "sessions",
    "sync_layer_sessionmaker": "sessions",
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # Read from sys.modules each time, never cached in globals(): a module imported again
    # after leaving it (pytester's in-process runs) must not leave this name on its old
    # copy. The dictionary look-up keeps per-test callers fast (import_module costs ~3 us).
    module = sys.modules.get(f"{__name__}.{home}") or importlib.import_module(f".{home}", __name__)
    return getattr(module, name)
