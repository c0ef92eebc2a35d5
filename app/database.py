"""How the app uses its PostgreSQL connections: every request goes through Flask-SQLAlchemy's
session, and two things keep that cheap.

- ``read_without_transaction``: a request with a safe method (GET, HEAD, OPTIONS) only reads, so
  its session's connection runs in psycopg2's autocommit mode. Under READ COMMITTED every
  statement takes its own snapshot anyway, so a read sees what it would see in a transaction;
  what goes is the ``BEGIN`` before the first statement and the ``ROLLBACK`` when the session
  closes, two round trips of the three a request that reads one row would otherwise make.
  Requests that write (POST, PUT, PATCH, DELETE, and a GET view marked ``writes_on_get``) run in
  a transaction, as usual; any other safe request that tries to flush a change is a bug, and is
  refused before anything is written (``refuse_writes_in_safe_requests``).
  (psycopg2's ``autocommit`` switch, not SQLAlchemy's ``isolation_level`` option: that one makes
  psycopg2 pin the isolation level, and then send ``SET default_transaction_isolation`` when the
  connection goes back to transactions, a session-wide setting a connection pooler in front of
  PostgreSQL must not see.)
- ``discard_dead_connections`` replaces pool pre-ping: a PostgreSQL that restarted, crashed or
  terminated the backend has sent its goodbye (or closed the socket), so the socket of a dead
  pooled connection is readable, while a healthy idle one has nothing to read. A non-blocking
  ``select()`` tells them apart without the ``SELECT 1`` round trip pre-ping would cost on every
  checkout.
"""

import select as select_module
from contextlib import contextmanager

from flask import Flask, current_app, has_request_context, request
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import ORMExecuteState, Session

from app.extensions import db


def discard_dead_connections(dbapi_connection, connection_record, connection_proxy) -> None:
    """Pool checkout hook: refuse a connection the server has closed (the pool then opens a
    fresh one)."""
    if dbapi_connection.closed:
        raise DisconnectionError("The connection was closed.")
    readable, _, _ = select_module.select([dbapi_connection], [], [], 0)
    if readable:
        raise DisconnectionError("The server closed the connection or sent an unsolicited message.")


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def writes_on_get(view):
    """Mark a view whose GET writes, in a transaction (a provider sign-in's redirects, which a
    browser follows with GET, keep and use up its tickets). Put it right under the route."""
    view.writes_on_get = True
    return view


def reads_only() -> bool:
    """Whether the request being served only reads (a safe method, not a view that writes)."""
    if not has_request_context() or request.method not in SAFE_METHODS:
        return False
    view = current_app.view_functions.get(request.endpoint)
    return not getattr(view, "writes_on_get", False)


def read_without_transaction(state: ORMExecuteState) -> None:
    """``do_orm_execute``: before the first statement of a safe request's session, its
    connection switches to autocommit (a request that never touches the database checks none
    out)."""
    session = state.session
    if (
        reads_only()
        and not session.in_transaction()
        and "autocommit_reads" in current_app.config["FAST_PATHS"]
    ):
        session.connection().connection.dbapi_connection.autocommit = True


def refuse_writes_in_safe_requests(session: Session, flush_context, instances) -> None:
    """``before_flush``: without a transaction, a safe request's writes would not be atomic."""
    if reads_only():
        raise RuntimeError(f"A {request.method} request tried to write to the database.")


def restore_transactions(dbapi_connection, connection_record) -> None:
    """Pool checkin: the next user of the connection gets transactions again."""
    if dbapi_connection is not None and not dbapi_connection.closed:
        dbapi_connection.autocommit = False


def install_connection_checks(app: Flask) -> None:
    with app.app_context():
        event.listen(db.engine, "checkout", discard_dead_connections)
        event.listen(db.engine, "checkin", restore_transactions)
    if not event.contains(Session, "do_orm_execute", read_without_transaction):
        event.listen(Session, "do_orm_execute", read_without_transaction)
        event.listen(Session, "before_flush", refuse_writes_in_safe_requests)


@contextmanager
def recorded_statements(engine):
    """Lists the SQL statements sent on ``engine`` during the block (for tests and the
    benchmark)."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
