"""Every protected route refuses a missing, forged, expired or revoked token."""

import base64
import json
from types import SimpleNamespace

import flask
import pendulum
import pytest
from flask_praetorian import Praetorian
from flask_praetorian.constants import AccessType
from flask_praetorian.exceptions import (
    BlacklistedError,
    ExpiredAccessError,
    MissingClaimError,
    PraetorianError,
)

from app.auth.guard import TokenSubject
from app.extensions import db, guard
from app.models import User

PROTECTED_ROUTES = ["/users", "/users/me", "/users/admin-only", "/users/1"]


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["error"] == code
    assert body["status"] == status
    assert body["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize("path", PROTECTED_ROUTES)
def test_no_token_is_401_missing_token(client, path) -> None:
    _assert_error(client.get(path), 401, "missing_token")


@pytest.mark.parametrize("path", PROTECTED_ROUTES)
@pytest.mark.parametrize("header", ["Token abc", "Bearer", "Basic dXNlcjpwYXNz"])
def test_malformed_authorization_header_is_401(client, path, header) -> None:
    response = client.get(path, headers={"Authorization": header})

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


@pytest.mark.parametrize("path", PROTECTED_ROUTES)
def test_tampered_token_is_401_invalid_token(client, admin, member, token_for, path) -> None:
    header, payload, signature = token_for(member).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["rls"] = "admin"
    forged = f"{header}.{_b64(claims)}.{signature}"

    _assert_error(
        client.get(path, headers={"Authorization": f"Bearer {forged}"}), 401, "invalid_token"
    )


@pytest.mark.parametrize("path", PROTECTED_ROUTES)
def test_alg_none_token_is_401_invalid_token(client, admin, token_for, path) -> None:
    payload = token_for(admin).split(".")[1]
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."

    _assert_error(
        client.get(path, headers={"Authorization": f"Bearer {unsigned}"}), 401, "invalid_token"
    )


@pytest.mark.parametrize("path", PROTECTED_ROUTES)
def test_expired_token_is_401_token_expired(client, admin, token_for, path) -> None:
    expired = token_for(admin, override_access_lifespan=pendulum.duration(seconds=-1))

    _assert_error(
        client.get(path, headers={"Authorization": f"Bearer {expired}"}), 401, "token_expired"
    )


@pytest.mark.parametrize("path", PROTECTED_ROUTES)
def test_token_of_a_deleted_user_is_401_token_revoked(app, client, admin, auth, path) -> None:
    headers = auth(admin)
    with app.app_context():
        db.session.delete(db.session.get(User, admin.id))
        db.session.commit()

    _assert_error(client.get(path, headers=headers), 401, "token_revoked")


@pytest.mark.parametrize("path", PROTECTED_ROUTES)
def test_token_older_than_the_users_token_version_is_revoked(
    app, client, admin, auth, path
) -> None:
    headers = auth(admin)
    with app.app_context():
        db.session.get(User, admin.id).token_version += 1
        db.session.commit()

    _assert_error(client.get(path, headers=headers), 401, "token_revoked")
    assert client.get(path, headers=auth(admin)).status_code == 200


@pytest.mark.parametrize("path", PROTECTED_ROUTES)
def test_token_of_a_deactivated_user_is_403_account_disabled(
    app, client, admin, auth, path
) -> None:
    headers = auth(admin)
    with app.app_context():
        db.session.get(User, admin.id).is_active = False
        db.session.commit()

    _assert_error(client.get(path, headers=headers), 403, "account_disabled")


@pytest.mark.parametrize("kind", ["is_registration_token", "is_reset_token"])
def test_registration_and_reset_tokens_do_not_grant_access(client, member, token_for, kind) -> None:
    special = token_for(member, **{kind: True})

    _assert_error(
        client.get("/users/me", headers={"Authorization": f"Bearer {special}"}),
        401,
        "invalid_token",
    )


def test_token_signed_with_another_key_is_401(client, member, token_for) -> None:
    import jwt

    claims = jwt.decode(token_for(member), options={"verify_signature": False})
    forged = jwt.encode(claims, "another-key-of-thirty-two-bytes-or-more!", algorithm="HS256")

    _assert_error(
        client.get("/users/me", headers={"Authorization": f"Bearer {forged}"}), 401, "invalid_token"
    )


def test_token_in_query_string_or_cookie_is_ignored(client, member, token_for) -> None:
    token = token_for(member)
    client.set_cookie("access_token", token)

    _assert_error(client.get(f"/users/me?access_token={token}"), 401, "missing_token")


def test_own_tokens_are_read_by_the_short_way_and_others_are_left_to_pyjwt(
    app, member, token_for
) -> None:
    import jwt

    from app.extensions import guard

    token = token_for(member)
    header, payload, signature = token.split(".")
    with app.app_context():
        verifier = guard._own_tokens
        expected = jwt.decode(token, guard.encode_key, algorithms=["HS256"])
        assert verifier.claims(token) == expected
        assert expected["id"] == member.id
        claims = dict(expected, rls="admin")
        refused = {
            "payload changed": f"{header}.{_b64(claims)}.{signature}",
            "signature changed": f"{header}.{payload}.{signature[:-2]}AA",
            "signature padded": f"{token}=",
            "signature with junk": f"{header}.{payload}.{signature[:10]}!{signature[10:]}",
            "extra segment": f"{token}.{signature}",
            "no signature": f"{header}.{payload}",
            "non-ascii": f"{header}.{payload}é.{signature}",
            "other header": jwt.encode(expected, guard.encode_key, "HS256", {"kid": "1"}),
            "other key": jwt.encode(expected, "k" * 32, "HS256"),
        }
        for name, candidate in refused.items():
            assert verifier.claims(candidate) is None, name
        # A token with another header but our key and algorithm is still ours: PyJWT reads it.
        assert guard.extract_jwt_token(refused["other header"])["id"] == member.id


def _pyjwt_must_not_be_asked(*args, **kwargs):
    raise AssertionError("PyJWT decoded a token of our own")


def test_issued_claims_read_our_tokens_and_fall_back_to_pyjwt(
    app, member, token_for, monkeypatch
) -> None:
    import jwt

    from app.auth import guard as guard_module
    from app.extensions import guard

    token = token_for(member)
    with app.app_context():
        expected = jwt.decode(token, guard.encode_key, algorithms=["HS256"])
        assert guard.issued_claims(token) == expected
        # Our own token takes the short way: PyJWT is not asked.
        monkeypatch.setattr(guard_module.jwt, "decode", _pyjwt_must_not_be_asked)
        assert guard.issued_claims(token) == expected
        monkeypatch.undo()
        other_header = jwt.encode(expected, guard.encode_key, "HS256", {"kid": "1"})
        assert guard.issued_claims(other_header) == expected
        own_tokens, guard._own_tokens = guard._own_tokens, None
        try:
            assert guard.issued_claims(token) == expected
        finally:
            guard._own_tokens = own_tokens


def test_payload_changed_with_a_valid_signature_of_another_token_is_refused(
    client, admin, member, token_for
) -> None:
    header, _, signature = token_for(member).split(".")
    admin_payload = token_for(admin).split(".")[1]
    spliced = f"{header}.{admin_payload}.{signature}"

    _assert_error(
        client.get("/users/me", headers={"Authorization": f"Bearer {spliced}"}),
        401,
        "invalid_token",
    )


def test_a_user_deleted_after_the_token_check_is_a_revoked_token_not_an_error(
    app, admin, token_for
) -> None:
    """A concurrent request can delete the user between this request's token check and its
    loading of the user to change it."""
    from app.auth.guard import TokenRevokedError, current_user

    token = token_for(admin)
    with app.test_request_context(headers={"Authorization": f"Bearer {token}"}):
        from flask_praetorian.utilities import add_jwt_data_to_app_context

        from app.extensions import guard

        add_jwt_data_to_app_context(guard.extract_jwt_token(token))
        assert current_user().user_id == admin.id
        db.session.delete(db.session.get(User, admin.id))
        db.session.commit()
        with pytest.raises(TokenRevokedError):
            current_user()


NOW = 1_900_000_000
VALID = {"jti": "j-1", "id": 1, "exp": NOW + 60, "rf_exp": NOW + 3600}
CLAIM_SETS = {
    "valid": VALID,
    "expires-now": {**VALID, "exp": NOW},
    "expired": {**VALID, "exp": NOW - 1},
    "no-jti": {key: value for key, value in VALID.items() if key != "jti"},
    "no-id": {key: value for key, value in VALID.items() if key != "id"},
    "no-exp": {key: value for key, value in VALID.items() if key != "exp"},
    "no-rf_exp": {key: value for key, value in VALID.items() if key != "rf_exp"},
    "revoked": {**VALID, "jti": "revoked"},
    "revoked-and-expired": {**VALID, "jti": "revoked", "exp": NOW - 1},
    "registration": {**VALID, "is_ert": True},
    "reset": {**VALID, "is_prt": True},
    "registration-and-expired": {**VALID, "is_ert": True, "exp": NOW - 1},
    "bare": {"exp": NOW - 1},
}


@pytest.mark.parametrize("name", CLAIM_SETS)
def test_access_claims_are_checked_as_praetorian_checks_them(app, monkeypatch, name) -> None:
    """The guard's own check of an access token's claims gives praetorian's answer (error and
    message) for every claim set, at the same instant (both clocks read NOW + 0.999 s)."""
    data = CLAIM_SETS[name]
    monkeypatch.setattr("app.auth.guard.time.time", lambda: NOW + 0.999)
    praetorian_clock = SimpleNamespace(int_timestamp=NOW)
    monkeypatch.setattr(
        "flask_praetorian.base.pendulum", SimpleNamespace(now=lambda zone: praetorian_clock)
    )

    def outcome(check) -> tuple:
        try:
            check()
        except PraetorianError as error:
            return type(error), error.message
        return None, None

    with app.test_request_context():
        flask.g.token_subject = TokenSubject("revoked", 1, None, True)
        ours = outcome(lambda: guard._validate_access_claims(data))
        theirs = outcome(lambda: Praetorian._validate_jwt_data(guard, data, AccessType.access))
    assert ours == theirs
    expected = {
        "valid": None,
        "expires-now": None,
        "expired": ExpiredAccessError,
        "revoked-and-expired": BlacklistedError,
        "bare": MissingClaimError,
    }
    if name in expected:
        assert ours[0] is expected[name]
