"""The servers and the rows of the peers benchmark.

A server is one app served one way, in one environment, on one database of the shared
embedded PostgreSQL. A row is what wrk repeats against a server: ``GET /users/me`` with a
token (or ``GET /`` for the two yardsticks), or a login. Gatehouse, the one-round-trip app and
the bare app run in the project's own environment, as ``invoke bench`` serves them; each peer
in its own (bench/peers/environments.py)."""

from dataclasses import dataclass, field
from pathlib import Path

from bench.peers import clients

ROOT = Path(__file__).resolve().parent.parent.parent
APPS = Path(__file__).resolve().parent / "apps"
# Gatehouse's own gunicorn settings (gthread, WEB_CONCURRENCY workers of GUNICORN_THREADS
# threads, keep-alive 95 s, preloaded app): every app served by gunicorn uses them.
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
WORKERS = 2
THREADS = 8
# The environment of the project itself (not a peer's).
OWN = "gatehouse"


@dataclass(frozen=True)
class ServerSpec:
    key: str
    peer: str  # whose environment: OWN, or a file in bench/peers/requirements/
    app: str  # gunicorn's (and uvicorn's) notation, module:name
    server: str  # "gthread", "uvicorn" or "gunicorn-uvicorn"
    database: str
    ready_path: str  # asked until the server answers (any status)
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    key: str
    peer: str
    label: str
    server: str
    client: clients.Client | None  # None: no token (the yardsticks)
    kind: str = "get"  # or "login"

    @property
    def path(self) -> str:
        if self.kind == "login":
            return self.client.login(clients.LOGIN_USER)[0]
        return self.client.me_path if self.client else "/"


SERVERS = {
    spec.key: spec
    for spec in [
        ServerSpec("one-trip", OWN, "bench.round_trip_app:app", "gthread", "gatehouse", "/"),
        ServerSpec("bare", OWN, "bench.bare_app:app", "gthread", "gatehouse", "/"),
        ServerSpec("gatehouse", OWN, "app:create_app()", "gthread", "gatehouse", "/health"),
        *[
            ServerSpec(
                f"fastapi-users-{strategy}-{server}",
                "fastapi-users",
                "fastapi_users_peer:app",
                server,
                "fastapi_users",
                "/users/me",
                {"PEER_STRATEGY": strategy},
            )
            for strategy in ("jwt-hs256", "jwt-eddsa", "database")
            for server in ("uvicorn", "gunicorn-uvicorn")
        ],
        ServerSpec(
            "flask-security",
            "flask-security",
            "flask_security_peer:app",
            "gthread",
            "flask_security",
            "/users/me",
        ),
        *[
            ServerSpec(
                f"drf-{algorithm.lower()}",
                "drf",
                "drf_peer.wsgi:application",
                "gthread",
                "drf",
                "/users/me",
                {"PEER_ALGORITHM": algorithm},
            )
            for algorithm in ("HS256", "EdDSA")
        ],
    ]
}

_access = clients.GatehouseAccess()
_personal = clients.GatehousePersonal()
_jwt, _db = clients.FastAPIUsers("jwt"), clients.FastAPIUsers("db")
_flask_security = clients.FlaskSecurity()
_simplejwt = clients.SimpleJWT()
_uvicorn, _gunicorn = "uvicorn", "gunicorn + uvicorn workers"

ROWS = [
    Row(
        "one-trip",
        "one-trip",
        "one-round-trip app (Flask + Flask-SQLAlchemy, `SELECT 1`)",
        "one-trip",
        None,
    ),
    Row("bare", "bare", "bare Flask JSON (no database, no token; for scale)", "bare", None),
    Row(
        "gatehouse-access",
        "gatehouse",
        "Gatehouse, access token (EdDSA, session checked)",
        "gatehouse",
        _access,
    ),
    Row("gatehouse-personal", "gatehouse", "Gatehouse, personal token", "gatehouse", _personal),
    *[
        Row(
            f"fastapi-users-{strategy}-{server}",
            "fastapi-users",
            f"fastapi-users {name}, {served}",
            f"fastapi-users-{strategy}-{server}",
            client,
        )
        for strategy, name, client in (
            ("jwt-hs256", "JWT HS256 (no revocation)", _jwt),
            ("jwt-eddsa", "JWT EdDSA (no revocation)", _jwt),
            ("database", "database token (revocable)", _db),
        )
        for server, served in (("uvicorn", _uvicorn), ("gunicorn-uvicorn", _gunicorn))
    ],
    Row(
        "flask-security",
        "flask-security",
        "Flask-Security auth token (revocable per user only)",
        "flask-security",
        _flask_security,
    ),
    Row(
        "drf-hs256",
        "drf",
        "DRF + simplejwt HS256 (no revocation of access tokens)",
        "drf-hs256",
        _simplejwt,
    ),
    Row("drf-eddsa", "drf", "DRF + simplejwt EdDSA", "drf-eddsa", _simplejwt),
    Row("gatehouse-login", "gatehouse", "Gatehouse", "gatehouse", _access, "login"),
    Row(
        "fastapi-users-login",
        "fastapi-users",
        "fastapi-users (JWT, uvicorn)",
        "fastapi-users-jwt-hs256-uvicorn",
        _jwt,
        "login",
    ),
    Row("drf-login", "drf", "DRF + simplejwt", "drf-hs256", _simplejwt, "login"),
    Row(
        "flask-security-login",
        "flask-security",
        "Flask-Security",
        "flask-security",
        _flask_security,
        "login",
    ),
]

# Every ratio is taken against these two, so they are in every run.
ONE_TRIP, GATEHOUSE = "one-trip", "gatehouse-access"
BASELINES = (ONE_TRIP, GATEHOUSE)
PEERS = ("one-trip", "bare", "gatehouse", "fastapi-users", "flask-security", "drf")

# Where each peer keeps the password hash of a user, and how the user is named there.
STORED_HASH = {
    "gatehouse": ("gatehouse", "SELECT password FROM users WHERE username = :user", False),
    "fastapi-users": (
        "fastapi_users",
        'SELECT hashed_password FROM "user" WHERE email = :user',
        True,
    ),
    "flask-security": ("flask_security", 'SELECT password FROM "user" WHERE email = :user', True),
    "drf": ("drf", "SELECT password FROM auth_user WHERE username = :user", False),
}


def select_rows(only: list[str] | None) -> list[Row]:
    """The rows of the peers or row keys named in ``only`` (all when empty), with the
    baselines always; in the catalog's order."""
    if not only:
        return list(ROWS)
    known = set(PEERS) | {row.key for row in ROWS}
    unknown = sorted(set(only) - known)
    if unknown:
        raise ValueError(
            f"unknown peer or row {', '.join(unknown)}: peers are {', '.join(PEERS)}; "
            f"rows are {', '.join(row.key for row in ROWS)}"
        )
    return [row for row in ROWS if row.key in BASELINES or row.peer in only or row.key in only]
