"""Run the Postman collection with newman against a real gunicorn on a fresh database.

Used by ``invoke postman``: starts a throwaway embedded PostgreSQL, migrates and seeds it with the
environment file's passwords, serves the app with gunicorn in production mode (per-address rate
limits on, as deployed), runs the whole collection in order, stops everything and exits with
newman's status.
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import DEVELOPMENT_LOGIN_LIMIT  # noqa: E402
from bench.harness import Database, Server, production_env  # noqa: E402

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


def main() -> int:
    values = environment_values()
    newman = newman_command()
    with tempfile.TemporaryDirectory(prefix="gatehouse-postman-") as scratch:
        database = Database(Path(scratch))
        env = production_env(
            database.url,
            SEED_ADMIN_PASSWORD=values["adminPassword"],
            SEED_USER_PASSWORD=values["userPassword"],
            RATELIMIT_ENABLED="true",
            # The collection signs in (and checks codes) a dozen times in a few seconds.
            RATELIMIT_LOGIN=DEVELOPMENT_LOGIN_LIMIT,
        )
        database.flask("init-db", env=env)
        print(database.flask("seed-db", env=env), end="")
        server = Server(env, Path(scratch) / "web.log")
        try:
            server.wait_until_up()
            result = subprocess.run(
                [
                    *newman,
                    "run",
                    str(COLLECTION),
                    "--environment",
                    str(ENVIRONMENT),
                    "--env-var",
                    f"baseUrl={server.base_url}",
                    "--color",
                    "off",
                ],
                cwd=ROOT,
                check=False,
            )
        finally:
            server.stop()
            database.cleanup()
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
