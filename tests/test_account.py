"""Registration (with and without e-mail confirmation), password reset and password change."""

import hashlib
import re

import pytest

from app.accounts.password_policy import CONTAINS_USERNAME
from app.extensions import db
from app.models import User
from tests.support.mail import outbox
from tests.support.signin import bearer

GOOD_PASSWORD = "a-long-enough-secret"


def _token_in(message) -> str:
    return re.search(r"<pre>(.+?)</pre>", message.body).group(1)


def _register(client, username="newcomer", email="newcomer@example.com", password=GOOD_PASSWORD):
    return client.post(
        "/register", json={"username": username, "email": email, "password": password}
    )


def test_register_creates_an_active_user_account(client) -> None:
    response = _register(client)

    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/users/{body['id']}"
    assert body["username"] == "newcomer"
    assert body["email"] == "newcomer@example.com"
    assert body["roles"] == ["user"]
    assert body["is_active"] is True
    assert body["email_confirmed"] is True
    login = client.post("/login", json={"username": "newcomer", "password": GOOD_PASSWORD})
    assert login.status_code == 200


@pytest.mark.parametrize(
    ("username", "email", "field"),
    [("MEMBER", "fresh@example.com", "username"), ("fresh", "Member@Example.com", "email")],
)
def test_register_refuses_taken_usernames_and_emails_ignoring_case(
    client, member, username, email, field
) -> None:
    response = _register(client, username=username, email=email)

    assert response.status_code == 409
    body = response.get_json()
    assert body["error"] == "conflict"
    assert list(body["details"]) == [field]


def test_register_can_be_switched_off(app, client) -> None:
    app.config["REGISTRATION_ENABLED"] = False

    response = _register(client)

    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"
    with app.app_context():
        assert db.session.scalars(db.select(User)).all() == []


@pytest.mark.parametrize("extra", [{"roles": ["admin"]}, {"is_active": True}, {"id": 1}])
def test_register_refuses_fields_it_does_not_take(client, extra) -> None:
    body = {"username": "sneaky", "email": "sneaky@example.com", "password": GOOD_PASSWORD, **extra}

    response = client.post("/register", json=body)

    assert response.status_code == 422
    assert list(response.get_json()["details"]) == list(extra)


@pytest.mark.parametrize(("length", "status"), [(11, 422), (12, 201), (256, 201), (257, 422)])
def test_password_policy_length_boundaries(client, length, status) -> None:
    unguessable = "".join(hashlib.sha256(str(n).encode()).hexdigest() for n in range(5))
    response = _register(client, password=unguessable[:length])

    assert response.status_code == status
    if status == 422:
        assert response.get_json()["details"] == {"password": ["Use 12 to 256 characters."]}


@pytest.mark.parametrize("password", ["newcomer-1234", "NEWCOMER-1234"])
def test_password_may_not_be_the_username(client, password) -> None:
    response = _register(client, username=password.lower(), password=password)

    assert response.status_code == 422
    assert response.get_json()["details"] == {"password": [CONTAINS_USERNAME]}


@pytest.mark.parametrize(
    "username",
    [
        "ab",
        "a" * 65,
        "has space",
        "semi;colon",
        "\u0430dmin",
        "nul\u0000byte",
        "emoji\U0001f600",
        "' OR 1=1 --",
    ],
)
def test_usernames_outside_the_allowed_alphabet_are_refused(client, username) -> None:
    response = _register(client, username=username)

    assert response.status_code == 422
    assert "username" in response.get_json()["details"]


@pytest.mark.parametrize("username", ["abc", "a" * 64, "Ada.Lovelace-1_x"])
def test_usernames_inside_the_rules_are_accepted(client, username) -> None:
    response = _register(client, username=username)

    assert response.status_code == 201
    assert response.get_json()["username"] == username


@pytest.mark.parametrize("email", ["not-an-email", "a@" + "b" * 250 + ".com", ""])
def test_invalid_emails_are_refused(client, email) -> None:
    response = _register(client, email=email)

    assert response.status_code == 422
    assert "email" in response.get_json()["details"]


def test_registration_with_confirmation_sends_an_email_whose_token_works_once(app, client) -> None:
    app.config["EMAIL_CONFIRMATION"] = True

    response = _register(client)

    assert response.status_code == 202
    assert response.get_json()["message"].startswith("Check your inbox")
    [message] = outbox(app)
    assert message.to == ["newcomer@example.com"]
    assert message.subject == "Confirm your Gatehouse account"
    token = _token_in(message)

    early_login = client.post("/login", json={"username": "newcomer", "password": GOOD_PASSWORD})
    assert early_login.status_code == 403
    assert early_login.get_json()["error"] == "account_disabled"

    confirmed = client.post("/register/confirm", json={"token": token})
    assert confirmed.status_code == 200
    assert confirmed.get_json()["is_active"] is True
    assert confirmed.get_json()["email_confirmed"] is True
    login = client.post("/login", json={"username": "newcomer", "password": GOOD_PASSWORD})
    assert login.status_code == 200

    again = client.post("/register/confirm", json={"token": token})
    assert again.status_code == 401
    assert again.get_json()["error"] == "token_revoked"


def test_confirmation_refuses_tokens_that_are_not_registration_tokens(
    client, member, token_for
) -> None:
    for token in (token_for(member), token_for(member, kind="reset"), "garbage"):
        response = client.post("/register/confirm", json={"token": token})

        assert response.status_code == 401
        assert response.get_json()["error"] == "invalid_token"


