"""The keys that sign access tokens, and the JWK Set that publishes their public halves.

Access tokens are signed with an asymmetric key (EdDSA with Ed25519, or ES256 with P-256), never
with ``SECRET_KEY``, so that any service can verify them with the public key alone
(``GET /.well-known/jwks.json``) and none can mint them. Each token's header names its key
(``kid``, the key's RFC 7638 thumbprint unless its JWK says otherwise), and each key verifies
only with its own algorithm: no ``none``, no HS*, no key used for another algorithm.

Where keys come from:

- ``SIGNING_KEYS`` (production, or any deployment that sets it): private keys in PEM, or JWKs
  (one, a list, or a JWK Set). The first signs; the others verify and are published, until the
  operator removes them. ``SIGNING_KEY_NEXT``: a key published before it signs (rotation's
  first step, README "Signing keys").
- Otherwise, in development and tests only, keys generated and kept in the database (sealed).
  ``flask rotate-signing-key`` adds a key that is published at once and signs from a moment
  later (``--stage``); the key it replaces stays published until every token it signed has
  expired. Workers read the keys again every ``RELOAD_SECONDS``, and at once (at most once a
  second) for a token whose ``kid`` they do not know.

Nobody is signed out by a rotation: a token verifies as long as the key that signed it is
published.
"""

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from flask import Flask, current_app
from jwt import PyJWK
from jwt.algorithms import ECAlgorithm, OKPAlgorithm
from jwt.exceptions import PyJWKError
from sqlalchemy import select, text

from app.config import ConfigError
from app.extensions import db
from app.sealing import seal, unseal

SEAL_PURPOSE = "signing keys"
# How long a JWK Set answer may be cached (its Cache-Control), and so how long before it signs a
# staged key should be published.
PUBLISHED_MAX_AGE = 300
RELOAD_SECONDS = 60
EXTENSION = "gatehouse.signing_keys"
PEM_BLOCK = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.S
)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
SIGNS_NOW = datetime(1970, 1, 2, tzinfo=UTC)
NEVER = datetime(9999, 1, 1, tzinfo=UTC)

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class SigningKey:
    """A private key, its id and algorithm, and when it starts signing."""

    kid: str
    algorithm: str
    private_key: PrivateKey
    signs_from: datetime = EARLIEST

    @property
    def public_key(self):
        return self.private_key.public_key()

    def public_jwk(self) -> dict:
        """The public half as a JWK, with its ``kid``, ``alg`` and ``use``."""
        return {
            **public_jwk_of(self.private_key),
            "kid": self.kid,
            "alg": self.algorithm,
            "use": "sig",
        }


def algorithm_of(key: PrivateKey) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise ConfigError("Signing keys must be Ed25519 (EdDSA) or P-256 (ES256) private keys")


def public_jwk_of(key: PrivateKey) -> dict:
    exporter = OKPAlgorithm if isinstance(key, ed25519.Ed25519PrivateKey) else ECAlgorithm
    return exporter.to_jwk(key.public_key(), as_dict=True)


def thumbprint(key: PrivateKey) -> str:
    """RFC 7638: the SHA-256 of the public JWK's required members, in order, as base64url."""
    jwk = public_jwk_of(key)
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y") if name in jwk}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).decode().rstrip("=")


def generate(algorithm: str = "EdDSA") -> PrivateKey:
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ConfigError(f"Unknown signing algorithm {algorithm!r}: use EdDSA or ES256")


def to_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def signing_key(key: PrivateKey, kid: str | None = None, **when) -> SigningKey:
    algorithm = algorithm_of(key)
    return SigningKey(kid or thumbprint(key), algorithm, key, **when)


def parse_keys(setting: str, value: str) -> list[SigningKey]:
    """The private keys in ``value``: PEM blocks, or JSON (a JWK, a list of JWKs, a JWK Set)."""
    value = value.strip()
    if value.startswith(("{", "[")):
        return [_from_jwk(setting, jwk) for jwk in _jwks_in(setting, value)]
    blocks = PEM_BLOCK.findall(value)
    if not blocks:
        raise ConfigError(f"{setting} holds no PEM private key and no JWK")
    keys = []
    for block in blocks:
        try:
            key = serialization.load_pem_private_key(block.encode(), password=None)
        except (ValueError, TypeError):
            raise ConfigError(
                f"{setting} holds a PEM block that is not a readable private key"
            ) from None
        keys.append(signing_key(key))
    return keys


def _jwks_in(setting: str, value: str) -> list:
    try:
        data = json.loads(value)
    except ValueError:
        raise ConfigError(f"{setting} is not valid JSON") from None
    if isinstance(data, dict):
        data = data.get("keys", [data])
    if not isinstance(data, list) or not all(isinstance(jwk, dict) for jwk in data):
        raise ConfigError(f"{setting} must hold a JWK, a list of JWKs or a JWK Set")
    return data


def _from_jwk(setting: str, jwk: dict) -> SigningKey:
    if "d" not in jwk:
        raise ConfigError(f"{setting} holds a public JWK: the private key is needed to sign")
    try:
        key = PyJWK(jwk).key
    except PyJWKError:
        raise ConfigError(f"{setting} holds a JWK that is not an Ed25519 or P-256 key") from None
    return signing_key(key, jwk.get("kid"))


