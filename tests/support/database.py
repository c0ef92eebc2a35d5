"""Waiting on PostgreSQL itself: the proof that a request is held by a lock is the server's own
view of its sessions, not a timeout. And a database of a test run's own on a shared server."""

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

WAITING_FOR_A_LOCK = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
)


def wait_until_a_statement_waits_for_a_lock(engine, seconds: float = 10) -> None:
    """Until some session of this database waits for a lock (``pg_stat_activity``), or fail.
    Each look is a transaction of its own: within one, PostgreSQL answers from the snapshot of
    the activity it took first (``stats_fetch_consistency``)."""
    deadline = time.monotonic() + seconds
    with engine.connect() as connection:
        while True:
            waiting = connection.execute(WAITING_FOR_A_LOCK).scalar_one()
            connection.rollback()
            if waiting:
                return
            assert time.monotonic() < deadline, "no statement waited for a lock"
            time.sleep(0.02)


IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@contextmanager
def database_of_this_process(server_url: str, template: str | None = None) -> Iterator[str]:
    """A new database on the server of ``server_url``, named after this process (runs in
    parallel each have their own), dropped afterwards; yields its URL. Empty, or a copy of the
    database ``template`` (PostgreSQL copies its files: far quicker than migrating again)."""
    url = make_url(server_url)
    name = f"tests_{os.getpid()}"
    if template is not None and not IDENTIFIER.fullmatch(template):
        raise ValueError(f"not a database name: {template!r}")
    copy_of = f" TEMPLATE {template}" if template else ""
    # CREATE and DROP DATABASE cannot run in a transaction; the names are checked above.
    server = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with server.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}{copy_of}"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()


def build_template() -> None:
    """The database TEST_DATABASE_TEMPLATE, migrated from nothing, on the server
    TEST_DATABASE_SERVER_URL names (``invoke mutate``)."""
    from app import create_app
    from app.cli import init_db
    from app.extensions import db

    url = make_url(os.environ["TEST_DATABASE_SERVER_URL"])
    name = os.environ["TEST_DATABASE_TEMPLATE"]
    if not IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a database name: {name!r}")
    server = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with server.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    server.dispose()
    os.environ["TEST_DATABASE_URL"] = url.set(database=name).render_as_string(hide_password=False)
    app = create_app("testing")
    with app.app_context():
        init_db(drop=True)
        db.session.remove()
        db.engine.dispose()