def test_without_confirmation_no_email_is_sent(app, client) -> None:
    assert _register(client).status_code == 201

    assert outbox(app) == []


@pytest.mark.parametrize("email", ["member@example.com", "nobody@example.com"])
def test_forgot_password_answers_202_whatever_the_address(app, client, member, email) -> None:
    response = client.post("/password/forgot", json={"email": email})

    assert response.status_code == 202
    assert response.get_json() == {
        "message": "If an active account has that e-mail address, a reset token was sent to it."
    }
    assert len(outbox(app)) == (1 if email == member.email else 0)


def test_forgot_password_sends_nothing_to_a_disabled_account(app, client, make_user) -> None:
    make_user("sleeper", is_active=False)

    response = client.post("/password/forgot", json={"email": "sleeper@example.com"})

    assert response.status_code == 202
    assert outbox(app) == []


def _reset_token(app, client, account) -> str:
    assert client.post("/password/forgot", json={"email": account.email}).status_code == 202
    message = outbox(app)[-1]
    assert message.subject == "Reset your Gatehouse password"
    return _token_in(message)


def test_reset_sets_the_password_revokes_old_tokens_and_works_once(
    app, client, member, admin, auth
) -> None:
    old_headers, admin_headers = auth(member), auth(admin)
    token = _reset_token(app, client, member)

    response = client.post("/password/reset", json={"token": token, "password": "brand-new-secret"})

    assert response.status_code == 204
    assert client.get("/users/me", headers=old_headers).get_json()["error"] == "token_revoked"
    assert client.get("/users/me", headers=admin_headers).status_code == 200
    old = client.post("/login", json={"username": "member", "password": member.password})
    assert old.status_code == 401
    new = client.post("/login", json={"username": "member", "password": "brand-new-secret"})
    assert new.status_code == 200
    reused = client.post("/password/reset", json={"token": token, "password": "another-secret-1"})
    assert reused.status_code == 401
    assert reused.get_json()["error"] == "token_revoked"


def test_reset_enforces_the_password_policy_and_keeps_the_token_usable(
    app, client, make_user
) -> None:
    account = make_user("longusername12")
    token = _reset_token(app, client, account)

    short = client.post("/password/reset", json={"token": token, "password": "short"})
    named = client.post("/password/reset", json={"token": token, "password": "LONGUSERNAME12"})
    good = client.post("/password/reset", json={"token": token, "password": "brand-new-secret"})

    assert short.status_code == 422
    assert short.get_json()["details"] == {"password": ["Use 12 to 256 characters."]}
    assert named.status_code == 422
    assert named.get_json()["details"] == {"password": [CONTAINS_USERNAME]}
    assert good.status_code == 204


def test_reset_refuses_access_tokens(client, member, token_for) -> None:
    response = client.post(
        "/password/reset", json={"token": token_for(member), "password": "brand-new-secret"}
    )

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


def test_change_password_returns_a_fresh_token_and_revokes_the_rest(
    client, member, admin, auth
) -> None:
    first, second, admin_headers = auth(member), auth(member), auth(admin)

    response = client.put(
        "/users/me/password",
        json={"current_password": member.password, "new_password": "brand-new-secret"},
        headers=first,
    )

    assert response.status_code == 200
    fresh = response.get_json()["access_token"]
    assert client.get("/users/me", headers=bearer(fresh)).status_code == 200
    # The session the change was made in goes on with the new tokens; its access tokens from
    # before the change stop, and every other session ends.
    for stale in (client.get("/users/me", headers=first), client.get("/users/me", headers=second)):
        assert stale.status_code == 401
        assert stale.get_json()["error"] == "token_revoked"
    assert client.get("/users/me", headers=admin_headers).status_code == 200
    login = client.post("/login", json={"username": "member", "password": "brand-new-secret"})
    assert login.status_code == 200


def test_change_password_needs_the_current_password(client, member, auth) -> None:
    headers = auth(member)

    response = client.put(
        "/users/me/password",
        json={"current_password": "not-my-password", "new_password": "brand-new-secret"},
        headers=headers,
    )

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_credentials"
    assert response.get_json()["details"] == {"current_password": ["The password is incorrect."]}
    assert client.get("/users/me", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("new_password", "field_message"),
    [("p" * 11, "Use 12 to 256 characters."), ("p" * 257, "Use 12 to 256 characters.")],
)
def test_change_password_enforces_the_policy(
    client, member, auth, new_password, field_message
) -> None:
    response = client.put(
        "/users/me/password",
        json={"current_password": member.password, "new_password": new_password},
        headers=auth(member),
    )

    assert response.status_code == 422
    assert response.get_json()["details"] == {"new_password": [field_message]}


def test_change_password_refuses_the_username_as_password(client, make_user, auth) -> None:
    account = make_user("longusername12")

    response = client.put(
        "/users/me/password",
        json={"current_password": account.password, "new_password": "LongUsername12"},
        headers=auth(account),
    )

    assert response.status_code == 422
    assert response.get_json()["details"] == {"new_password": [CONTAINS_USERNAME]}


def test_change_password_needs_a_token(client) -> None:
    response = client.put(
        "/users/me/password", json={"current_password": "x", "new_password": "brand-new-secret"}
    )

    assert response.status_code == 401
    assert response.get_json()["error"] == "missing_token"
