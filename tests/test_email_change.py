"""E-mail changes (with and without confirmation), the account states they touch, and the
security notices: each finding of the security review pinned."""

import re

import jwt
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, User
from tests.support.mail import outbox

NEW_PASSWORD = "amber-quarry-signal"


def token_in(message) -> str:
    return re.search(r"<pre>(.+?)</pre>", message.body).group(1)


def reset_token(app, client, email: str) -> str:
    assert client.post("/password/forgot", json={"email": email}).status_code == 202
    return token_in(outbox(app)[-1])


def assert_no_secret(message) -> None:
    assert "<pre>" not in message.body
    assert "eyJ" not in message.body  # no JWT
    assert NEW_PASSWORD not in message.body


def test_a_change_tells_the_old_address_and_voids_its_tokens(app, client, member, auth) -> None:
    stale = reset_token(app, client, member.email)

    response = client.patch("/users/me", json={"email": "moved@example.com"}, headers=auth(member))
    reset = client.post("/password/reset", json={"token": stale, "password": NEW_PASSWORD})

    assert response.status_code == 200
    assert response.get_json()["email"] == "moved@example.com"
    notice = outbox(app)[-1]
    assert notice.to == [member.email]
    assert notice.subject == "Your e-mail address was changed"
    assert "moved@example.com" in notice.body
    assert_no_secret(notice)
    assert reset.status_code == 401
    assert reset.get_json()["error"] == "token_revoked"


def test_an_admins_change_tells_the_old_address_and_voids_its_tokens(
    app, client, admin, member, auth
) -> None:
    stale = reset_token(app, client, member.email)

    response = client.patch(
        f"/users/{member.id}", json={"email": "moved@example.com"}, headers=auth(admin)
    )
    reset = client.post("/password/reset", json={"token": stale, "password": NEW_PASSWORD})

    assert response.status_code == 200
    assert outbox(app)[-1].to == [member.email]
    assert reset.status_code == 401
    assert reset.get_json()["error"] == "token_revoked"


@pytest.fixture
def confirming(app):
    app.config["EMAIL_CONFIRMATION"] = True
    return app


def test_with_confirmation_the_change_waits_for_the_new_address(
    confirming, client, member, auth
) -> None:
    headers = auth(member)

    pending = client.patch("/users/me", json={"email": "moved@example.com"}, headers=headers)
    unchanged = client.get("/users/me", headers=headers).get_json()["email"]
    link, notice = outbox(confirming)[-2:]
    confirmed = client.post("/users/me/email/confirm", json={"token": token_in(link)})
    again = client.post("/users/me/email/confirm", json={"token": token_in(link)})

    assert pending.status_code == 202
    assert pending.get_json() == {"pending_email": "moved@example.com"}
    assert unchanged == member.email
    assert link.to == ["moved@example.com"]
    assert link.subject == "Confirm your new e-mail address"
    assert f"POST {confirming.config['PUBLIC_BASE_URL']}/users/me/email/confirm" in link.body
    assert notice.to == [member.email]
    assert "moved@example.com" in notice.body
    assert_no_secret(notice)
    assert confirmed.status_code == 200
    assert confirmed.get_json()["email"] == "moved@example.com"
    assert confirmed.get_json()["email_confirmed"] is True
    assert again.status_code == 401
    assert again.get_json()["error"] == "token_revoked"
    assert again.get_json()["message"] == "The token was used already, or replaced."


def test_with_confirmation_a_taken_address_gets_the_same_answer(
    confirming, client, member, make_user, auth
) -> None:
    holder = make_user("holder", email="holder@example.com")

    response = client.patch("/users/me", json={"email": "holder@example.com"}, headers=auth(member))

    assert response.status_code == 202
    assert response.get_json() == {"pending_email": "holder@example.com"}
    word, notice = outbox(confirming)[-2:]
    assert word.to == [holder.email]
    assert word.subject == "Your e-mail address was offered to another account"
    assert_no_secret(word)
    assert notice.to == [member.email]


