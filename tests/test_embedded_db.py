"""The embedded PostgreSQL used by development and tests."""

import json
import os
import subprocess
import sys

from sqlalchemy import create_engine, text

from app.embedded_db import HANDLE_PIDS_FILE, drop_stale_handles


def test_dead_processes_are_dropped_from_the_handle_list(tmp_path) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(finished.stdout)
    handles = tmp_path / HANDLE_PIDS_FILE
    handles.write_text(json.dumps([os.getpid(), dead_pid]))

    kept = drop_stale_handles(tmp_path)

    assert kept == [os.getpid()]
    assert json.loads(handles.read_text()) == [os.getpid()]


def test_a_corrupt_or_missing_handle_list_is_treated_as_empty(tmp_path) -> None:
    assert drop_stale_handles(tmp_path) == []
    (tmp_path / HANDLE_PIDS_FILE).write_text("{not json")

    assert drop_stale_handles(tmp_path) == []
    assert json.loads((tmp_path / HANDLE_PIDS_FILE).read_text()) == []


def test_the_test_database_is_a_real_postgresql(database_url) -> None:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        version = connection.execute(text("SHOW server_version_num")).scalar()
    engine.dispose()

    assert int(version) >= 150000
