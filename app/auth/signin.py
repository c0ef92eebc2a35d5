"""Signing in: a service for each way in, and one way out (``sign_in``).

- ``with_password`` (``POST /login``): the password; an account with a second factor gets a
  ticket for the second step instead of tokens, and one that must enrol in MFA
  (``MFA_REQUIRED_ROLES``) gets an enrolment ticket and a 403.
- ``with_second_factor`` (``POST /login/mfa``): the ticket of the first step and a code, a
  recovery code or a passkey.
- ``with_passkey`` (``POST /login/passkey``): a passkey alone (it names its user).
- ``with_provider`` (``POST /login/oidc/exchange``): the code of a provider sign-in, then as a
  password (``after_first_factor``): a second factor and MFA_REQUIRED_ROLES still apply.
- ``with_enrolment`` (``POST /login/mfa/enroll/confirm``): the enrolment ticket and a first code.

Each ends in ``sign_in(user, method)`` once every factor passed: the failures are cleared, the
last login moves, a session starts, and the answer holds its tokens. A ticket works once: it is
used up when its step succeeds, so one password proof starts one session.
"""

from app.auth import factors, mfa, passkeys, providers
from app.auth.sessions import start_session
from app.errors import ApiError
from app.extensions import db
from app.models import User
from app.models.columns import utcnow
from app.tokens import tickets
from app.tokens.transport import session_answer

SECOND_STEP_LIFESPAN = 300
# The session's method, by the field of /login/mfa that held the second factor.
METHODS = {"code": "totp", "recovery_code": "recovery_code", "credential": "passkey"}
ENROLMENT_LIFESPAN = 900


def sign_in(user: User, method: str, **extra) -> dict:
    """A new session for ``user``, who passed every factor ``method`` needs, and the answer
    with its tokens (and ``extra`` fields)."""
    factors.passed(user)
    user.last_login_at = utcnow()
    session, refresh_token = start_session(user, method)
    return session_answer(user, session, refresh_token, **extra)


def with_password(username: str, password: str) -> dict:
    """``/login``: the tokens of a new session, or the ticket of a second step."""
    return after_first_factor(factors.password_login(username, password), "password")


def after_first_factor(user: User, method: str) -> dict:
    """A first factor passed (a password, or a provider's word): the tokens of a new session,
    the ticket of a second step, or, for an account that must enrol in MFA, a 403 with an
    enrolment ticket."""
    second_factors = mfa.second_factors(user)
    if second_factors:
        return {
            "mfa_required": True,
            "second_factors": second_factors,
            "mfa_token": tickets.issue(
                tickets.MFA, SECOND_STEP_LIFESPAN, user, token_version=user.token_version
            ),
            "expires_in": SECOND_STEP_LIFESPAN,
        }
    if mfa.must_enrol(user):
        ticket = tickets.issue(
            tickets.ENROLMENT, ENROLMENT_LIFESPAN, user, token_version=user.token_version
        )
        # The ticket is kept, though the answer is an error (errors roll back).
        db.session.commit()
        raise ApiError(
            403,
            "mfa_enrollment_required",
            "This account must turn on two-step sign-in first: POST /login/mfa/enroll with "
            "the enrollment_token, then /login/mfa/enroll/confirm with a code.",
            {"enrollment_token": ticket, "expires_in": ENROLMENT_LIFESPAN},
        )
    return sign_in(user, method)


def with_provider(code: str) -> dict:
    """``/login/oidc/exchange``: the code a provider sign-in sent the client back with."""
    user = providers.redeem_exchange(code)
    if not user.may_sign_in:
        raise ApiError(403, "account_disabled")
    return after_first_factor(user, "oidc")


def ticket_holder(kind: str, ticket: str) -> User:
    """The user a live ticket of ``kind`` was issued to, who may still sign in (a password
    change since voids it)."""
    found = tickets.read(kind, ticket)
    if found is None:
        raise ApiError(401, "invalid_token", "The token is not valid here (or used already).")
    if found.expired:
        raise ApiError(401, "token_expired", "The token has expired: sign in again.")
    user = db.session.get(User, found.user_id)
    if user is None or found.data.get("token_version") != user.token_version:
        raise ApiError(401, "token_revoked", "The token was revoked: sign in again.")
    if not user.may_sign_in:
        raise ApiError(403, "account_disabled")
    return user


def use_up(kind: str, ticket: str) -> None:
    """Redeem the ticket of a step that succeeded; one redeemed meanwhile by another request
    is refused (the two requests proved the same thing once)."""
    if tickets.redeem(kind, ticket) is None:
        raise ApiError(401, "invalid_token", "The token was used already.")


def with_second_factor(ticket: str, given: dict) -> dict:
    """``/login/mfa``: the ticket's user proves a code, a recovery code or a passkey (as
    ``given`` holds one of them) and is signed in."""
    user = ticket_holder(tickets.MFA, ticket)
    method = next(name for name in ("code", "recovery_code", "credential") if name in given)
    factors.check(user, factors.second_factor(user, given))
    use_up(tickets.MFA, ticket)
    return sign_in(user, METHODS[method])


def with_passkey(credential: dict) -> dict:
    """``/login/passkey``: a passkey names and proves its user (user verification: a second
    factor in itself), who is signed in."""
    user = passkeys.verify_assertion(credential)
    if not user.may_sign_in:
        raise ApiError(403, "account_disabled")
    return sign_in(user, "passkey")


def enrolment_secret(ticket: str) -> dict:
    """``/login/mfa/enroll``: a TOTP secret for the enrolment ticket's user."""
    return mfa.start_enrolment(ticket_holder(tickets.ENROLMENT, ticket))


def with_enrolment(ticket: str, code: str) -> dict:
    """``/login/mfa/enroll/confirm``: a first code turns MFA on and signs the ticket's user in;
    the answer holds the recovery codes too (once)."""
    user = ticket_holder(tickets.ENROLMENT, ticket)
    mfa.require_pending_secret(user)
    factors.check(user, factors.code(user, code))
    use_up(tickets.ENROLMENT, ticket)
    return sign_in(user, "totp", recovery_codes=mfa.turn_on(user))
