"""Reading settings from the environment: integers, booleans and lists with a one-line error when
a value is not one, database URLs pointed at psycopg2, and flask-mailman's settings."""

import os


class ConfigError(RuntimeError):
    """The environment does not allow the application to start; the message says why."""


def normalize_database_url(url: str) -> str:
    """Point postgres URLs at psycopg2, whatever spelling the provider uses.

    Heroku hands out ``postgres://``; SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3,
    which is not installed. Both become ``postgresql+psycopg2://``.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def env_int(name: str, default: int) -> int:
    """An integer from the environment, with a one-line error when it is not one."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def env_list(name: str) -> list[str]:
    """A comma-separated list from the environment (empty when unset)."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def env_bool(name: str, default: bool) -> bool:
    """A boolean from the environment: true/false, 1/0, yes/no, on/off."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


# Every flask-mailman setting, and how to read it from the environment.
MAIL_SETTINGS = {
    "MAIL_BACKEND": str,
    "MAIL_FILE_PATH": str,
    "MAIL_SERVER": str,
    "MAIL_PORT": int,
    "MAIL_USERNAME": str,
    "MAIL_PASSWORD": str,
    "MAIL_USE_TLS": bool,
    "MAIL_USE_SSL": bool,
    "MAIL_DEFAULT_SENDER": str,
    "MAIL_TIMEOUT": int,
    "MAIL_SSL_KEYFILE": str,
    "MAIL_SSL_CERTFILE": str,
    "MAIL_USE_LOCALTIME": bool,
    "MAIL_DEFAULT_CHARSET": str,
}


def mail_settings_from_env() -> dict:
    """The MAIL_* variables that are set, converted to the types flask-mailman expects."""
    settings = {}
    for name, kind in MAIL_SETTINGS.items():
        if os.environ.get(name, "").strip() == "":
            continue
        if kind is int:
            settings[name] = env_int(name, 0)
        elif kind is bool:
            settings[name] = env_bool(name, False)
        else:
            settings[name] = os.environ[name]
    return settings
