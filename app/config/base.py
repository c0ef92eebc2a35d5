"""The settings every deployment shares, one section per concern, each read from the
environment when a config object is built (not at import), so a test can change the environment
and build another."""

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from app.config.env import (
    ConfigError,
    env_bool,
    env_int,
    env_list,
    mail_settings_from_env,
    normalize_database_url,
)
from app.config.providers import LOOPBACK_ADDRESSES, normalized_origin, providers_from_env

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
EMAIL_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"
FERNET_KEY = re.compile(r"[A-Za-z0-9_-]{43}=")
ROLE_NAME = re.compile(r"[a-z][a-z0-9_.-]{1,63}")
ONE_MEBIBYTE = 1024 * 1024
# argon2id at OWASP's minimum. OWASP lists five settings of equal strength that trade memory for
# passes (46 MiB x 1 ... 7 MiB x 5); this is the 7 MiB one. A worker keeps its argon2 buffer
# after the first login, so memory is what a web worker is short of; and a verification takes
# less time than with 19 MiB x 2 (measured in bench/README.md).
ARGON2_MEMORY_COST_KIB = 7 * 1024
ARGON2_TIME_COST = 5
ARGON2_PARALLELISM = 1
FAST_PATHS = ("autocommit_reads", "sql_dump", "token_cache", "hashing_thread")


