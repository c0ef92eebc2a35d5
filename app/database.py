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

The reads every request makes (the token's account, the first page of a list) are
``PreparedRead`` statements: built and compiled once per process, planned once per connection by
PostgreSQL (``PREPARE``/``EXECUTE``, generic plans), and run on the driver's cursor without
SQLAlchemy's per-statement machinery, which costs more than the query itself.
"""

import itertools
import select as select_module
from collections import namedtuple
from collections.abc import Callable, Mapping
from contextlib import contextmanager

import psycopg2
from flask import Flask
from flask.globals import _cv_app
from psycopg2 import errors as pg_errors
from psycopg2.extensions import TRANSACTION_STATUS_IDLE
from sqlalchemy import Row, Select, String, event
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable
from sqlalchemy.types import NullType, TypeEngine

from app.extensions import db


def discard_dead_connections(dbapi_connection, connection_record, connection_proxy) -> None:
    """Pool checkout hook: refuse a connection the server has closed (the pool then opens a
    fresh one), at the cost of one non-blocking ``select()`` instead of a ``SELECT 1``."""
    if dbapi_connection.closed:
        raise DisconnectionError("The connection was closed.")
    readable, _, _ = select_module.select([dbapi_connection], [], [], 0)
    if readable:
        raise DisconnectionError("The server closed the connection or sent an unsolicited message.")


def commit_without_waiting(conn, cursor, statement, parameters, context, executemany):
    """``before_cursor_execute`` hook: a statement executed with the ``asynchronous_commit``
    option runs in a transaction that commits without waiting for its WAL record to reach the
    disk (``SET LOCAL synchronous_commit = off``, sent in the same round trip).

    For bookkeeping whose loss in a server crash harms no one (the last login time): the
    commit stays atomic and ordered, only the last fraction of a second of such commits may be
    lost if PostgreSQL or the machine crashes. With both cores busy hashing, a login's UPDATE
    took 3.9 ms waiting for its flush and 0.09 ms without it (measured on 2 cores). When the
    statement joins an open transaction, the setting holds for that transaction.
    """
    if context is not None and context.execution_options.get("asynchronous_commit"):
        statement = f"SET LOCAL synchronous_commit = off; {statement}"
    return statement, parameters


def install_connection_checks(app: Flask) -> None:
    with app.app_context():
        event.listen(db.engine, "checkout", discard_dead_connections)
        event.listen(db.engine, "before_cursor_execute", commit_without_waiting, retval=True)
    app.teardown_appcontext(return_reads_connection)
    if not event.contains(Session, "after_transaction_create", release_reads_connection):
        event.listen(Session, "after_transaction_create", release_reads_connection)


# Where an app context keeps the pooled connection its prepared reads share.
READS_CONNECTION = "_prepared_reads_connection"


def reads_connection():
    """The pooled connection the prepared reads of this app context (a request) share: checked
    out by the first read, returned to the pool when the app context ends
    (``return_reads_connection``). A list's token check and page then cost one checkout, not
    two: a checkout and its return cost more than a prepared read's own Python (py-spy). The
    connection goes back early when the request's ORM session begins
    (``release_reads_connection``)."""
    app_globals = _cv_app.get().g
    connection = app_globals.__dict__.get(READS_CONNECTION)
    if connection is not None:
        if connection.is_valid:
            return connection
        connection.close()
    try:
        connection = db.engine.raw_connection()
    except psycopg2.Error as error:
        raise DBAPIError.instance(
            None, None, error, psycopg2.Error, connection_invalidated=True
        ) from error
    setattr(app_globals, READS_CONNECTION, connection)
    return connection


def return_reads_connection(error: BaseException | None = None) -> None:
    """``teardown_appcontext``: the prepared reads' connection goes back to the pool."""
    app_context = _cv_app.get(None)
    connection = app_context.g.__dict__.pop(READS_CONNECTION, None) if app_context else None
    if connection is not None:
        connection.close()


def release_reads_connection(session, transaction) -> None:
    """``after_transaction_create``: a session about to take a connection gets the one the
    prepared reads held, so a request never holds two (a pool of one connection works as
    before). The request's later reads join the session while its transaction is open."""
    return_reads_connection()


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
    return execute_alone(statement, params)


def execute_alone(statement: Executable, params: dict | None = None):
    """Execute ``statement`` in the request's session as a transaction of its own (autocommit:
    no ``BEGIN`` and ``COMMIT`` round trips) when no transaction is open and nothing waits to be
    flushed; otherwise inside the open transaction, which the caller commits as usual."""
    session = db.session
    if session.new or session.dirty or session.deleted:
        return session.execute(statement, params)
    connection = session.connection().connection.dbapi_connection
    if connection.autocommit or connection.info.transaction_status != TRANSACTION_STATUS_IDLE:
        return session.execute(statement, params)
    with autocommit(connection):
        return session.execute(statement, params)


class PreparedRead:
    """A plain ``SELECT`` that requests run often, ready to run without SQLAlchemy: compiled
    once, and prepared by PostgreSQL once per pooled connection (the first run sends ``PREPARE``
    and ``EXECUTE`` together, later runs only ``EXECUTE``). Bind parameters the caller does not
    pass keep the values written into the statement."""

    _numbers = itertools.count(1)
    # Called with each run's SQL (see ``recorded_statements``).
    observers: list[Callable[[str], None]] = []
    # $1, $2, ... as PREPARE expects them.
    _dialect = PGDialect_psycopg2(paramstyle="numeric_dollar")

    def __init__(self, statement: Select) -> None:
        self.statement = statement
        self.name = f"gatehouse_read_{next(self._numbers)}"
        compiled = statement.compile(dialect=self._dialect)
        self._parameters = compiled.positiontup or []
        self._defaults = compiled.params
        types = ", ".join(
            self._parameter_type(compiled.binds[name].type) for name in self._parameters
        )
        arguments = ", ".join(["%s"] * len(self._parameters))
        self._execute = f"EXECUTE {self.name}" + (f"({arguments})" if arguments else "")
        # Sent with the EXECUTE in one round trip (psycopg2 then formats the whole string).
        # Generic plans: PostgreSQL would otherwise plan a page afresh on every run, because
        # a LIMIT parameter makes the generic plan's estimate look worse than it is. These
        # statements' parameters (an id, page bounds) never change the best plan. The setting
        # stays with the pooled connection, where nothing else is prepared (psycopg2 prepares
        # nothing) and our triggers' lookups by key plan the same either way.
        self._prepare = (
            "SET plan_cache_mode = force_generic_plan; "
            f"PREPARE {self.name}"
            + (f" ({types})" if types else "")
            + f" AS {compiled.string.replace('%', '%%')}; "
        )
        self.row = namedtuple("Row", statement.selected_columns.keys(), rename=True)

    @classmethod
    def _parameter_type(cls, type_: TypeEngine) -> str:
        """A parameter's SQL type for PREPARE: strings as ``text`` (a ``varchar(n)`` parameter
        would cut longer values down before comparing them), untyped ones left to PostgreSQL."""
        if isinstance(type_, NullType):
            return "unknown"
        if isinstance(type_, String):
            return "text"
        return type_.compile(dialect=cls._dialect)

    def rows(self, params: Mapping | None = None) -> list:
        """Run in autocommit on the pooled connection the request's prepared reads share."""
        params = params or {}
        values = [params.get(name, self._defaults[name]) for name in self._parameters]
        return [self.row._make(row) for row in self._run(reads_connection(), values)]

    def _run(self, connection, values: list) -> list[tuple]:
        for observe in PreparedRead.observers:
            observe(f"EXECUTE {self.name} /* {self.statement} */")
        dbapi_connection = connection.dbapi_connection
        prepared = connection.info.setdefault("prepared_reads", set())
        sql = self._execute if self.name in prepared else self._prepare + self._execute
        try:
            with autocommit(dbapi_connection), dbapi_connection.cursor() as cursor:
                try:
                    cursor.execute(sql, values)
                except (
                    pg_errors.InvalidSqlStatementName,
                    pg_errors.DuplicatePreparedStatement,
                    pg_errors.FeatureNotSupported,
                ):
                    # Someone ran DEALLOCATE or DISCARD on the connection, a PREPARE outlived
                    # its failed EXECUTE, or a migration changed the columns under the plan:
                    # prepare afresh.
                    cursor.execute(f"DEALLOCATE ALL; {self._prepare}{self._execute}", values)
                    prepared.clear()
                prepared.add(self.name)
                return cursor.fetchall()
        except psycopg2.Error as error:
            lost = dbapi_connection.closed or isinstance(
                error, psycopg2.OperationalError | psycopg2.InterfaceError
            )
            if lost:
                connection.invalidate(error)
            raise DBAPIError.instance(
                self._execute, values, error, psycopg2.Error, connection_invalidated=lost
            ) from error


def read_rows(statement: Executable | PreparedRead, params: dict | None = None) -> list[Row]:
    """The rows of a plain Core ``SELECT`` (columns, not ORM objects), for the reads every
    request makes.

    When the request has not used its session yet, the statement runs on a pooled connection of
    its own in autocommit, without the ORM session's machinery (which costs more than the round
    trip); otherwise it joins the session, so it sees what the request has written so far.
    """
    prepared = statement if isinstance(statement, PreparedRead) else None
    # (Without asking a session that the request has not created yet: creating one costs.)
    if db.session.registry.has() and db.session().in_transaction():
        return read(prepared.statement if prepared else statement, params).all()
    if prepared:
        return prepared.rows(params)
    with db.engine.connect() as connection, autocommit(connection.connection.dbapi_connection):
        return connection.execute(statement, params).all()


def read_row(statement: Executable | PreparedRead, params: dict | None = None) -> Row | None:
    """The first row of ``read_rows``."""
    rows = read_rows(statement, params)
    return rows[0] if rows else None


@contextmanager
def recorded_statements(engine):
    """Lists the SQL statements sent on ``engine`` during the block: those SQLAlchemy sends, and
    the prepared reads, which bypass it (as ``EXECUTE name /* their SQL */``). For the tests and
    the benchmark."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    PreparedRead.observers.append(statements.append)
    try:
        yield statements
    finally:
        PreparedRead.observers.remove(statements.append)
        event.remove(engine, "before_cursor_execute", record)
