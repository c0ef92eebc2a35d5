"""Run the Postman collection with newman against a real gunicorn on a fresh database.

Used by ``invoke postman``: starts a throwaway embedded PostgreSQL, migrates and seeds it with the
environment file's passwords, serves the app with gunicorn in production mode, runs the whole
collection in order, stops everything and exits with newman's status.
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLLECTION = ROOT / "postman" / "gatehouse.postman_collection.json"
ENVIRONMENT = ROOT / "postman" / "gatehouse.postman_environment.json"
NEWMAN_VERSION = "6"


def environment_values() -> dict[str, str]:
    values = json.loads(ENVIRONMENT.read_text())["values"]
    return {value["key"]: value["value"] for value in values}


def newman_command() -> list[str]:
    """newman from PATH, else from ./node_modules, installed from npm when missing."""
    found = shutil.which("newman")
    if found:
        return [found]
    local = ROOT / "node_modules" / ".bin" / "newman"
    if not local.exists():
        print(f"Installing newman@{NEWMAN_VERSION} from npm into ./node_modules ...", flush=True)
        subprocess.run(
            ["npm", "install", "--no-save", "--no-audit", "--no-fund", f"newman@{NEWMAN_VERSION}"],
            cwd=ROOT,
            check=True,
        )
    return [str(local)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(base_url: str, server: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn exited before answering /health")
        try:
            with urllib.request.urlopen(base_url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /health in time")


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from app.embedded_db import start_embedded_postgres

    values = environment_values()
    newman = newman_command()
    with tempfile.TemporaryDirectory(prefix="gatehouse-postman-") as scratch:
        database = start_embedded_postgres(Path(scratch) / "data", delete_on_exit=True)
        port = free_port()
        env = {
            **os.environ,
            "APP_CONFIG": "production",
            "FLASK_SKIP_DOTENV": "1",
            "DATABASE_URL": database.get_uri("postgres", driver="psycopg2"),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "SEED_ADMIN_PASSWORD": values["adminPassword"],
            "SEED_USER_PASSWORD": values["userPassword"],
        }
        flask = [sys.executable, "-m", "flask", "--app", "app"]
        subprocess.run([*flask, "init-db"], cwd=ROOT, env=env, check=True)
        subprocess.run([*flask, "seed-db"], cwd=ROOT, env=env, check=True)
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "app:create_app()", "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(base_url, server)
            result = subprocess.run(
                [
                    *newman,
                    "run",
                    str(COLLECTION),
                    "--environment",
                    str(ENVIRONMENT),
                    "--env-var",
                    f"baseUrl={base_url}",
                    "--color",
                    "off",
                ],
                cwd=ROOT,
                check=False,
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
            database.cleanup()
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
