"""Configuration: production refuses weak settings; database URLs are normalized."""

import pytest

from app import create_app
from app.config import ConfigError, load_config, normalize_database_url
from tests.support.processes import SIGNING_KEY

STRONG_KEY = "k" * 32


@pytest.fixture
def production_env(monkeypatch, database_url):
    monkeypatch.delenv("APP_CONFIG", raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("SIGNING_KEYS", SIGNING_KEY)
    return monkeypatch


def _refusal(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_production_refuses_to_start_without_database_url(production_env) -> None:
    production_env.delenv("DATABASE_URL")

    with pytest.raises(ConfigError) as excinfo:
        create_app("production")

    assert _refusal(excinfo) == "DATABASE_URL is not set: production needs a PostgreSQL URL"


@pytest.mark.parametrize("key", [None, "", "short", "k" * 31])
def test_production_refuses_a_missing_or_short_secret_key(production_env, key) -> None:
    if key is None:
        production_env.delenv("SECRET_KEY")
    else:
        production_env.setenv("SECRET_KEY", key)

    with pytest.raises(ConfigError) as excinfo:
        create_app("production")

    assert _refusal(excinfo) == "SECRET_KEY must be at least 32 bytes in production"


def test_unset_app_config_means_production(production_env) -> None:
    production_env.delenv("DATABASE_URL")

    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_app()


def test_production_starts_with_a_heroku_url_and_a_strong_key(production_env, database_url) -> None:
    heroku_url = "postgres://" + database_url.split("://", 1)[1]
    production_env.setenv("DATABASE_URL", heroku_url)

    app = create_app()

    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg2://")
    assert app.config["DEBUG"] is False
    assert app.config["TESTING"] is False
    response = app.test_client().get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@host:5432/db", "postgresql+psycopg2://u:p@host:5432/db"),
        (
            "postgresql://u:p@host/db?sslmode=require",
            "postgresql+psycopg2://u:p@host/db?sslmode=require",
        ),
        ("postgresql+psycopg2://u@/db?host=/tmp", "postgresql+psycopg2://u@/db?host=/tmp"),
    ],
)
def test_database_urls_are_pointed_at_psycopg2(given, expected) -> None:
    assert normalize_database_url(given) == expected


def test_unknown_app_config_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("APP_CONFIG", "staging")

    with pytest.raises(ConfigError) as excinfo:
        load_config()

    assert "APP_CONFIG must be one of development, production, testing" in _refusal(excinfo)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("JWT_ACCESS_LIFESPAN", "15min", "JWT_ACCESS_LIFESPAN must be an integer, got '15min'"),
        ("ARGON2_TIME_COST", "two", "ARGON2_TIME_COST must be an integer, got 'two'"),
        ("SESSIONS_PER_USER", "0", "SESSIONS_PER_USER must be at least 1, got 0"),
        (
            "MFA_REQUIRED_ROLES",
            "admin, Root!",
            "MFA_REQUIRED_ROLES names what no role can be called: Root!",
        ),
        (
            "MFA_ENCRYPTION_KEYS",
            "short",
            "MFA_ENCRYPTION_KEYS must hold Fernet keys (44 url-safe base64 characters)",
        ),
        (
            "OIDC_PROVIDERS",
            '[{"name": "Google", "issuer": "https://a.example", "client_id": "c", '
            '"client_secret": "s"}]',
            "OIDC_PROVIDERS: names must be unique: a-z, then a-z, 0-9, '-'",
        ),
        (
            "OIDC_PROVIDERS",
            '[{"name": "exchange", "issuer": "https://a.example", "client_id": "c", '
            '"client_secret": "s"}]',
            "OIDC_PROVIDERS: exchange cannot name a provider",
        ),
    ],
)
def test_malformed_numbers_are_named_in_one_line(production_env, name, value, message) -> None:
    production_env.setenv(name, value)

    with pytest.raises(ConfigError) as excinfo:
        load_config("production")

    assert _refusal(excinfo) == message


def test_token_lifespans_come_from_the_environment(production_env) -> None:
    production_env.setenv("JWT_ACCESS_LIFESPAN", "60")
    production_env.setenv("JWT_REFRESH_LIFESPAN", "3600")

    config = load_config("production")

    assert config.JWT_ACCESS_LIFESPAN == {"seconds": 60}
    assert config.JWT_REFRESH_LIFESPAN == {"seconds": 3600}


def test_development_without_database_url_uses_the_embedded_database(monkeypatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)

    config = load_config("development")

    assert config.EMBEDDED_DATABASE_DIR.endswith(".devdb")
    assert config.SQLALCHEMY_DATABASE_URI is None
    assert len(config.SECRET_KEY) >= 32


def test_heroku_connection_pooling_wins_over_the_direct_url(production_env) -> None:
    production_env.setenv("DATABASE_CONNECTION_POOL_URL", "postgres://u:p@pooler.example:5432/d")

    config = load_config("production")

    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg2://u:p@pooler.example:5432/d"
