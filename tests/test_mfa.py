"""Multi-factor authentication (ASVS 6.3, 6.5, 6.6): TOTP codes computed here from the secret the
API returns, recovery codes, the two-step login, the admin's reset, MFA_REQUIRED_ROLES and the
encryption of secrets at rest."""

import hashlib
import re
from datetime import timedelta

import pytest
import segno
from cryptography.fernet import Fernet
from sqlalchemy import select

from app.accounts import mfa
from app.errors import ApiError
from app.extensions import db
from app.models import AuditEvent, Passkey, RecoveryCode, Ticket, User, UserSession
from app.models.columns import utcnow
from app.tokens import tickets
from app.tokens.opaque import digest
from tests.support.errors import without_request_id
from tests.support.mail import outbox
from tests.support.passkey_device import Device
from tests.support.signin import bearer, login
from tests.support.totp import Authenticator, current_step, enrol

RECOVERY_CODE = re.compile(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}")


def actions(app, user_id: int) -> list[str]:
    with app.app_context():
        return db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.target_id == user_id)
        ).all()


def audit_trail(app, user_id: int, action: str) -> list[tuple]:
    """The (actor, changes) of each ``action`` event about the user, oldest first."""
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                select(AuditEvent.actor_id, AuditEvent.changes)
                .where(AuditEvent.target_id == user_id, AuditEvent.action == action)
                .order_by(AuditEvent.id)
            )
        ]


