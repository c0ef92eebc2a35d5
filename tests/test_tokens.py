"""Every protected route refuses a missing, forged, expired or revoked token."""

import base64
import json

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import User, UserSession
from app.models.columns import utcnow

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
    expired = token_for(admin, lifespan=-1)

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
def test_token_of_an_ended_session_is_revoked(app, client, admin, auth, path) -> None:
    headers = auth(admin)
    with app.app_context():
        db.session.execute(update(UserSession).values(ended_at=utcnow(), ended_reason="test"))
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


@pytest.mark.parametrize("kind", ["registration", "reset"])
def test_registration_and_reset_tokens_do_not_grant_access(client, member, token_for, kind) -> None:
    special = token_for(member, kind=kind)

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
    from app.guard import TokenRevokedError, current_user

    token = token_for(admin)
    with app.test_request_context(method="POST", headers={"Authorization": f"Bearer {token}"}):
        from flask_praetorian.utilities import add_jwt_data_to_app_context

        from app.extensions import guard

        add_jwt_data_to_app_context(guard.extract_jwt_token(token))
        assert current_user().user_id == admin.id
        db.session.delete(db.session.get(User, admin.id))
        db.session.commit()
        with pytest.raises(TokenRevokedError):
            current_user()
