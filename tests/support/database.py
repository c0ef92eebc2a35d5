"""Waiting on PostgreSQL itself: the proof that a request is held by a lock is the server's own
view of its sessions, not a timeout. And a database of a test run's own on a shared server."""

import os
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


@contextmanager
def database_of_this_process(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``server_url``, named after this process (runs in
    parallel each have their own), dropped afterwards; yields its URL."""
    url = make_url(server_url)
    name = f"tests_{os.getpid()}"
    # CREATE and DROP DATABASE cannot run in a transaction; the name is made here, not input.
    server = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with server.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()
