"""Reading a Heroku app's database URL with the Heroku CLI, as ``invoke heroku-db-url`` and
``invoke dev --heroku`` do."""

import shutil
import subprocess

from app.config import ConfigError, normalize_database_url


def heroku_database_url(app_name: str | None) -> str:
    """``heroku config:get DATABASE_URL -a APP``, ready for SQLAlchemy; one-line errors."""
    if not app_name:
        raise ConfigError("HEROKU_APP_NAME is not set: name the Heroku app to read from")
    cli = shutil.which("heroku")
    if cli is None:
        raise ConfigError(
            "the Heroku CLI is not installed: install it (https://devcenter.heroku.com/articles/"
            "heroku-cli) and run 'heroku login'"
        )
    result = subprocess.run(  # noqa: S603 (fixed arguments; the app name is passed as one)
        [cli, "config:get", "DATABASE_URL", "-a", app_name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    url = result.stdout.strip()
    if result.returncode != 0 or not url:
        reason = (result.stderr.strip().splitlines() or ["no DATABASE_URL"])[-1]
        raise ConfigError(f"heroku config:get DATABASE_URL -a {app_name} failed: {reason}")
    return normalize_database_url(url)