def turn_on_mfa(client, headers) -> tuple[Authenticator, list[str]]:
    """MFA turned on through the API: the authenticator app and the recovery codes."""
    authenticator = enrol(client, headers)
    confirmed = client.post(
        "/users/me/mfa/totp/confirm", json={"code": authenticator.code()}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.get_json()
    return authenticator, confirmed.get_json()["recovery_codes"]


@pytest.fixture
def enrolled(client, member, auth):
    """``member`` with MFA on: (headers, authenticator, recovery codes)."""
    headers = auth(member)
    app_ = enrol(client, headers)
    confirmed = client.post(
        "/users/me/mfa/totp/confirm", json={"code": app_.code()}, headers=headers
    )
    assert confirmed.status_code == 200
    return headers, app_, confirmed.get_json()["recovery_codes"]


def test_enrolment_gives_a_secret_a_uri_and_a_qr_code_stored_encrypted(
    app, client, member, auth
) -> None:
    headers = auth(member)

    response = client.post("/users/me/mfa/totp", headers=headers)

    assert response.status_code == 200
    body = response.get_json()
    assert re.fullmatch(r"[A-Z2-7]{32}", body["secret"])
    assert body["otpauth_uri"].startswith("otpauth://totp/Gatehouse:member?secret=")
    assert "issuer=Gatehouse" in body["otpauth_uri"]
    assert body["qr_svg"].startswith("<svg")
    assert client.get("/users/me", headers=headers).get_json()["mfa_enabled"] is False
    with app.app_context():
        stored = db.session.get(User, member.id).totp_secret
        assert body["secret"] not in stored
        assert mfa.secret_of(db.session.get(User, member.id)) == body["secret"]


def test_the_qr_code_shows_the_otpauth_uri_at_error_level_m_four_pixels_a_module(
    client, member, auth
) -> None:
    response = client.post("/users/me/mfa/totp", headers=auth(member))

    body = response.get_json()
    assert response.status_code == 200
    # member's URI (88 bytes) needs version 6 at level M (version 5 would do at level L): 41
    # modules and a quiet zone of 4 either side, 4 pixels each.
    assert body["qr_svg"].startswith('<svg width="196" height="196" class="segno">')
    assert body["qr_svg"] == segno.make(body["otpauth_uri"], error="m").svg_inline(scale=4)


def test_a_first_code_turns_mfa_on_and_returns_ten_recovery_codes_once(
    app, client, member, auth
) -> None:
    headers = auth(member)
    authenticator = enrol(client, headers)

    wrong = client.post("/users/me/mfa/totp/confirm", json={"code": "000000"}, headers=headers)
    right = client.post(
        "/users/me/mfa/totp/confirm", json={"code": authenticator.code()}, headers=headers
    )

    assert wrong.status_code == 401
    assert wrong.get_json()["error"] == "invalid_credentials"
    assert right.status_code == 200
    codes = right.get_json()["recovery_codes"]
    assert len(set(codes)) == 10
    assert all(RECOVERY_CODE.fullmatch(code) for code in codes)
    me = client.get("/users/me", headers=headers).get_json()
    assert me["mfa_enabled"] is True
    assert "recovery_codes" not in me
    assert "user.mfa_enabled" in actions(app, member.id)
    notice = outbox(app)[-1]
    assert notice.subject == "Two-step sign-in is on"
    assert not any(code in notice.body for code in codes)


def test_with_mfa_on_a_password_gets_only_an_mfa_token(client, member, enrolled) -> None:
    first = login(client, member)

    as_bearer = client.get("/users/me", headers=bearer(first["mfa_token"]))

    assert first["mfa_required"] is True
    assert first["expires_in"] == 300
    assert "access_token" not in first
    assert "refresh_token" not in first
    assert as_bearer.status_code == 401
    assert as_bearer.get_json()["error"] == "invalid_token"


def test_the_second_step_gives_tokens_and_a_code_works_once(client, member, enrolled) -> None:
    _, authenticator, _ = enrolled
    code = authenticator.code()

    signed_in = client.post(
        "/login/mfa", json={"mfa_token": login(client, member)["mfa_token"], "code": code}
    )
    replayed = client.post(
        "/login/mfa", json={"mfa_token": login(client, member)["mfa_token"], "code": code}
    )

    assert signed_in.status_code == 200
    tokens = signed_in.get_json()
    assert tokens["token_type"] == "Bearer"
    assert client.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 200
    assert replayed.status_code == 401
    assert replayed.get_json()["error"] == "invalid_credentials"


def test_codes_one_step_away_are_accepted_and_two_steps_away_refused(
    app, client, member, enrolled
) -> None:
    """One step of clock drift either way (RFC 6238 5.2), and no more."""
    _, authenticator, _ = enrolled
    with app.app_context():
        # The enrolment's step is forgotten, so that only the drift rule judges the codes.
        db.session.get(User, member.id).totp_last_step = None
        db.session.commit()

    def second_step(step: int):
        token = login(client, member)["mfa_token"]
        return client.post(
            "/login/mfa", json={"mfa_token": token, "code": authenticator.at_step(step)}
        )

    now = current_step(margin=8)
    # Each refusal comes before the acceptance that would make it a replay.
    two_behind, one_behind = second_step(now - 2), second_step(now - 1)
    two_ahead, one_ahead = second_step(now + 2), second_step(now + 1)

    for refused in (two_behind, two_ahead):
        assert refused.status_code == 401
        assert refused.get_json()["error"] == "invalid_credentials"
    for accepted in (one_behind, one_ahead):
        assert accepted.status_code == 200
        assert accepted.get_json()["token_type"] == "Bearer"


def test_a_recovery_code_signs_in_once(client, member, enrolled) -> None:
    _, _, codes = enrolled

    def second_step(recovery_code: str):
        token = login(client, member)["mfa_token"]
        return client.post("/login/mfa", json={"mfa_token": token, "recovery_code": recovery_code})

    first = second_step(codes[0].upper().replace("-", " "))
    again = second_step(codes[0])

    assert first.status_code == 200
    assert first.get_json()["token_type"] == "Bearer"
    assert again.status_code == 401
    assert again.get_json()["error"] == "invalid_credentials"


def test_a_session_records_the_second_factor_that_started_it(app, client, member, enrolled) -> None:
    _, authenticator, codes = enrolled
    by_code = client.post(
        "/login/mfa",
        json={"mfa_token": login(client, member)["mfa_token"], "code": authenticator.code()},
    )
    by_recovery_code = client.post(
        "/login/mfa",
        json={"mfa_token": login(client, member)["mfa_token"], "recovery_code": codes[0]},
    )
    # (`code` takes a recovery code too: the session still says which factor it was.)
    by_recovery_code_as_code = client.post(
        "/login/mfa",
        json={"mfa_token": login(client, member)["mfa_token"], "code": codes[1]},
    )

    for signed_in in (by_code, by_recovery_code, by_recovery_code_as_code):
        assert signed_in.status_code == 200
        assert signed_in.get_json()["token_type"] == "Bearer"
    with app.app_context():
        methods = db.session.scalars(select(UserSession.method).order_by(UserSession.id)).all()
    # (The first session is the one the enrolment was made in.)
    assert methods == ["password", "totp", "recovery_code", "recovery_code"]


def test_wrong_codes_count_towards_the_lockout(client, member, enrolled) -> None:
    _, authenticator, _ = enrolled
    token = login(client, member)["mfa_token"]

    wrong = [
        client.post("/login/mfa", json={"mfa_token": token, "code": "000000"}).status_code
        for _ in range(5)
    ]
    right = client.post("/login/mfa", json={"mfa_token": token, "code": authenticator.code()})

    assert wrong == [401] * 5
    assert right.status_code == 429
    assert right.get_json()["error"] == "rate_limited"


def test_a_password_login_does_not_reset_the_count_of_wrong_codes(client, member, enrolled) -> None:
    def wrong_code() -> int:
        token = login(client, member)["mfa_token"]
        return client.post("/login/mfa", json={"mfa_token": token, "code": "000000"}).status_code

    wrong = [wrong_code() for _ in range(5)]
    locked = client.post("/login", json={"username": "member", "password": member.password})

    assert wrong == [401] * 5
    assert locked.status_code == 429
    assert locked.get_json()["error"] == "rate_limited"


def test_the_second_step_needs_exactly_one_kind_of_code(client, member, enrolled) -> None:
    token = login(client, member)["mfa_token"]

    neither = client.post("/login/mfa", json={"mfa_token": token})
    both = client.post(
        "/login/mfa", json={"mfa_token": token, "code": "123456", "recovery_code": "abcd-efgh"}
    )

    for response in (neither, both):
        assert response.status_code == 422
        assert response.get_json()["details"] == {
            "code": ["Send one of code, recovery_code or credential."]
        }


def test_an_expired_or_foreign_mfa_token_is_refused(app, client, member, enrolled) -> None:
    with app.app_context():
        user = db.session.get(User, member.id)
        expired = tickets.issue(tickets.MFA, -1, user, token_version=user.token_version)
        enrolment = tickets.issue(tickets.ENROLMENT, 300, user, token_version=user.token_version)
        db.session.commit()

    late = client.post("/login/mfa", json={"mfa_token": expired, "code": "123456"})
    foreign = client.post("/login/mfa", json={"mfa_token": enrolment, "code": "123456"})

    assert late.status_code == 401
    assert late.get_json()["error"] == "token_expired"
    assert foreign.status_code == 401
    assert foreign.get_json()["error"] == "invalid_token"


def test_new_recovery_codes_retire_the_old_ones(client, member, enrolled) -> None:
    headers, authenticator, old_codes = enrolled

    renewed = client.post(
        "/users/me/mfa/recovery-codes", json={"code": authenticator.code()}, headers=headers
    )
    token = login(client, member)["mfa_token"]
    old = client.post("/login/mfa", json={"mfa_token": token, "recovery_code": old_codes[1]})
    new = client.post(
        "/login/mfa",
        json={"mfa_token": token, "recovery_code": renewed.get_json()["recovery_codes"][0]},
    )

    assert renewed.status_code == 200
    assert old.status_code == 401
    assert new.status_code == 200
    assert new.get_json()["token_type"] == "Bearer"


def test_turning_mfa_off_with_a_recovery_code(app, client, member, enrolled) -> None:
    headers, _, codes = enrolled

    response = client.post("/users/me/mfa/disable", json={"code": codes[2]}, headers=headers)
    login = client.post("/login", json={"username": "member", "password": member.password})

    assert response.status_code == 204
    assert response.get_data() == b""
    assert client.get("/users/me", headers=headers).get_json()["mfa_enabled"] is False
    assert "access_token" in login.get_json()
    assert "user.mfa_disabled" in actions(app, member.id)
    assert outbox(app)[-1].subject == "Two-step sign-in is off"


def test_an_admin_resets_mfa_and_every_session_ends(
    app, client, admin, operator, member, enrolled, auth
) -> None:
    headers, _, _ = enrolled
    # The member's and the operator's attempts come first, while their sessions are live: only
    # the role rule can refuse them.
    by_member = client.delete(f"/users/{member.id}/mfa", headers=headers)
    by_operator = client.delete(f"/users/{member.id}/mfa", headers=auth(operator))
    still_on = client.get("/users/me", headers=headers)

    response = client.delete(f"/users/{member.id}/mfa", headers=auth(admin))
    refused = client.get("/users/me", headers=headers)

    for attempt in (by_member, by_operator):
        assert attempt.status_code == 403
        assert attempt.get_json()["error"] == "forbidden"
    assert still_on.status_code == 200
    assert still_on.get_json()["mfa_enabled"] is True
    assert response.status_code == 204
    assert response.get_data() == b""
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "token_revoked"
    assert "user.mfa_reset" in actions(app, member.id)
    assert outbox(app)[-1].subject == "Two-step sign-in was reset by an administrator"
    with app.app_context():
        user = db.session.get(User, member.id)
        assert (user.totp_secret, user.mfa_enabled) == (None, False)


def test_reauthentication_with_mfa_on_needs_a_code(client, member, enrolled) -> None:
    headers, authenticator, _ = enrolled

    without = client.post("/reauthenticate", json={"password": member.password}, headers=headers)
    with_code = client.post(
        "/reauthenticate",
        json={"password": member.password, "code": authenticator.code()},
        headers=headers,
    )

    assert without.status_code == 422
    assert without.get_json()["details"] == {
        "code": ["A second factor is required: a code, or a passkey's answer (credential)."]
    }
    assert with_code.status_code == 204


def test_a_required_role_must_enrol_before_any_token(make_app, admin) -> None:
    client = make_app(MFA_REQUIRED_ROLES=["admin"]).test_client()

    refused = client.post("/login", json={"username": "admin", "password": admin.password})
    body = refused.get_json()
    enrolment_token = body["details"]["enrollment_token"]
    as_bearer = client.get("/users/me", headers=bearer(enrolment_token))
    started = client.post("/login/mfa/enroll", json={"enrollment_token": enrolment_token})
    authenticator = Authenticator(started.get_json()["secret"])
    done = client.post(
        "/login/mfa/enroll/confirm",
        json={"enrollment_token": enrolment_token, "code": authenticator.code()},
    )
    later = client.post("/login", json={"username": "admin", "password": admin.password})

    assert refused.status_code == 403
    assert body["error"] == "mfa_enrollment_required"
    assert body["details"]["expires_in"] == 900
    assert as_bearer.status_code == 401
    assert started.status_code == 200
    assert done.status_code == 200
    assert len(done.get_json()["recovery_codes"]) == 10
    assert (
        client.get("/users/me", headers=bearer(done.get_json()["access_token"])).status_code == 200
    )
    assert later.get_json()["mfa_required"] is True


def test_secrets_move_from_the_derived_key_to_a_dedicated_one(
    app, runner, member, enrolled
) -> None:
    new_key = Fernet.generate_key()
    with app.app_context():
        secret = mfa.secret_of(db.session.get(User, member.id))
    app.config["MFA_ENCRYPTION_KEYS"] = [new_key.decode()]

    result = runner.invoke(args=["rotate-mfa-keys"])

    assert result.exit_code == 0
    assert "Re-encrypted 1 TOTP secret(s)" in result.output
    with app.app_context():
        stored = db.session.get(User, member.id).totp_secret
    assert Fernet(new_key).decrypt(stored.encode()).decode() == secret


def test_reauthentication_counts_every_wrong_code_after_a_right_password(
    client, member, enrolled
) -> None:
    """The right password does not clear the count before the code is checked: each try would
    otherwise buy more code guesses."""
    headers, _, _ = enrolled

    def reauthenticate():
        return client.post(
            "/reauthenticate",
            json={"password": member.password, "code": "000000"},
            headers=headers,
        )

    wrong = [reauthenticate().status_code for _ in range(5)]
    locked = reauthenticate()

    assert wrong == [401] * 5
    assert locked.status_code == 429
    assert locked.get_json()["error"] == "rate_limited"


# Arabic-Indic digits, full-width digits, and five ASCII digits ending in a full-width one.
@pytest.mark.parametrize(
    "code", ["\u0661\u0662\u0663\u0664\u0665\u0666", "\uff11" * 6, "12345\uff16"]
)
def test_a_code_of_other_scripts_digits_is_a_wrong_code(client, member, enrolled, code) -> None:
    """Other scripts' digits pass ``str.isdigit``; such a code must be refused, not reach
    ``hmac.compare_digest`` (which raises on non-ASCII strings)."""
    headers, _, _ = enrolled
    token = login(client, member)["mfa_token"]

    second_step = client.post("/login/mfa", json={"mfa_token": token, "code": code})
    reauthenticated = client.post(
        "/reauthenticate", json={"password": member.password, "code": code}, headers=headers
    )
    renewed = client.post("/users/me/mfa/recovery-codes", json={"code": code}, headers=headers)

    for response in (second_step, reauthenticated, renewed):
        assert response.status_code == 401
        assert response.get_json()["error"] == "invalid_credentials"


def test_an_mfa_token_starts_one_session(client, member, enrolled) -> None:
    """One password proof, one session: the mfa_token is used up by the second step."""
    _, authenticator, codes = enrolled
    token = login(client, member)["mfa_token"]

    first = client.post("/login/mfa", json={"mfa_token": token, "code": authenticator.code()})
    again = client.post("/login/mfa", json={"mfa_token": token, "recovery_code": codes[0]})

    assert first.status_code == 200
    assert first.get_json()["token_type"] == "Bearer"
    assert again.status_code == 401
    assert again.get_json()["error"] == "invalid_token"
    # The recovery code was not spent by the refused request.
    fresh = login(client, member)["mfa_token"]
    later = client.post("/login/mfa", json={"mfa_token": fresh, "recovery_code": codes[0]})
    assert later.status_code == 200


def test_a_wrong_code_does_not_use_up_the_mfa_token(client, member, enrolled) -> None:
    _, authenticator, _ = enrolled
    token = login(client, member)["mfa_token"]

    wrong = client.post("/login/mfa", json={"mfa_token": token, "code": "000000"})
    right = client.post("/login/mfa", json={"mfa_token": token, "code": authenticator.code()})

    assert wrong.status_code == 401
    assert wrong.get_json()["error"] == "invalid_credentials"
    assert right.status_code == 200
    assert right.get_json()["token_type"] == "Bearer"


def test_the_last_login_moves_when_the_second_factor_passes(app, client, member, enrolled) -> None:
    _, authenticator, _ = enrolled

    def last_login():
        with app.app_context():
            return db.session.get(User, member.id).last_login_at

    before = last_login()
    token = login(client, member)["mfa_token"]
    after_password = last_login()
    second = client.post("/login/mfa", json={"mfa_token": token, "code": authenticator.code()})

    assert after_password == before
    assert second.status_code == 200
    assert last_login() is not None
    assert last_login() != before


def test_an_account_whose_roles_require_mfa_cannot_turn_it_off(make_app, admin) -> None:
    client = make_app(MFA_REQUIRED_ROLES=["admin"]).test_client()
    refused = client.post("/login", json={"username": "admin", "password": admin.password})
    assert (refused.status_code, refused.get_json()["error"]) == (403, "mfa_enrollment_required")
    ticket = refused.get_json()["details"]["enrollment_token"]
    started = client.post("/login/mfa/enroll", json={"enrollment_token": ticket})
    assert started.status_code == 200
    authenticator = Authenticator(started.get_json()["secret"])
    confirmed = client.post(
        "/login/mfa/enroll/confirm",
        json={"enrollment_token": ticket, "code": authenticator.code()},
    )
    assert confirmed.status_code == 200
    done = confirmed.get_json()

    response = client.post(
        "/users/me/mfa/disable",
        json={"code": done["recovery_codes"][0]},
        headers=bearer(done["access_token"]),
    )

    assert response.status_code == 409
    assert response.get_json()["error"] == "conflict"
    assert "MFA_REQUIRED_ROLES" in response.get_json()["message"]
    profile = client.get("/users/me", headers=bearer(done["access_token"]))
    assert (profile.status_code, profile.get_json()["mfa_enabled"]) == (200, True)


def test_a_session_without_mfa_is_not_refreshed_once_its_roles_require_it(make_app, admin) -> None:
    """MFA_REQUIRED_ROLES holds at every refresh, not only at /login: a session that began
    without MFA (before the setting, or before an admin's reset) must sign in again."""
    before = make_app().test_client()
    signed_in = before.post("/login", json={"username": "admin", "password": admin.password})
    assert signed_in.status_code == 200
    session = signed_in.get_json()
    after = make_app(MFA_REQUIRED_ROLES=["admin"]).test_client()

    response = after.post("/refresh", json={"refresh_token": session["refresh_token"]})
    again = after.post("/refresh", json={"refresh_token": session["refresh_token"]})

    assert response.status_code == 403
    assert response.get_json()["error"] == "mfa_enrollment_required"
    # Refused, not rotated: the same token is refused the same way (no reuse detected).
    assert again.status_code == 403
    assert again.get_json()["error"] == "mfa_enrollment_required"


def test_recovery_codes_are_stored_hashed(app, client, member, enrolled) -> None:
    _, _, codes = enrolled
    with app.app_context():
        stored = db.session.scalars(
            select(RecoveryCode.code_hash).where(RecoveryCode.user_id == member.id)
        ).all()

    plain = set(codes) | {code.replace("-", "") for code in codes}
    assert len(set(stored)) == 10
    assert all(re.fullmatch(r"[0-9a-f]{64}", stored_hash) for stored_hash in stored)
    assert not any(form in stored_hash for form in plain for stored_hash in stored)
    # Digests of the codes (SHA-256: 80 random bits need no slow hash).
    digests = {hashlib.sha256(code.replace("-", "").encode()).hexdigest() for code in codes}
    assert set(stored) == digests


def test_enrolling_again_while_mfa_is_on_is_409(client, enrolled) -> None:
    headers, _, _ = enrolled

    response = client.post("/users/me/mfa/totp", headers=headers)
    me = client.get("/users/me", headers=headers)

    assert response.status_code == 409
    assert without_request_id(response.get_json()) == {
        "error": "conflict",
        "message": "MFA is already on: turn it off first to start again.",
        "status": 409,
    }
    assert (me.status_code, me.get_json()["mfa_enabled"]) == (200, True)


def test_confirming_with_nothing_pending_is_409(client, member, auth) -> None:
    headers = auth(member)

    response = client.post("/users/me/mfa/totp/confirm", json={"code": "123456"}, headers=headers)
    me = client.get("/users/me", headers=headers)

    assert response.status_code == 409
    assert without_request_id(response.get_json()) == {
        "error": "conflict",
        "message": "Start with POST /users/me/mfa/totp: there is no secret to confirm.",
        "status": 409,
    }
    assert (me.status_code, me.get_json()["mfa_enabled"]) == (200, False)


def test_an_mfa_token_issued_before_deactivation_gives_nothing(
    client, admin, member, enrolled, auth
) -> None:
    _, authenticator, _ = enrolled
    first = login(client, member)
    deactivated = client.patch(
        f"/users/{member.id}", json={"is_active": False}, headers=auth(admin)
    )

    second = client.post(
        "/login/mfa", json={"mfa_token": first["mfa_token"], "code": authenticator.code()}
    )

    assert deactivated.status_code == 200
    assert second.status_code == 403
    assert second.get_json()["error"] == "account_disabled"
    assert "access_token" not in second.get_json()


def test_an_mfa_token_issued_before_a_password_change_gives_nothing(
    client, member, enrolled
) -> None:
    headers, authenticator, _ = enrolled
    first = login(client, member)
    changed = client.put(
        "/users/me/password",
        json={"current_password": member.password, "new_password": "a-brand-new-passphrase"},
        headers=headers,
    )

    second = client.post(
        "/login/mfa", json={"mfa_token": first["mfa_token"], "code": authenticator.code()}
    )

    assert changed.status_code == 200
    assert second.status_code == 401
    assert second.get_json()["error"] == "token_revoked"
    assert "access_token" not in second.get_json()


def test_a_second_step_ticket_is_used_up_once(app, member) -> None:
    with app.test_request_context(method="POST"):
        user = db.session.get(User, member.id)
        secret = tickets.second_step(user)
        db.session.commit()

        tickets.use_up(tickets.MFA, secret)
        with pytest.raises(ApiError) as again:
            tickets.use_up(tickets.MFA, secret)

    assert (again.value.status, again.value.error) == (401, "invalid_token")
    assert again.value.message == "The token was used already."


def test_pruning_deletes_the_expired_second_step_tickets_only(app, member) -> None:
    with app.test_request_context(method="POST"):
        user = db.session.get(User, member.id)
        expired = tickets.issue(tickets.MFA, 300, user)
        live = tickets.issue(tickets.MFA, 300, user)
        db.session.commit()
        db.session.execute(
            Ticket.__table__.update()
            .where(Ticket.digest == digest(expired))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()

        pruned = tickets.prune()

        assert pruned == 1
        assert tickets.read(tickets.MFA, expired) is None
        assert tickets.read(tickets.MFA, live) is not None


def test_another_accounts_recovery_code_is_no_second_factor(
    client, member, make_user, auth, enrolled
) -> None:
    other = make_user("other")
    _, other_codes = turn_on_mfa(client, auth(other))

    foreign = client.post(
        "/login/mfa",
        json={"mfa_token": login(client, member)["mfa_token"], "recovery_code": other_codes[0]},
    )
    own = client.post(
        "/login/mfa",
        json={"mfa_token": login(client, other)["mfa_token"], "recovery_code": other_codes[0]},
    )

    assert foreign.status_code == 401
    assert foreign.get_json()["error"] == "invalid_credentials"
    # Not spent by the refused attempt: it still signs its own account in.
    assert own.status_code == 200
    assert own.get_json()["token_type"] == "Bearer"


def test_turning_mfa_off_deletes_that_accounts_recovery_codes_only(
    app, client, member, make_user, auth, enrolled
) -> None:
    headers, authenticator, _ = enrolled
    other = make_user("other")
    _, other_codes = turn_on_mfa(client, auth(other))

    turned_off = client.post(
        "/users/me/mfa/disable", json={"code": authenticator.code()}, headers=headers
    )
    with app.app_context():
        kept = db.session.scalars(select(RecoveryCode.user_id)).all()
    by_other = client.post(
        "/login/mfa",
        json={"mfa_token": login(client, other)["mfa_token"], "recovery_code": other_codes[0]},
    )

    assert turned_off.status_code == 204
    assert turned_off.get_data() == b""
    assert kept == [other.id] * 10
    assert by_other.status_code == 200
    assert by_other.get_json()["token_type"] == "Bearer"


def test_turning_mfa_off_is_audited_and_told_to_the_holder(app, client, member, enrolled) -> None:
    headers, authenticator, _ = enrolled

    response = client.post(
        "/users/me/mfa/disable", json={"code": authenticator.code()}, headers=headers
    )

    assert response.status_code == 204
    assert response.get_data() == b""
    assert audit_trail(app, member.id, "user.mfa_disabled") == [
        (member.id, {"mfa_enabled": [True, False]})
    ]
    notice = outbox(app)[-1]
    assert (notice.subject, notice.to) == ("Two-step sign-in is off", [member.email])
    assert (
        "Your account no longer asks for a code at sign-in. If this was not you, reset your "
        "password and contact an administrator." in notice.body
    )


def test_an_admin_mfa_reset_ends_every_session_with_its_reason_audited_and_told(
    app, client, admin, member, enrolled, auth
) -> None:
    headers, _, _ = enrolled
    options = client.post("/users/me/passkeys/options", headers=headers)
    added = client.post(
        "/users/me/passkeys",
        json={"name": "laptop", "credential": Device().register(options.get_json())},
        headers=headers,
    )
    assert added.status_code == 201, added.get_json()
    auth(member)  # a second session of the member's

    response = client.delete(f"/users/{member.id}/mfa", headers=auth(admin))

    assert response.status_code == 204
    assert response.get_data() == b""
    with app.app_context():
        ended_reasons = db.session.scalars(
            select(UserSession.ended_reason).where(UserSession.user_id == member.id)
        ).all()
        passkeys_left = db.session.scalars(select(Passkey.id)).all()
    assert ended_reasons == ["mfa_reset", "mfa_reset"]
    assert passkeys_left == []
    assert audit_trail(app, member.id, "passkey.removed") == [
        (admin.id, {"passkey": ["laptop", None]})
    ]
    assert audit_trail(app, member.id, "user.mfa_reset") == [
        (admin.id, {"mfa_enabled": [True, False]})
    ]
    notice = outbox(app)[-1]
    assert (notice.subject, notice.to) == (
        "Two-step sign-in was reset by an administrator",
        [member.email],
    )
    assert (
        "An administrator turned two-step sign-in off for your account and ended its "
        "sessions. Sign in again, and turn it back on from your profile." in notice.body
    )


def test_turning_mfa_on_is_audited_and_told_to_the_holder(app, client, member, auth) -> None:
    headers = auth(member)
    authenticator = enrol(client, headers)

    response = client.post(
        "/users/me/mfa/totp/confirm", json={"code": authenticator.code()}, headers=headers
    )

    assert response.status_code == 200
    assert len(response.get_json()["recovery_codes"]) == 10
    assert audit_trail(app, member.id, "user.mfa_enabled") == [
        (member.id, {"mfa_enabled": [False, True]})
    ]
    notice = outbox(app)[-1]
    assert (notice.subject, notice.to) == ("Two-step sign-in is on", [member.email])
    assert (
        "Your account now asks for a code from your authenticator app at each sign-in. If this "
        "was not you, reset your password and contact an administrator." in notice.body
    )


def test_a_step_used_by_one_account_is_still_unused_for_another(
    client, member, make_user, auth, enrolled
) -> None:
    _, authenticator, _ = enrolled
    other = make_user("other")
    other_authenticator, _ = turn_on_mfa(client, auth(other))

    def second_step(account, app_: Authenticator, step: int):
        token = login(client, account)["mfa_token"]
        return client.post("/login/mfa", json={"mfa_token": token, "code": app_.at_step(step)})

    # The next step: later than either enrolment's, and accepted as one step of drift.
    step = current_step(margin=8) + 1
    by_member = second_step(member, authenticator, step)
    by_other = second_step(other, other_authenticator, step)

    assert by_member.status_code == 200
    assert by_member.get_json()["token_type"] == "Bearer"
    assert by_other.status_code == 200
    assert by_other.get_json()["token_type"] == "Bearer"


WRONG_CODE = {
    "error": "invalid_credentials",
    "message": "The code is incorrect.",
    "status": 401,
    "details": {"code": ["The code is incorrect."]},
}


def test_a_wrong_code_to_turn_mfa_on_renew_recovery_codes_or_turn_it_off_names_the_code(
    client, member, auth
) -> None:
    headers = auth(member)
    authenticator = enrol(client, headers)

    turning_on = client.post("/users/me/mfa/totp/confirm", json={"code": "000000"}, headers=headers)
    turned_on = client.post(
        "/users/me/mfa/totp/confirm", json={"code": authenticator.code()}, headers=headers
    )
    renewing = client.post("/users/me/mfa/recovery-codes", json={"code": "000000"}, headers=headers)
    turning_off = client.post("/users/me/mfa/disable", json={"code": "000000"}, headers=headers)

    assert turned_on.status_code == 200
    for refused in (turning_on, renewing, turning_off):
        assert refused.status_code == 401
        assert without_request_id(refused.get_json()) == WRONG_CODE


def test_new_recovery_codes_need_a_code_from_the_app_not_a_recovery_code(
    client, member, enrolled
) -> None:
    headers, _, codes = enrolled

    refused = client.post("/users/me/mfa/recovery-codes", json={"code": codes[0]}, headers=headers)
    token = login(client, member)["mfa_token"]
    unspent = client.post("/login/mfa", json={"mfa_token": token, "recovery_code": codes[0]})

    assert refused.status_code == 401
    assert without_request_id(refused.get_json()) == WRONG_CODE
    # Neither spent nor retired by the refusal: it still signs in.
    assert unspent.status_code == 200
    assert unspent.get_json()["token_type"] == "Bearer"
