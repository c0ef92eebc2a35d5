"""Signing keys (contract v3): access tokens are signed with an asymmetric key named by ``kid``,
published in a JWK Set with the issuer's discovery document; keys rotate without signing anyone
out; a token whose key or algorithm is not one of ours is refused."""

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from app.config import ConfigError
from app.extensions import db
from app.models import StoredSigningKey
from app.sealing import unseal
from app.tokens import keys
from app.tokens.key_material import generate, parse_keys, thumbprint, to_pem
from tests.support.processes import SIGNING_KEY
from tests.support.signing_keys import retire_the_signing_key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _assert_error(response, status: int, code: str, message: str | None = None) -> None:
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"] == code
    if message is not None:
        assert response.get_json()["message"] == message


def _me(client, token: str):
    return client.get("/users/me", headers={"Authorization": f"Bearer {token}"})


def test_the_jwks_lists_public_keys_only_and_may_be_cached(client) -> None:
    response = client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    (key,) = response.get_json()["keys"]
    assert set(key) == {"kty", "crv", "x", "kid", "alg", "use"}
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert '"d"' not in response.get_data(as_text=True)


def test_the_discovery_document_names_the_issuer_keys_and_token_endpoint(app, client) -> None:
    response = client.get("/.well-known/openid-configuration")

    body = response.get_json()
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert body["issuer"] == app.config["JWT_ISSUER"] == "http://127.0.0.1:5000"
    assert body["jwks_uri"] == "http://127.0.0.1:5000/.well-known/jwks.json"
    assert body["token_endpoint"] == "http://127.0.0.1:5000/login"
    assert body["id_token_signing_alg_values_supported"] == ["EdDSA"]
    assert body["audience"] == app.config["JWT_AUDIENCE"]


def test_an_access_token_verifies_with_the_published_key_alone(client, member, token_for) -> None:
    token = token_for(member)
    published = client.get("/.well-known/jwks.json").get_json()
    issuer = client.get("/.well-known/openid-configuration").get_json()["issuer"]

    header = jwt.get_unverified_header(token)
    key = jwt.PyJWKSet.from_dict(published)[header["kid"]]
    claims = jwt.decode(token, key, algorithms=["EdDSA"], audience=issuer, issuer=issuer)

    assert header["alg"] == "EdDSA"
    assert claims["sub"] == str(member.id)
    assert claims["rls"] == "user"
    assert claims["iss"] == claims["aud"] == issuer


def _claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_hs256_signed_with_the_public_key_bytes_is_refused(client, member, token_for) -> None:
    """Key confusion: a verifier that let the header choose the algorithm would check an HMAC
    keyed with the public key, which anybody has."""
    token = token_for(member)
    kid = jwt.get_unverified_header(token)["kid"]
    public = client.get("/.well-known/jwks.json").get_json()["keys"][0]
    claims = _claims_of(token) | {"rls": "admin"}
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = _b64(json.dumps(claims).encode())
    for secret in (public["x"].encode(), base64.urlsafe_b64decode(public["x"] + "==")):
        signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        _assert_error(_me(client, f"{header}.{payload}.{_b64(signature)}"), 401, "invalid_token")


def test_alg_none_and_hmac_with_our_kid_are_refused(app, client, member, token_for) -> None:
    token = token_for(member)
    kid = jwt.get_unverified_header(token)["kid"]
    claims = _claims_of(token)
    unsigned = (
        _b64(json.dumps({"alg": "none", "kid": kid}).encode())
        + "."
        + _b64(json.dumps(claims).encode())
        + "."
    )
    with_secret = jwt.encode(claims, app.config["SECRET_KEY"], "HS256", headers={"kid": kid})

    for forged in (unsigned, with_secret):
        _assert_error(_me(client, forged), 401, "invalid_token")


def test_a_token_signed_by_another_key_under_our_kid_is_refused(client, member, token_for) -> None:
    token = token_for(member)
    kid = jwt.get_unverified_header(token)["kid"]
    claims = _claims_of(token)
    other_ed25519 = jwt.encode(claims, ed25519.Ed25519PrivateKey.generate(), "EdDSA", {"kid": kid})
    other_es256 = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", {"kid": kid})

    for forged in (other_ed25519, other_es256):
        _assert_error(_me(client, forged), 401, "invalid_token", "The token is invalid.")