class Config:
    """Settings shared by every deployment, one section per concern."""

    name = "base"

    def __init__(self) -> None:
        self.SECRET_KEY = os.environ.get("SECRET_KEY")
        self.PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip(
            "/"
        )
        self.database()
        self.tokens_and_sessions()
        self.passwords_and_sign_in()
        self.rate_limits()
        self.permissions()
        self.organizations()
        self.api_documents()
        self.operations()
        self.accounts_and_mail()
        self.passkeys()
        self.providers()
        self.webhooks()

    def database(self) -> None:
        # Heroku's connection pooling (PgBouncer), attached as DATABASE_CONNECTION_POOL, sets
        # DATABASE_CONNECTION_POOL_URL: every process then connects through it.
        database_url = os.environ.get("DATABASE_CONNECTION_POOL_URL") or os.environ.get(
            "DATABASE_URL"
        )
        self.SQLALCHEMY_DATABASE_URI = (
            normalize_database_url(database_url) if database_url else None
        )
        self.SQLALCHEMY_ENGINE_OPTIONS = {
            # At most this many connections per process, whatever its threads (the connection
            # budget in the README's Scaling section); a thread waits for a free one.
            "pool_size": env_int("DATABASE_POOL_SIZE", 5),
            "max_overflow": 0,
            "pool_timeout": env_int("DATABASE_POOL_TIMEOUT", 10),
            # Pooled connections are always checked before use without a round trip (see
            # app/database.py); a SELECT 1 as well is only worth it where connections can die
            # silently (a proxy or NAT between the app and PostgreSQL).
            "pool_pre_ping": env_bool("DATABASE_PRE_PING", False),
            # Errors and logs never show bound parameters (password hashes, e-mails).
            "hide_parameters": True,
            # Fail fast rather than hang when the database cannot be reached.
            "connect_args": {"connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 5)},
        }
        self.SQLALCHEMY_TRACK_MODIFICATIONS = False
        self.EMBEDDED_DATABASE_DIR = None
        # The measured fast paths (bench/README.md), all on; the benchmark's ablation builds apps
        # with one off (bench/ablation.py).
        self.FAST_PATHS = set(FAST_PATHS)

    def tokens_and_sessions(self) -> None:
        # Access tokens: signed with SIGNING_KEYS (app/tokens/keys.py; development and tests
        # keep keys in the database), for this issuer and audience.
        self.SIGNING_KEYS = os.environ.get("SIGNING_KEYS", "").strip()
        self.SIGNING_KEY_NEXT = os.environ.get("SIGNING_KEY_NEXT", "").strip()
        self.JWT_ISSUER = (
            os.environ.get("JWT_ISSUER", "").strip().rstrip("/") or self.PUBLIC_BASE_URL
        )
        self.JWT_AUDIENCE = os.environ.get("JWT_AUDIENCE", "").strip() or self.JWT_ISSUER
        self.JWT_ACCESS_LIFESPAN = {"seconds": env_int("JWT_ACCESS_LIFESPAN", 15 * 60)}
        # A session lasts this long after its login, however often it is refreshed ...
        self.JWT_REFRESH_LIFESPAN = {"seconds": env_int("JWT_REFRESH_LIFESPAN", 30 * 24 * 3600)}
        # ... and ends after this long without a refresh.
        self.SESSION_IDLE_LIFESPAN = env_int("SESSION_IDLE_LIFESPAN", 7 * 24 * 3600)
        self.SESSIONS_PER_USER = env_int("SESSIONS_PER_USER", 10)
        if self.SESSIONS_PER_USER < 1:
            raise ConfigError(f"SESSIONS_PER_USER must be at least 1, got {self.SESSIONS_PER_USER}")
        # Access tokens each worker keeps verified (app/tokens/verified.py): the least recently
        # used goes past this many.
        self.ACCESS_TOKEN_CACHE_SIZE = env_int("ACCESS_TOKEN_CACHE_SIZE", 2048)
        # Seconds in which a retired refresh token is a client's retry, not a theft.
        self.REFRESH_REUSE_GRACE = env_int("REFRESH_REUSE_GRACE", 10)
        # Seconds after a password check in which a token may use the "fresh" routes.
        self.REAUTH_WINDOW = env_int("REAUTH_WINDOW", 300)
        # Personal access tokens: lifespan when none is asked for, at most, and how many a user
        # may hold.
        self.PAT_DEFAULT_LIFESPAN = env_int("PAT_DEFAULT_LIFESPAN", 30 * 24 * 3600)
        self.PAT_MAX_LIFESPAN = env_int("PAT_MAX_LIFESPAN", 365 * 24 * 3600)
        self.PATS_PER_USER = env_int("PATS_PER_USER", 50)
        # Browser mode: the refresh token travels in an HttpOnly cookie, not in bodies.
        self.REFRESH_COOKIE = env_bool("REFRESH_COOKIE", False)
        # flask-praetorian: bearer tokens in the Authorization header only; its errors are ours.
        self.JWT_PLACES = ["header"]
        self.DISABLE_PRAETORIAN_ERROR_HANDLER = True
        self.PRAETORIAN_CONFIRMATION_LIFESPAN = {
            "seconds": env_int("CONFIRMATION_LIFESPAN", 24 * 3600)
        }
        self.PRAETORIAN_RESET_LIFESPAN = {"seconds": env_int("RESET_LIFESPAN", 30 * 60)}

    def passwords_and_sign_in(self) -> None:
        self.PRAETORIAN_HASH_SCHEME = "argon2"
        self.PRAETORIAN_HASH_ALLOWED_SCHEMES = ["argon2", "pbkdf2_sha512"]
        self.PRAETORIAN_HASH_DEPRECATED_SCHEMES = ["pbkdf2_sha512"]
        self.ARGON2_MEMORY_COST_KIB = env_int("ARGON2_MEMORY_COST_KIB", ARGON2_MEMORY_COST_KIB)
        self.ARGON2_TIME_COST = env_int("ARGON2_TIME_COST", ARGON2_TIME_COST)
        self.ARGON2_PARALLELISM = env_int("ARGON2_PARALLELISM", ARGON2_PARALLELISM)
        # Ask Have I Been Pwned (k-anonymity range API) whether a new password was breached.
        self.PASSWORD_BREACH_CHECK = env_bool("PASSWORD_BREACH_CHECK", False)
        self.LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
        self.LOGIN_LOCKOUT = env_int("LOGIN_LOCKOUT", 15 * 60)
        # Failures against one login name, from all addresses, after which its checks slow down.
        self.LOGIN_SLOWDOWN_AFTER = env_int("LOGIN_SLOWDOWN_AFTER", 10)
        # Accounts with one of these roles must turn MFA on before they get tokens.
        # (Roles are data: any role's name, a role nobody has requires nothing.)
        self.MFA_REQUIRED_ROLES = env_list("MFA_REQUIRED_ROLES")
        malformed = [name for name in self.MFA_REQUIRED_ROLES if not ROLE_NAME.fullmatch(name)]
        if malformed:
            raise ConfigError(
                f"MFA_REQUIRED_ROLES names what no role can be called: {', '.join(malformed)}"
            )
        # Fernet keys for TOTP secrets (the first encrypts); unset: derived from SECRET_KEY.
        self.MFA_ENCRYPTION_KEYS = env_list("MFA_ENCRYPTION_KEYS")
        if any(not FERNET_KEY.fullmatch(key) for key in self.MFA_ENCRYPTION_KEYS):
            raise ConfigError(
                "MFA_ENCRYPTION_KEYS must hold Fernet keys (44 url-safe base64 characters)"
            )

    def rate_limits(self) -> None:
        self.RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
        # Several instances share their per-address counts in Redis (README, Scaling); one
        # instance may keep them in its memory.
        self.RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
        self.RATELIMIT_HEADERS_ENABLED = True
        self.RATELIMIT_LOGIN = os.environ.get("RATELIMIT_LOGIN", "10 per minute")
        self.RATELIMIT_REFRESH = os.environ.get("RATELIMIT_REFRESH", "30 per minute")
        self.RATELIMIT_REGISTER = os.environ.get("RATELIMIT_REGISTER", "5 per minute")
        self.RATELIMIT_PASSWORD_FORGOT = os.environ.get("RATELIMIT_PASSWORD_FORGOT", "5 per minute")
        # The other anonymous routes that take a body: /password/reset, /register/confirm.
        self.RATELIMIT_EMAILED_TOKENS = os.environ.get("RATELIMIT_EMAILED_TOKENS", "10 per minute")
        # E-mails a stranger can have sent to an address (app/notices.py), per address.
        self.NOTICE_LIMIT = os.environ.get("NOTICE_LIMIT", "5 per hour")
        # Passkey and provider ceremonies a signed-in user may start (options, links), per user.
        self.RATELIMIT_CEREMONIES = os.environ.get("RATELIMIT_CEREMONIES", "10 per minute")
        # Ceremonies started without signing in (passkey sign-in options, provider sign-ins) that
        # one client may hold unfinished at once.
        self.CEREMONIES_PER_CLIENT = env_int("CEREMONIES_PER_CLIENT", 20)
        # Pages asked for by number more than 10,000 rows into a list, per user.
        self.RATELIMIT_DEEP_PAGES = os.environ.get("RATELIMIT_DEEP_PAGES", "30 per minute")
        # How many proxies (Heroku's router: 1) stand in front and set X-Forwarded-For; in
        # production on Heroku (DYNO is set), 1 when not set.
        self.TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 0)
        self.PROXY_HOPS_FROM_PLATFORM = False

    def permissions(self) -> None:
        # A server refuses to start while the permissions declared in code and those in the
        # database differ (app/access/permissions.py).
        self.CHECK_PERMISSIONS_AT_START = env_bool("CHECK_PERMISSIONS_AT_START", True)

    def organizations(self) -> None:
        # Who may make an organization: anyone (signed in, with a confirmed address when
        # confirmation is on) or admin (holders of orgs:manage).
        self.ORG_CREATION = os.environ.get("ORG_CREATION", "anyone").strip() or "anyone"
        if self.ORG_CREATION not in ("anyone", "admin"):
            raise ConfigError(f"ORG_CREATION must be anyone or admin, got {self.ORG_CREATION!r}")
        # Seconds an invitation's link works (7 days).
        self.INVITATION_LIFESPAN = env_int("INVITATION_LIFESPAN", 7 * 24 * 3600)
        # Per signed-in account: invitations sent or accepted, organizations made.
        self.RATELIMIT_INVITATIONS = os.environ.get("RATELIMIT_INVITATIONS", "30 per hour")
        self.RATELIMIT_ORGANIZATIONS = os.environ.get("RATELIMIT_ORGANIZATIONS", "10 per hour")

    def api_documents(self) -> None:
        # flask-smorest / OpenAPI
        self.API_TITLE = "Gatehouse"
        self.API_VERSION = "1.0.0"
        self.OPENAPI_VERSION = "3.1.0"
        self.OPENAPI_URL_PREFIX = "/"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "docs"
        self.OPENAPI_SWAGGER_UI_URL = "/docs/assets/"
        # The token pasted into the docs page lives in that page only (persisting it would put a
        # bearer token in the browser's localStorage, readable by any script of the origin).
        self.OPENAPI_SWAGGER_UI_CONFIG = {"tryItOutEnabled": True}

    def operations(self) -> None:
        self.MAX_CONTENT_LENGTH = ONE_MEBIBYTE
        self.CORS_ORIGINS = env_list("CORS_ORIGINS")
        self.HSTS_ENABLED = False
        self.HEALTH_TIMEOUT_MS = env_int("HEALTH_TIMEOUT_MS", 2000)

    def accounts_and_mail(self) -> None:
        self.REGISTRATION_ENABLED = env_bool("REGISTRATION_ENABLED", True)
        self.EMAIL_CONFIRMATION = env_bool("EMAIL_CONFIRMATION", False)
        self.MAIL_BACKEND = "smtp"
        # Requests queue e-mail; the worker process sends it (app/mail.py), trying a message
        # MAIL_SEND_ATTEMPTS times, the n-th retry after MAIL_RETRY_WAIT ** n seconds.
        self.MAIL_QUEUE = env_bool("MAIL_QUEUE", True)
        self.MAIL_SEND_ATTEMPTS = env_int("MAIL_SEND_ATTEMPTS", 6)
        self.MAIL_RETRY_WAIT = env_int("MAIL_RETRY_WAIT", 4)
        self.MAIL_DEFAULT_SENDER = "Gatehouse <no-reply@example.com>"
        self.__dict__.update(mail_settings_from_env())
        self.PRAETORIAN_CONFIRMATION_SENDER = self.MAIL_DEFAULT_SENDER
        self.PRAETORIAN_RESET_SENDER = self.MAIL_DEFAULT_SENDER
        self.PRAETORIAN_CONFIRMATION_URI = self.PUBLIC_BASE_URL + "/register/confirm"
        self.PRAETORIAN_RESET_URI = self.PUBLIC_BASE_URL + "/password/reset"
        self.PRAETORIAN_CONFIRMATION_SUBJECT = "Confirm your Gatehouse account"
        self.PRAETORIAN_RESET_SUBJECT = "Reset your Gatehouse password"
        self.PRAETORIAN_CONFIRMATION_TEMPLATE = str(EMAIL_TEMPLATES / "confirm_registration.html")
        self.PRAETORIAN_RESET_TEMPLATE = str(EMAIL_TEMPLATES / "reset_password.html")
        # A password reset also removes the passkeys and identities added this recently.
        self.RESET_RECENT_WAYS_IN = env_int("RESET_RECENT_WAYS_IN", 7 * 24 * 3600)
        self.SEED_ADMIN_PASSWORD = os.environ.get("SEED_ADMIN_PASSWORD")
        self.SEED_USER_PASSWORD = os.environ.get("SEED_USER_PASSWORD")
        self.SEED_DEFAULT_PASSWORDS_ALLOWED = False

    def passkeys(self) -> None:
        # The relying party (a domain, never an address: 127.0.0.1 is served as localhost) and
        # the origins a passkey ceremony may come from; by default PUBLIC_BASE_URL's.
        base = urlsplit(self.PUBLIC_BASE_URL)
        host = base.hostname or "localhost"
        if host in LOOPBACK_ADDRESSES:
            host = "localhost"
        port = f":{base.port}" if base.port else ""
        self.WEBAUTHN_RP_ID = os.environ.get("WEBAUTHN_RP_ID", host)
        self.WEBAUTHN_RP_NAME = os.environ.get("WEBAUTHN_RP_NAME", "Gatehouse")
        self.WEBAUTHN_ORIGINS = env_list("WEBAUTHN_ORIGINS") or [f"{base.scheme}://{host}{port}"]

    def providers(self) -> None:
        # OpenID Connect providers, a JSON list of {name, issuer, client_id, client_secret,
        # scopes?}; and the client URLs a provider sign-in may send its code back to.
        self.OIDC_PROVIDERS = providers_from_env()
        self.OIDC_REDIRECT_ALLOWLIST = env_list("OIDC_REDIRECT_ALLOWLIST") or [
            f"{self.PUBLIC_BASE_URL}/account"
        ]

    def webhooks(self) -> None:
        # Seconds one delivery attempt may take, from the look-up to the answer's last byte.
        self.WEBHOOK_TIMEOUT = env_int("WEBHOOK_TIMEOUT", 10)
        # An endpoint whose deliveries have failed for this long (seconds) is disabled.
        self.WEBHOOK_DISABLE_AFTER = env_int("WEBHOOK_DISABLE_AFTER", 5 * 24 * 3600)
        # Seconds a delivery attempt is kept (listed) after it was made.
        self.WEBHOOK_RETENTION = env_int("WEBHOOK_RETENTION", 30 * 24 * 3600)
        # Development and tests only (production refuses it): origins (scheme://host:port)
        # webhooks may reach over http and on loopback addresses.
        try:
            self.WEBHOOK_ALLOWED_ORIGINS = [
                normalized_origin(origin) for origin in env_list("WEBHOOK_ALLOWED_ORIGINS")
            ]
        except ValueError as error:
            raise ConfigError(f"WEBHOOK_ALLOWED_ORIGINS: {error}") from None
        # Jobs the worker runs at once (webhook deliveries to different endpoints, e-mail).
        self.WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY", 4)
