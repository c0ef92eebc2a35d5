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

import threading
import time
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from flask import Flask, current_app
from sqlalchemy import select, text

from app.config import ConfigError
from app.extensions import db
from app.sealing import seal, unseal
from app.tokens.key_material import (
    EARLIEST,
    NEVER,
    SIGNS_NOW,
    PrivateKey,
    SigningKey,
    generate,
    parse_keys,
    signing_key,
    to_pem,
)

SEAL_PURPOSE = "signing keys"
# How long a JWK Set answer may be cached (its Cache-Control), and so how long before it signs a
# staged key should be published.
PUBLISHED_MAX_AGE = 300
RELOAD_SECONDS = 60
EXTENSION = "gatehouse.signing_keys"


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
            # (equivalent mutant: strict=False, None or left out; both lists have one item per key.)
            for key, successor in zip(self.keys, successors, strict=True)
            # (equivalent mutant: >= differs only for a successor that began signing exactly
            # retire_after ago, to the microsecond.)
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
            # (equivalent mutant: EARLIEST left out; it is the default.)
            *(SigningKey(key.kid, key.algorithm, key.private_key, EARLIEST) for key in older),
            # (equivalent mutant: SIGNS_NOW left out, so EARLIEST; the current key still signs,
            # as sorted() keeps it after the older keys of the same time.)
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
        # (equivalent mutant: 1.0; the monotonic clock is far past RELOAD_SECONDS either way.)
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


def rotate(stage_seconds: int, algorithm: str) -> SigningKey:
    """Add a database-kept key that is published now and signs ``stage_seconds`` from now."""
    source = current_app.extensions[EXTENSION]
    if not isinstance(source, StoredKeys):
        raise ConfigError(
            "SIGNING_KEYS is set: rotate by changing it (docs: Operations, Signing keys), not here"
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


def published_kids() -> tuple[str, ...]:
    """The ids of the keys published now: the keys a token may be verified with."""
    return tuple(key.kid for key in current_ring().published(utcnow()))


def published_keys() -> dict:
    """The JWK Set: the public halves of every published key."""
    return {"keys": [key.public_jwk() for key in current_ring().published(utcnow())]}