@pytest.mark.parametrize(
    ("kid", "message"),
    [
        ("not-a-key-of-ours", "The token names no key of ours."),
        (None, "The token names no key of ours."),
        # (PyJWT refuses a header whose kid is not a string.)
        (17, "The token is not a JWT."),
    ],
)
def test_a_token_naming_an_unknown_key_is_refused(client, member, token_for, kid, message) -> None:
    claims = _claims_of(token_for(member))
    header = {"alg": "EdDSA", "typ": "JWT"} | ({} if kid is None else {"kid": kid})
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = ed25519.Ed25519PrivateKey.generate().sign(signing_input.encode())
    forged = f"{signing_input}.{_b64(signature)}"

    _assert_error(_me(client, forged), 401, "invalid_token", message)


def test_a_bearer_token_that_is_not_a_jwt_is_refused_as_such(client, member) -> None:
    _assert_error(_me(client, "not-a-jwt"), 401, "invalid_token", "The token is not a JWT.")


@pytest.mark.parametrize(
    ("claim", "value"), [("iss", "https://elsewhere.example"), ("aud", "another-service")]
)
def test_a_token_for_another_issuer_or_audience_is_refused(
    app, client, member, token_for, claim, value
) -> None:
    """Signed with our own key, but not for us."""
    from app.tokens import keys

    token = token_for(member)
    with app.app_context():
        key = keys.signing_key_now()
    forged = jwt.encode(
        _claims_of(token) | {claim: value}, key.private_key, "EdDSA", {"kid": key.kid}
    )

    _assert_error(_me(client, forged), 401, "invalid_token")


def _kids(client) -> list[str]:
    return [key["kid"] for key in client.get("/.well-known/jwks.json").get_json()["keys"]]


def test_rotation_signs_with_the_new_key_and_keeps_the_old_tokens_working(
    app, client, runner, member, token_for
) -> None:
    old_token = token_for(member)
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    result = runner.invoke(args=["rotate-signing-key", "--stage", "0"])
    new_token = token_for(member)
    new_kid = jwt.get_unverified_header(new_token)["kid"]

    assert result.exit_code == 0, result.output
    assert f"Signing key {new_kid} (EdDSA) is published" in result.output
    assert "PRIVATE" not in result.output
    assert new_kid != old_kid
    assert _kids(client) == [old_kid, new_kid]
    assert _me(client, old_token).status_code == 200
    assert _me(client, new_token).status_code == 200


def test_a_key_another_worker_added_verifies_at_once(app, make_app, client, member) -> None:
    """A token naming a key this worker has not read makes it read the keys again (at most
    once a second), not only every RELOAD_SECONDS."""
    with app.app_context():
        known_kid = keys.signing_key_now().kid
        # This worker read its keys two seconds ago (when the test began, in fact).
        app.extensions[keys.EXTENSION]._loaded_at -= 2
    other_worker = make_app()
    with other_worker.app_context():
        keys.rotate(0, "EdDSA")
    signed_in = other_worker.test_client().post(
        "/login", json={"username": member.username, "password": member.password}
    )
    token = signed_in.get_json()["access_token"]

    me = _me(client, token)

    assert jwt.get_unverified_header(token)["kid"] != known_kid
    assert (me.status_code, me.get_json()["username"]) == (200, member.username)


def test_a_staged_key_is_published_before_it_signs(app, client, runner, member, token_for) -> None:
    current_kid = jwt.get_unverified_header(token_for(member))["kid"]

    result = runner.invoke(args=["rotate-signing-key", "--stage", "300"])
    kid_after = jwt.get_unverified_header(token_for(member))["kid"]

    assert result.exit_code == 0, result.output
    assert kid_after == current_kid
    assert len(_kids(client)) == 2
    assert _kids(client)[0] == current_kid


def test_a_key_is_retired_once_every_token_it_signed_has_expired(
    app, make_app, runner, member, token_for
) -> None:
    old_token = token_for(member)
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    retire_the_signing_key(app, runner)

    later = make_app().test_client()

    assert old_kid not in _kids(later)
    assert len(_kids(later)) == 1
    _assert_error(_me(later, old_token), 401, "invalid_token")


def test_keys_kept_in_the_database_are_sealed(app, client, member, token_for) -> None:
    token = token_for(member)
    with app.app_context():
        (stored,) = db.session.scalars(db.select(StoredSigningKey)).all()
        pem = unseal(stored.private_key, keys.SEAL_PURPOSE)
    private_key = serialization.load_pem_private_key(pem.encode(), password=None)
    body = "".join(pem.splitlines()[1:-1])

    assert stored.algorithm == "EdDSA"
    # Sealed: neither the PEM nor its base64 body is in the row, and only SECRET_KEY opens it
    # to the key that signs the tokens.
    assert "PRIVATE KEY" not in stored.private_key
    assert body not in stored.private_key
    assert jwt.get_unverified_header(token)["kid"] == thumbprint(private_key)
    jwt.decode(token, private_key.public_key(), algorithms=["EdDSA"], options={"verify_aud": False})