class KeyRing:
    """Keys in the order they sign: at any moment the last one whose ``signs_from`` has come
    signs; every key is published, except one whose successor began signing longer ago than
    ``retire_after`` (every token it signed has expired)."""

    def __init__(self, keys: list[SigningKey], retire_after: timedelta | None) -> None:
        self.keys = sorted(keys, key=lambda key: key.signs_from)
        self.retire_after = retire_after

    def signing(self, now: datetime) -> SigningKey | None:
        current = [key for key in self.keys if key.signs_from <= now]
        return current[-1] if current else None

    def published(self, now: datetime) -> list[SigningKey]:
        successors = [key.signs_from for key in self.keys[1:]] + [NEVER]
        return [
            key
            for key, successor in zip(self.keys, successors, strict=True)
            if self.retire_after is None or successor > now - self.retire_after
        ]

    def find(self, kid: str, now: datetime) -> SigningKey | None:
        return next((key for key in self.published(now) if key.kid == kid), None)


class ConfiguredKeys:
    """``SIGNING_KEYS`` (the first signs) and ``SIGNING_KEY_NEXT`` (published only); retiring a
    key is the operator's step (it leaves the setting)."""

    def __init__(self, keys: list[SigningKey], staged: list[SigningKey]) -> None:
        current, *older = keys
        timeline = [
            *(SigningKey(key.kid, key.algorithm, key.private_key, EARLIEST) for key in older),
            SigningKey(current.kid, current.algorithm, current.private_key, SIGNS_NOW),
            *(SigningKey(key.kid, key.algorithm, key.private_key, NEVER) for key in staged),
        ]
        self._ring = KeyRing(timeline, retire_after=None)

    def ring(self, kid: str | None = None) -> KeyRing:
        return self._ring


class StoredKeys:
    """Keys kept in the database (development and tests), read again every ``RELOAD_SECONDS``
    and when a token names a key this worker has not seen (at most once a second); the first
    one is made on first use."""

    def __init__(self, retire_after: timedelta) -> None:
        self.retire_after = retire_after
        self._ring: KeyRing | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def ring(self, kid: str | None = None) -> KeyRing:
        if self._ring is None:
            with self._lock:
                if self._ring is None:
                    self._reload()
            return self._ring
        age = time.monotonic() - self._loaded_at
        unknown = kid is not None and self._ring.find(kid, utcnow()) is None
        # One thread reads the keys again; the others go on with the ones they have.
        if (age > RELOAD_SECONDS or (unknown and age > 1)) and self._lock.acquire(blocking=False):
            try:
                self._reload()
            finally:
                self._lock.release()
        return self._ring

    def forget(self) -> None:
        """Read the keys again on next use (after a rotation in this process)."""
        self._loaded_at = 0.0

    def _reload(self) -> None:
        from app.models import StoredSigningKey

        rows = db.session.scalars(select(StoredSigningKey)).all()
        if not rows:
            make_first_key()
            rows = db.session.scalars(select(StoredSigningKey)).all()
        keys = [
            signing_key(
                serialization.load_pem_private_key(
                    unseal(row.private_key, SEAL_PURPOSE).encode(), password=None
                ),
                row.kid,
                signs_from=row.signs_from,
            )
            for row in rows
        ]
        self._ring = KeyRing(keys, self.retire_after)
        self._loaded_at = time.monotonic()


def make_first_key() -> None:
    """The database's first key, in a transaction of its own (it must outlive a request that
    rolls back); of several workers doing this at once, one makes it."""
    from app.models import StoredSigningKey

    with db.engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('signing_keys'))"))
        if connection.execute(select(StoredSigningKey.kid).limit(1)).first() is None:
            add_stored_key(connection, generate(), utcnow() - timedelta(seconds=1))


def add_stored_key(connection, key: PrivateKey, signs_from: datetime) -> SigningKey:
    """Keep ``key`` in the database, signing from ``signs_from``."""
    from app.models import StoredSigningKey

    stored = signing_key(key, signs_from=signs_from)
    connection.execute(
        StoredSigningKey.__table__.insert().values(
            kid=stored.kid,
            algorithm=stored.algorithm,
            private_key=seal(to_pem(key), SEAL_PURPOSE),
            signs_from=signs_from,
        )
    )
    return stored


def rotate(stage_seconds: int, algorithm: str = "EdDSA") -> SigningKey:
    """Add a database-kept key that is published now and signs ``stage_seconds`` from now."""
    source = current_app.extensions[EXTENSION]
    if not isinstance(source, StoredKeys):
        raise ConfigError(
            "SIGNING_KEYS is set: rotate by changing it (README, Signing keys), not here"
        )
    source.ring()  # (makes the first key if there is none yet)
    with db.engine.begin() as connection:
        added = add_stored_key(
            connection, generate(algorithm), utcnow() + timedelta(seconds=stage_seconds)
        )
    source.forget()
    return added


def utcnow() -> datetime:
    return datetime.now(UTC)


def init_app(app: Flask) -> None:
    """Where this app's keys come from: ``SIGNING_KEYS``, else (development and tests) the
    database."""
    config = app.config
    if config["SIGNING_KEYS"]:
        keys = parse_keys("SIGNING_KEYS", config["SIGNING_KEYS"])
        staged = (
            parse_keys("SIGNING_KEY_NEXT", config["SIGNING_KEY_NEXT"])
            if config["SIGNING_KEY_NEXT"]
            else []
        )
        app.extensions[EXTENSION] = ConfiguredKeys(keys, staged)
        return
    lifespan = timedelta(seconds=config["JWT_ACCESS_LIFESPAN"]["seconds"])
    app.extensions[EXTENSION] = StoredKeys(
        retire_after=lifespan + timedelta(seconds=RELOAD_SECONDS)
    )


def current_ring(kid: str | None = None) -> KeyRing:
    return current_app.extensions[EXTENSION].ring(kid)


def signing_key_now() -> SigningKey:
    return current_ring().signing(utcnow())


def verifying_key(kid: str) -> SigningKey | None:
    return current_ring(kid).find(kid, utcnow())


def published_keys() -> dict:
    """The JWK Set: the public halves of every published key."""
    return {"keys": [key.public_jwk() for key in current_ring().published(utcnow())]}