def test_the_two_kinds_of_emailed_token_are_not_interchangeable(
    confirming, client, member, auth
) -> None:
    client.patch("/users/me", json={"email": "moved@example.com"}, headers=auth(member))
    change_token = token_in(outbox(confirming)[-2])
    client.post(
        "/register",
        json={"username": "newcomer", "email": "newcomer@example.com", "password": NEW_PASSWORD},
    )
    registration_token = token_in(outbox(confirming)[-1])

    as_registration = client.post("/register/confirm", json={"token": change_token})
    as_change = client.post("/users/me/email/confirm", json={"token": registration_token})
    as_access = client.get("/users/me", headers={"Authorization": f"Bearer {change_token}"})

    for response in (as_registration, as_change):
        assert response.status_code == 401
        assert response.get_json()["error"] == "invalid_token"
        assert response.get_json()["message"] == "This token is for another purpose."
    assert (as_access.status_code, as_access.get_json()["error"]) == (401, "invalid_token")


def test_with_confirmation_registering_a_taken_address_reveals_nothing(
    confirming, client, member
) -> None:
    def register(username: str, email: str):
        return client.post(
            "/register", json={"username": username, "email": email, "password": NEW_PASSWORD}
        )

    fresh = register("newcomer", "newcomer@example.com")
    taken = register("another", member.email)

    assert (fresh.status_code, fresh.get_json()) == (taken.status_code, taken.get_json())
    assert taken.status_code == 202
    assert outbox(confirming)[-1].to == [member.email]
    assert outbox(confirming)[-1].subject == "Someone tried to register with your e-mail address"
    with confirming.app_context():
        assert db.session.scalar(select(User).where(User.username == "another")) is None


def test_confirming_the_address_never_undoes_an_admins_deactivation(
    confirming, client, admin, auth
) -> None:
    client.post(
        "/register",
        json={"username": "newcomer", "email": "newcomer@example.com", "password": NEW_PASSWORD},
    )
    token = token_in(outbox(confirming)[-1])
    with confirming.app_context():
        user_id = db.session.scalar(select(User.user_id).where(User.username == "newcomer"))
    deactivated = client.patch(f"/users/{user_id}", json={"is_active": False}, headers=auth(admin))

    confirmed = client.post("/register/confirm", json={"token": token})
    login = client.post("/login", json={"username": "newcomer", "password": NEW_PASSWORD})

    assert deactivated.status_code == 200
    assert confirmed.status_code == 200
    assert confirmed.get_json()["is_active"] is False
    assert confirmed.get_json()["email_confirmed"] is True
    assert login.status_code == 403
    assert login.get_json()["error"] == "account_disabled"
    with confirming.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.target_id == user_id)
        ).all()
    assert "user.activated" not in actions


def test_a_password_change_and_a_reset_are_told(app, client, make_user, auth) -> None:
    account = make_user("teller")

    change = client.put(
        "/users/me/password",
        json={"current_password": account.password, "new_password": NEW_PASSWORD},
        headers=auth(account),
    )
    changed = outbox(app)[-1]
    token = reset_token(app, client, account.email)
    reset_answer = client.post(
        "/password/reset", json={"token": token, "password": "violet-quarry-lantern"}
    )
    reset = outbox(app)[-1]

    assert (change.status_code, change.get_json()["token_type"]) == (200, "Bearer")
    assert (reset_answer.status_code, reset_answer.get_data()) == (204, b"")

    assert (changed.to, changed.subject) == ([account.email], "Your password was changed")
    assert (reset.to, reset.subject) == ([account.email], "Your password was reset")
    for message in (changed, reset):
        assert_no_secret(message)


def test_a_lockout_is_told(app, client, member) -> None:
    failures = [
        client.post("/login", json={"username": "member", "password": "wrong-password-x"})
        for _ in range(5)
    ]

    notice = outbox(app)[-1]

    assert [(failure.status_code, failure.get_json()["error"]) for failure in failures] == [
        (401, "invalid_credentials")
    ] * 5
    assert notice.to == [member.email]
    assert notice.subject == "Sign-in attempts on your account were blocked"
    assert "127.0.0.1" in notice.body
    assert "wrong-password-x" not in notice.body


def _register(client, username: str, email: str):
    return client.post(
        "/register", json={"username": username, "email": email, "password": NEW_PASSWORD}
    )