def _pem(key) -> str:
    return to_pem(key)


def _private_jwk(key, **extra) -> dict:
    from jwt.algorithms import OKPAlgorithm

    return {**OKPAlgorithm.to_jwk(key, as_dict=True), **extra}


def test_configured_keys_sign_with_the_first_and_publish_all(make_app, member, token_for) -> None:
    first, second, staged = generate(), generate("ES256"), generate()
    app = make_app(SIGNING_KEYS=_pem(first) + "\n" + _pem(second), SIGNING_KEY_NEXT=_pem(staged))
    client = app.test_client()

    kids = _kids(client)
    login = client.post("/login", json={"username": member.username, "password": member.password})
    token = login.get_json()["access_token"]

    assert login.status_code == 200
    assert kids == [thumbprint(second), thumbprint(first), thumbprint(staged)]
    assert jwt.get_unverified_header(token)["kid"] == thumbprint(first)
    me = _me(client, token)
    assert (me.status_code, me.get_json()["username"]) == (200, member.username)
    algorithms = client.get("/.well-known/openid-configuration").get_json()
    assert algorithms["id_token_signing_alg_values_supported"] == ["ES256", "EdDSA"]


@pytest.mark.parametrize("shape", ["jwk", "list", "set"])
def test_configured_keys_may_be_jwks_with_their_own_kid(make_app, member, shape) -> None:
    key = generate()
    jwk = _private_jwk(key, kid="2026-12-key")
    value = {"jwk": jwk, "list": [jwk], "set": {"keys": [jwk]}}[shape]
    client = make_app(SIGNING_KEYS=json.dumps(value)).test_client()

    login = client.post("/login", json={"username": member.username, "password": member.password})
    token = login.get_json()["access_token"]

    assert login.status_code == 200
    assert _kids(client) == ["2026-12-key"]
    assert jwt.get_unverified_header(token)["kid"] == "2026-12-key"
    me = _me(client, token)
    assert (me.status_code, me.get_json()["username"]) == (200, member.username)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not a key", "SIGNING_KEYS holds no PEM private key and no JWK"),
        ("{not json", "SIGNING_KEYS is not valid JSON"),
        ('{"kty": "OKP", "crv": "Ed25519", "x": "abc"}', "SIGNING_KEYS holds a public JWK"),
        ('{"keys": 5}', "SIGNING_KEYS must hold a JWK, a list of JWKs or a JWK Set"),
        ("[1]", "SIGNING_KEYS must hold a JWK, a list of JWKs or a JWK Set"),
        (
            '{"kty": "OKP", "crv": "X25519", "x": "abc", "d": "abc"}',
            "SIGNING_KEYS holds a JWK that is not an Ed25519 or P-256 key",
        ),
        (
            "-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----",
            "SIGNING_KEYS holds a PEM block that is not a readable private key",
        ),
    ],
)
def test_unusable_configured_keys_are_named_in_one_line(value, message) -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse_keys("SIGNING_KEYS", value)

    assert str(excinfo.value).startswith(message)
    assert "\n" not in str(excinfo.value)


def test_an_rsa_key_is_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )

    with pytest.raises(ConfigError, match="Ed25519 \\(EdDSA\\) or P-256 \\(ES256\\)"):
        parse_keys("SIGNING_KEYS", pem)


def test_rotating_configured_keys_from_the_command_line_is_refused(make_app) -> None:
    app = make_app(SIGNING_KEYS=SIGNING_KEY)

    result = app.test_cli_runner().invoke(args=["rotate-signing-key"])

    assert result.exit_code == 1
    assert result.output == (
        "Error: SIGNING_KEYS is set: rotate by changing it (docs: Operations, Signing keys),"
        " not here\n"
    )


def test_generate_signing_key_prints_a_key_signing_keys_accepts(runner) -> None:
    result = runner.invoke(args=["generate-signing-key", "--algorithm", "ES256"])

    assert result.exit_code == 0
    (key,) = parse_keys("SIGNING_KEYS", result.output)
    assert key.algorithm == "ES256"
