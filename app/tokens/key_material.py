"""Signing keys as material: what a key is (its algorithm, ``kid``, public JWK and the times it
signs and is published), how one is made or written (PEM), and how the ``SIGNING_KEYS`` setting
is read (PEM blocks or JWKs). Which keys sign and verify now is ``app.tokens.keys``."""

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt import PyJWK
from jwt.algorithms import ECAlgorithm, OKPAlgorithm
from jwt.exceptions import InvalidKeyError, PyJWKError

from app.config import ConfigError

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
    # (PyJWT raises InvalidKeyError for a key type or curve it does not know, or bad members.)
    except (PyJWKError, InvalidKeyError):
        raise ConfigError(f"{setting} holds a JWK that is not an Ed25519 or P-256 key") from None
    return signing_key(key, jwk.get("kid"))
