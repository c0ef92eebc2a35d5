"""Configuration: one base class (``app.config.base``) and one class per deployment, chosen by
name. Everything that differs between deployments comes from environment variables; production
refuses to start on a missing or weak setting, with a one-line explanation."""

import os

from app.config.base import (
    ARGON2_MEMORY_COST_KIB,
    ARGON2_PARALLELISM,
    ARGON2_TIME_COST,
    EMAIL_TEMPLATES,
    FAST_PATHS,
    PROJECT_ROOT,
    Config,
)
from app.config.env import ConfigError, normalize_database_url
from app.config.providers import EXACT_ORIGIN, PROVIDER_NAME, RESERVED_PROVIDER_NAMES

__all__ = [
    "ARGON2_MEMORY_COST_KIB",
    "ARGON2_PARALLELISM",
    "ARGON2_TIME_COST",
    "EMAIL_TEMPLATES",
    "FAST_PATHS",
    "PROJECT_ROOT",
    "PROVIDER_NAME",
    "RESERVED_PROVIDER_NAMES",
    "Config",
    "ConfigError",
    "load_config",
    "normalize_database_url",
]

MIN_SECRET_KEY_BYTES = 32
# Development's per-address login limit: the Postman collection signs in a dozen times at once.
DEVELOPMENT_LOGIN_LIMIT = "60 per minute"


class DevelopmentConfig(Config):
    """Local development: embedded PostgreSQL in .devdb/ unless DATABASE_URL is set."""

    name = "development"

    def __init__(self) -> None:
        super().__init__()
        self.DEBUG = True
        # Development only: a fixed key so tokens survive a restart of the dev server.
        self.SECRET_KEY = self.SECRET_KEY or "development-only-key-never-use-in-production-0123"
        self.SEED_DEFAULT_PASSWORDS_ALLOWED = True
        if "RATELIMIT_LOGIN" not in os.environ:
            self.RATELIMIT_LOGIN = DEVELOPMENT_LOGIN_LIMIT
        # Development only: the docs page keeps its token across reloads (in localStorage).
        self.OPENAPI_SWAGGER_UI_CONFIG["persistAuthorization"] = True
        # Development writes e-mails to files instead of sending them.
        if "MAIL_BACKEND" not in os.environ:
            self.MAIL_BACKEND = "file"
            self.MAIL_FILE_PATH = os.environ.get("MAIL_FILE_PATH") or str(
                PROJECT_ROOT / "instance" / "mail"
            )
        if self.SQLALCHEMY_DATABASE_URI is None:
            self.EMBEDDED_DATABASE_DIR = str(PROJECT_ROOT / ".devdb")


class TestingConfig(Config):
    """The test suite: a throwaway database from TEST_DATABASE_URL."""

    name = "testing"

    def __init__(self) -> None:
        super().__init__()
        self.TESTING = True
        # The tests build apps before they migrate; a test checks the catalog itself.
        self.CHECK_PERMISSIONS_AT_START = False
        self.SECRET_KEY = "testing-key-" + "x" * 52
        test_url = os.environ.get("TEST_DATABASE_URL")
        if not test_url:
            raise ConfigError("TEST_DATABASE_URL is not set: the testing config needs a database")
        self.SQLALCHEMY_DATABASE_URI = normalize_database_url(test_url)
        self.SEED_DEFAULT_PASSWORDS_ALLOWED = True
        self.MAIL_BACKEND = "locmem"
        # E-mail is sent in the request, into the in-memory outbox tests read (the queue and
        # its worker have tests of their own).
        self.MAIL_QUEUE = False
        # Tests switch it on where they test it; the rest log in many times from one address.
        self.RATELIMIT_ENABLED = False


class ProductionConfig(Config):
    """Heroku and any other real deployment: refuses to start on a missing or weak setting."""

    name = "production"

    def __init__(self) -> None:
        super().__init__()
        if not self.SQLALCHEMY_DATABASE_URI:
            raise ConfigError("DATABASE_URL is not set: production needs a PostgreSQL URL")
        if not self.SECRET_KEY or len(self.SECRET_KEY.encode()) < MIN_SECRET_KEY_BYTES:
            raise ConfigError(
                f"SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes in production"
            )
        if not self.SIGNING_KEYS:
            raise ConfigError(
                "SIGNING_KEYS is not set: production signs access tokens with configured keys "
                "(flask --app app generate-signing-key prints one)"
            )
        for provider in self.OIDC_PROVIDERS:
            if not provider["issuer"].startswith("https://"):
                raise ConfigError(
                    f"OIDC_PROVIDERS: the issuer of {provider['name']} must be an https:// URL "
                    "in production"
                )
        if self.REFRESH_COOKIE:
            loose = [origin for origin in self.CORS_ORIGINS if not EXACT_ORIGIN.fullmatch(origin)]
            if loose:
                raise ConfigError(
                    f"CORS_ORIGINS must list exact origins (scheme://host[:port]) while "
                    f"REFRESH_COOKIE sends credentials: {', '.join(loose)} would let other sites "
                    "use the refresh cookie"
                )
        if self.WEBHOOK_ALLOWED_ORIGINS:
            raise ConfigError(
                "WEBHOOK_ALLOWED_ORIGINS is set: it lets webhooks reach http:// and loopback "
                "origins, for development and tests only; production refuses it"
            )
        # On Heroku (its dynos set DYNO) one router stands in front: without this, every limit
        # would count the router's address, and one client's failures would lock out everyone.
        if "TRUSTED_PROXY_HOPS" not in os.environ and os.environ.get("DYNO"):
            self.TRUSTED_PROXY_HOPS = 1
            self.PROXY_HOPS_FROM_PLATFORM = True
        self.HSTS_ENABLED = True


CONFIGS: dict[str, type[Config]] = {
    cls.name: cls for cls in (DevelopmentConfig, TestingConfig, ProductionConfig)
}


def load_config(name: str | None = None) -> Config:
    """Build the config named by ``name``, else by APP_CONFIG, else production."""
    chosen = name or os.environ.get("APP_CONFIG") or "production"
    try:
        return CONFIGS[chosen]()
    except KeyError:
        known = ", ".join(sorted(CONFIGS))
        raise ConfigError(f"APP_CONFIG must be one of {known}, got {chosen!r}") from None
