"""Waiting on PostgreSQL itself: the proof that a request is held by a lock is the server's own
view of its sessions, not a timeout."""

import time

from sqlalchemy import text

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
