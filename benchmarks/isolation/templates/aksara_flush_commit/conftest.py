"""Variant (g), a what-if, not something the plugin offers: variant (e) with the
test's session joined in ``join_transaction_mode="rollback_only"``.

Its ``commit()`` only flushes and its ``rollback()`` undoes the whole test, not
the work since the last commit: the production behaviour of ``commit()`` and
``rollback()`` inside a test is what goes. It shows what that requirement costs
per test (the session's savepoints: SQLAlchemy's nested transactions and, on
PostgreSQL, the commit's ``RELEASE SAVEPOINT; SAVEPOINT`` round trip). It
replaces a private function of the plugin, so it may break with any release.
"""

import aksara_testing._db.sessions as sessions


def _flush_only_session() -> sessions.RoutingAsyncSession:
    return sessions.RoutingAsyncSession(
        expire_on_commit=False, join_transaction_mode="rollback_only"
    )


sessions._new_layer_session = _flush_only_session