def test_an_unconfirmed_registration_does_not_keep_the_address_from_its_owner(
    confirming, client
) -> None:
    """A squatter registers bob's address and never confirms: bob's own registration gets his
    own account and link (never the squatter's), and his confirmation wins the address."""
    squatted = _register(client, "squatter", "bob@example.com")
    squatters_link = token_in(outbox(confirming)[-1])
    bobs = _register(client, "bob", "bob@example.com")
    letter = outbox(confirming)[-1]
    confirmed = client.post("/register/confirm", json={"token": token_in(letter)})
    late = client.post("/register/confirm", json={"token": squatters_link})
    login = client.post("/login", json={"username": "bob", "password": NEW_PASSWORD})

    assert squatted.status_code == bobs.status_code == 202
    assert letter.to == ["bob@example.com"]
    assert letter.subject == "Confirm your Gatehouse account"
    assert token_in(letter) != squatters_link
    assert confirmed.status_code == 200
    assert confirmed.get_json()["username"] == "bob"
    assert confirmed.get_json()["email_confirmed"] is True
    assert late.status_code == 401
    assert late.get_json()["error"] == "token_revoked"
    assert login.status_code == 200
    with confirming.app_context():
        assert db.session.scalar(select(User).where(User.username == "squatter")) is None


def test_a_reset_token_lasts_the_reset_lifespan_and_a_confirmation_its_own(
    confirming, client, member
) -> None:
    reset = reset_token(confirming, client, member.email)
    registered = _register(client, "newcomer", "newcomer@example.com")
    confirmation = token_in(outbox(confirming)[-1])

    def lifespan(token: str) -> int:
        claims = jwt.decode(token, options={"verify_signature": False})
        return claims["exp"] - claims["iat"]

    assert registered.status_code == 202
    assert lifespan(reset) == confirming.config["PRAETORIAN_RESET_LIFESPAN"]["seconds"] == 1800
    assert (
        lifespan(confirmation) == confirming.config["PRAETORIAN_CONFIRMATION_LIFESPAN"]["seconds"]
    )


def test_a_reset_reaches_the_confirmed_owner_not_an_unconfirmed_twin(
    confirming, client, member
) -> None:
    _register(client, "twin", member.email)  # taken: the holder is told, no account is made
    client.post("/password/forgot", json={"email": member.email})

    letter = outbox(confirming)[-1]
    assert letter.to == [member.email]
    assert letter.subject == "Reset your Gatehouse password"
    with confirming.app_context():
        assert db.session.scalar(select(User).where(User.username == "twin")) is None


def test_an_unconfirmed_account_lapses_and_is_pruned(confirming, client, runner) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from app.models.columns import utcnow

    _register(client, "sleeper", "sleeper@example.com")
    with confirming.app_context():
        db.session.execute(update(User).values(created_datetime=utcnow() - timedelta(days=2)))
        db.session.commit()

    result = runner.invoke(args=["prune-tokens"])
    again = _register(client, "sleeper", "sleeper@example.com")

    assert result.exit_code == 0
    assert "Pruned 1 account(s) whose confirmation lapsed." in result.output
    assert again.status_code == 202
    with confirming.app_context():
        events = db.session.scalars(select(AuditEvent.action)).all()
    assert events.count("user.deleted") == 1


def test_unsolicited_mail_to_one_address_is_limited(make_app, member) -> None:
    """A stranger can have mail sent to an address (a taken address's notice, a reset): at most
    NOTICE_LIMIT of them reach it."""
    app = make_app(EMAIL_CONFIRMATION=True, RATELIMIT_ENABLED=True, NOTICE_LIMIT="3 per hour")
    client = app.test_client()

    answers = [_register(client, f"taker{number}", member.email).status_code for number in range(2)]
    for _ in range(2):
        answers.append(client.post("/password/forgot", json={"email": member.email}).status_code)

    assert answers == [202, 202, 202, 202]
    letters = [message for message in outbox(app) if message.to == [member.email]]
    assert [letter.subject for letter in letters] == [
        "Someone tried to register with your e-mail address",
        "Someone tried to register with your e-mail address",
        "Reset your Gatehouse password",
    ]


