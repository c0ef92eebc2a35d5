"""Hostile input: every request gets the contract's JSON answer, never a 500, and nothing is
lost or corrupted."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import User
from app.tokens import claims as names
from app.tokens import keys

NUL = "nul\u0000byte"
LONE_SURROGATE = "\ud800"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/login", {"username": NUL, "password": "whatever-password"}, "username"),
        ("POST", "/login", {"username": LONE_SURROGATE, "password": "x"}, "username"),
        ("POST", "/login", {"username": "admin", "password": NUL}, "password"),
        (
            "POST",
            "/register",
            {"username": "abc", "email": NUL, "password": "amber-quarry-signal"},
            "email",
        ),
        ("POST", "/bucketlists", {"name": NUL}, "name"),
        ("POST", "/bucketlists", {"name": LONE_SURROGATE}, "name"),
        ("PATCH", "/users/me", {"email": f"a{LONE_SURROGATE}@example.com"}, "email"),
        ("POST", "/bucketlists", {"name": "ok", NUL: 1}, "_schema"),
        # (in a nested object: the body's outermost schema walks it, nested keys included)
        (
            "POST",
            "/authz/check",
            {"checks": [{"permission": "users:read"}, {"permission": NUL}]},
            "checks",
        ),
        ("POST", "/authz/check", {"checks": [{"permission": "users:read", NUL: 1}]}, "checks"),
    ],
)
def test_unstorable_characters_are_422_not_500(
    client, admin, auth, method, path, body, field
) -> None:
    response = client.open(path, method=method, json=body, headers=auth(admin))

    assert response.status_code == 422
    payload = response.get_json()
    assert payload["error"] == "validation_error"
    assert field in payload["details"]


def test_a_nested_object_of_many_unknown_fields_gets_one_short_answer(client, admin, auth) -> None:
    check = {"permission": "users:read"} | {f"k{number}": 1 for number in range(1_000)}

    response = client.post("/authz/check", json={"checks": [check]}, headers=auth(admin))

    assert response.status_code == 422
    assert response.get_json()["details"] == {
        "checks": {"0": {"_schema": ["Too many fields: this request takes 4."]}}
    }


@pytest.mark.parametrize("query", ["q=a%00b", "sort=%00"])
def test_unstorable_characters_in_query_strings_are_400(client, admin, auth, query) -> None:
    response = client.get(f"/users?{query}", headers=auth(admin))

    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_request"


def test_invalid_utf8_in_a_query_string_is_replaced_not_fatal(client, admin, auth) -> None:
    response = client.get("/users?q=%ED%A0%80", headers=auth(admin))

    assert response.status_code == 200
    assert response.get_json()["items"] == []


@pytest.mark.parametrize(
    ("depth", "status", "code"),
    # Parseable nesting is JSON of the wrong type (422); beyond the parser's depth, malformed (400).
    [(100, 422, "validation_error"), (10_000, 400, "bad_request"), (200_000, 400, "bad_request")],
)
def test_deeply_nested_json_is_refused_cleanly(client, depth, status, code) -> None:
    body = "[" * depth + "]" * depth

    response = client.post("/login", data=body, content_type="application/json")

    assert response.status_code == status
    assert response.get_json()["error"] == code


def test_deeply_nested_object_in_a_field_is_422(client, admin, auth) -> None:
    nested = {"a": None}
    for _ in range(500):
        nested = {"a": nested}

    response = client.post("/bucketlists", json={"name": nested}, headers=auth(admin))

    assert response.status_code == 422
    assert response.get_json()["details"] == {"name": ["Not a valid string."]}


@pytest.mark.parametrize(
    "username", ["' OR '1'='1", "admin'--", "admin; DROP TABLE users;", "%%%", "___", "\\\\\\"]
)
def test_sql_metacharacters_are_just_characters(app, client, admin, auth, username) -> None:
    login = client.post("/login", json={"username": username, "password": "whatever-password"})
    search = client.get(
        f"/users?q={username.replace('%', '%25').replace(';', '%3B')}", headers=auth(admin)
    )

    assert login.status_code == 401
    assert login.get_json()["error"] == "invalid_credentials"
    assert search.status_code == 200
    assert search.get_json()["items"] == []
    assert _user_count(app) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/users/../users/me",
        "/users/%2e%2e%2fadmin",
        "/users/1%00",
        "/users/-1",
        "/users/1.5",
        "/users/99999999999999999999999",
        "/bucketlists/..%2f..%2fetc%2fpasswd",
    ],
)
def test_odd_ids_in_paths_are_404(client, admin, auth, path) -> None:
    response = client.get(path, headers=auth(admin))

    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("content_type", "data", "status"),
    [
        ("application/json", "username=admin&password=x", 400),
        ("application/xml", "<login/>", 415),
        ("multipart/form-data; boundary=x", "--x--", 415),
        ("application/json; charset=latin-1", '{"username": "a", "password": "b"}', 401),
        ("application/vnd.api+json", '{"username": "a", "password": "b"}', 401),
    ],
)
def test_content_types(client, content_type, data, status) -> None:
    response = client.post("/login", data=data, content_type=content_type)

    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.get_json()["status"] == status


def test_huge_fields_are_validation_errors(client, admin, auth) -> None:
    response = client.post(
        "/register",
        json={"username": "u" * 100_000, "email": "e" * 100_000, "password": "p" * 100_000},
    )

    assert response.status_code == 422
    assert set(response.get_json()["details"]) == {"username", "email", "password"}


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_tokens_signed_with_another_hmac_algorithm_are_refused(
    app, client, member, token_for, algorithm
) -> None:
    claims = jwt.decode(token_for(member), options={"verify_signature": False})
    forged = jwt.encode(claims, app.config["SECRET_KEY"], algorithm=algorithm)

    response = client.get("/users/me", headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


def test_rs256_header_with_the_secret_as_public_key_is_refused(
    app, client, member, token_for
) -> None:
    """HS/RS confusion: a token claiming RS256, 'signed' with HMAC over the secret."""
    _, payload, _ = token_for(member).split(".")
    claimed = _b64({"alg": "RS256", "typ": "JWT"})
    signature = hmac.new(
        app.config["SECRET_KEY"].encode(), f"{claimed}.{payload}".encode(), hashlib.sha256
    ).digest()
    forged = f"{claimed}.{payload}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"

    response = client.get("/users/me", headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


@pytest.mark.parametrize("kind", [None, "reset", "registration"])
def test_no_jwt_is_a_refresh_token(client, member, token_for, kind) -> None:
    """Access, reset and confirmation tokens are JWTs; refresh tokens are opaque strings."""
    token = token_for(member, kind=kind)

    response = client.post("/refresh", json={"refresh_token": token})

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


def test_token_without_claims_is_invalid(app, client) -> None:
    bare = jwt.encode({"sub": "1"}, app.config["SECRET_KEY"], algorithm="HS256")

    response = client.get("/users/me", headers={"Authorization": f"Bearer {bare}"})

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


def signed_with_our_key(app, member, token_for, **changes) -> str:
    """A token signed with our real signing key (EdDSA, its ``kid``), with the claims of a live
    session's token changed: a claim set to ``None`` is left out."""
    claims = jwt.decode(token_for(member), options={"verify_signature": False})
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    with app.app_context():
        key = keys.signing_key_now()
        return jwt.encode(
            claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid}
        )


