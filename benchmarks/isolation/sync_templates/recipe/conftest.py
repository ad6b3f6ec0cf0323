"""The baseline: SQLAlchemy 2.0's "Joining a Session into an External Transaction
(such as for test suites)" recipe, as a hand-written sync conftest.

Per test: a connection from the engine, a transaction begun on it, a Session
bound to it with ``join_transaction_mode="create_savepoint"``, and the app's
``SessionLocal`` configured onto the same connection (so the app's own
``commit()`` becomes a savepoint release); afterwards the session is closed,
the transaction rolled back and the connection returned to the engine.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from benchapp.db import SessionLocal, engine
from benchapp.models import Base
from sqlalchemy import event
from sqlalchemy.orm import Session

if engine.dialect.name == "sqlite":
    # SQLAlchemy's documented pysqlite workaround (Python < 3.12): SQLAlchemy, not
    # sqlite3, emits BEGIN, so SAVEPOINT works inside the test's transaction.

    @event.listens_for(engine, "connect")
    def do_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def do_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


@pytest.fixture(scope="session", autouse=True)
def schema() -> Iterator[None]:
    Base.metadata.create_all(engine)
    yield
    Base.metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture
def db_session() -> Iterator[Session]:
    connection = engine.connect()
    trans = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    SessionLocal.configure(bind=connection, join_transaction_mode="create_savepoint")
    yield session
    SessionLocal.configure(bind=engine, join_transaction_mode="conservative_savepoint")
    session.close()
    trans.rollback()
    connection.close()
