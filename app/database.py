"""How the app talks to PostgreSQL cheaply: no round trip that does not carry a query.

A request that only reads would otherwise pay for four round trips around its one query: pool
pre-ping's ``SELECT 1``, the ``BEGIN`` psycopg2 sends before the first statement, the statement,
and the ``ROLLBACK`` when the session closes. Two helpers remove the three that carry nothing:

- ``discard_dead_connections`` checks a pooled connection before use without asking the server:
  a PostgreSQL that restarted, crashed or terminated the backend has sent its goodbye (or closed
  the socket), so the socket is readable; a healthy idle connection has nothing to read.
- ``read`` (and ``read_rows`` / ``read_row``, for Core statements) runs a plain ``SELECT``
  outside a transaction when the request has not opened one yet.
  Under READ COMMITTED every statement takes its own snapshot anyway, so a lone read sees exactly
  what it would see inside a transaction; and with no transaction open, closing the session sends
  nothing. Once a request has written (or flushed, or locked rows), reads join its transaction.
"""

import select as select_module
from contextlib import contextmanager

from flask import Flask
from psycopg2.extensions import TRANSACTION_STATUS_IDLE
from sqlalchemy import Row, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.sql import Executable

from app.extensions import db


def discard_dead_connections(dbapi_connection, connection_record, connection_proxy) -> None:
    """Pool checkout hook: refuse a connection the server has closed (the pool then opens a
    fresh one), at the cost of one non-blocking ``select()`` instead of a ``SELECT 1``."""
    if dbapi_connection.closed:
        raise DisconnectionError("The connection was closed.")
    readable, _, _ = select_module.select([dbapi_connection], [], [], 0)
    if readable:
        raise DisconnectionError("The server closed the connection or sent an unsolicited message.")


def install_connection_checks(app: Flask) -> None:
    with app.app_context():
        event.listen(db.engine, "checkout", discard_dead_connections)


@contextmanager
def autocommit(dbapi_connection):
    """psycopg2's own autocommit switch, for the block (SQLAlchemy's ``isolation_level``
    option would cost a round trip to set and another to reset)."""
    dbapi_connection.autocommit = True
    try:
        yield
    finally:
        if not dbapi_connection.closed:
            dbapi_connection.autocommit = False


def read(statement: Executable, params: dict | None = None):
    """Execute ``statement``, a plain ``SELECT`` (no ``FOR UPDATE``), in the request's session:
    in autocommit when no transaction is open and nothing waits to be flushed, otherwise inside
    the open transaction."""
    session = db.session
    if session.new or session.dirty or session.deleted:
        return session.execute(statement, params)
    connection = session.connection().connection.dbapi_connection
    if connection.autocommit or connection.info.transaction_status != TRANSACTION_STATUS_IDLE:
        return session.execute(statement, params)
    with autocommit(connection):
        return session.execute(statement, params)


def read_rows(statement: Executable, params: dict | None = None) -> list[Row]:
    """The rows of a plain Core ``SELECT`` (columns, not ORM objects), for the reads every
    request makes.

    When the request has not used its session yet, the statement runs on a pooled connection of
    its own in autocommit, without the ORM session's machinery (which costs more than the round
    trip); otherwise it joins the session, so it sees what the request has written so far.
    """
    if db.session().in_transaction():
        return read(statement, params).all()
    with db.engine.connect() as connection, autocommit(connection.connection.dbapi_connection):
        return connection.execute(statement, params).all()


def read_row(statement: Executable, params: dict | None = None) -> Row | None:
    """The first row of ``read_rows``."""
    rows = read_rows(statement, params)
    return rows[0] if rows else None