def test_a_token_signed_with_our_key_is_accepted(app, client, member, token_for) -> None:
    """The control for the refusals below: the forging itself makes a token we accept."""
    token = signed_with_our_key(app, member, token_for, **{names.TOKEN_ID: uuid.uuid4().hex})

    response = client.get("/users/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.get_json()["username"] == member.username


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({names.EXPIRES: None}, id="no exp"),
        pytest.param({names.SESSION: None}, id="no session id"),
        pytest.param({names.ISSUER: None}, id="no iss"),
        pytest.param({names.AUDIENCE: None}, id="no aud"),
        pytest.param({names.USER: None}, id="no user id"),
        pytest.param({names.TOKEN_ID: None}, id="no jti"),
        pytest.param({names.ISSUER: "https://elsewhere.example"}, id="another issuer"),
        pytest.param({names.AUDIENCE: "another-service"}, id="another audience"),
    ],
)
def test_our_signature_does_not_excuse_a_missing_or_wrong_claim(
    app, client, member, token_for, changes
) -> None:
    token = signed_with_our_key(app, member, token_for, **changes)

    response = client.get("/users/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


def test_our_signature_does_not_excuse_an_expired_token(app, client, member, token_for) -> None:
    past = int(time.time()) - 120
    token = signed_with_our_key(
        app, member, token_for, **{names.ISSUED_AT: past - 900, names.EXPIRES: past}
    )

    response = client.get("/users/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.get_json()["error"] == "token_expired"


def test_a_failed_request_does_not_spoil_the_next_one(client, admin, auth) -> None:
    headers = auth(admin)
    assert client.post("/bucketlists", json={"name": NUL}, headers=headers).status_code == 422

    response = client.post("/bucketlists", json={"name": "fine"}, headers=headers)

    assert response.status_code == 201
    assert response.get_json()["name"] == "fine"