def test_a_deactivated_account_cannot_confirm_an_email_change(
    confirming, client, admin, member, auth
) -> None:
    """Deactivation holds whatever the user does: a link sent before it changes nothing."""
    pending = client.patch("/users/me", json={"email": "moved@example.com"}, headers=auth(member))
    link = outbox(confirming)[-2]
    deactivated = client.patch(
        f"/users/{member.id}", json={"is_active": False}, headers=auth(admin)
    )

    confirmed = client.post("/users/me/email/confirm", json={"token": token_in(link)})
    seen = client.get(f"/users/{member.id}", headers=auth(admin))

    assert pending.status_code == 202
    assert deactivated.status_code == 200
    assert confirmed.status_code == 403
    assert confirmed.get_json()["error"] == "account_disabled"
    assert seen.status_code == 200
    assert (seen.get_json()["email"], seen.get_json()["is_active"]) == (member.email, False)


def test_a_reset_token_minted_before_deactivation_does_not_reopen_the_account(
    app, client, admin, member, auth
) -> None:
    token = reset_token(app, client, member.email)
    deactivated = client.patch(
        f"/users/{member.id}", json={"is_active": False}, headers=auth(admin)
    )

    reset = client.post("/password/reset", json={"token": token, "password": NEW_PASSWORD})
    login = client.post("/login", json={"username": member.username, "password": NEW_PASSWORD})
    seen = client.get(f"/users/{member.id}", headers=auth(admin))

    assert deactivated.status_code == 200
    assert (reset.status_code, reset.get_json()["error"]) == (403, "account_disabled")
    assert login.status_code == 401
    assert login.get_json()["error"] == "invalid_credentials"
    assert (seen.status_code, seen.get_json()["is_active"]) == (200, False)


def test_an_email_change_voids_confirmation_links_sent_to_the_old_address(
    confirming, client, admin, auth
) -> None:
    """A registration link sent to the old address stops working once the address changed."""
    registered = client.post(
        "/register",
        json={"username": "newcomer", "email": "newcomer@example.com", "password": NEW_PASSWORD},
    )
    old_link = token_in(outbox(confirming)[-1])
    with confirming.app_context():
        user_id = db.session.scalar(select(User.user_id).where(User.username == "newcomer"))
    moved = client.patch(
        f"/users/{user_id}", json={"email": "elsewhere@example.com"}, headers=auth(admin)
    )

    confirmed = client.post("/register/confirm", json={"token": old_link})

    assert registered.status_code == 202
    assert moved.status_code == 200
    assert moved.get_json()["email"] == "elsewhere@example.com"
    assert confirmed.status_code == 401
    assert confirmed.get_json()["error"] == "token_revoked"


def test_confirming_an_email_change_to_an_address_taken_meanwhile_is_409(
    confirming, client, admin, member, auth
) -> None:
    pending = client.patch("/users/me", json={"email": "wanted@example.com"}, headers=auth(member))
    link = outbox(confirming)[-2]
    created = client.post(
        "/users",
        json={"username": "quicker", "email": "wanted@example.com", "password": NEW_PASSWORD},
        headers=auth(admin),
    )

    confirmed = client.post("/users/me/email/confirm", json={"token": token_in(link)})
    me = client.get("/users/me", headers=auth(member))

    assert pending.status_code == 202
    assert created.status_code == 201
    assert confirmed.status_code == 409
    assert confirmed.get_json()["error"] == "conflict"
    assert "email" in confirmed.get_json()["details"]
    assert (me.status_code, me.get_json()["email"]) == (200, member.email)


def test_confirming_a_registration_whose_address_was_taken_meanwhile_is_409(
    confirming, client, admin, auth
) -> None:
    """An admin gave the address to an account (confirmed) while the registration waited for
    its link: the link cannot take the address over."""
    registered = client.post(
        "/register",
        json={"username": "newcomer", "email": "shared@example.com", "password": NEW_PASSWORD},
    )
    link = token_in(outbox(confirming)[-1])
    created = client.post(
        "/users",
        json={"username": "quicker", "email": "shared@example.com", "password": NEW_PASSWORD},
        headers=auth(admin),
    )

    late = client.post("/register/confirm", json={"token": link})
    login = client.post("/login", json={"username": "newcomer", "password": NEW_PASSWORD})

    assert registered.status_code == 202
    assert created.status_code == 201
    assert late.status_code == 409
    assert late.get_json()["error"] == "conflict"
    assert login.status_code == 403
    assert login.get_json()["error"] == "account_disabled"
