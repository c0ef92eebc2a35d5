"""Signing in: one module per way in, and one way out (``sign_in``).

- ``password``: ``POST /login`` (the password; an account with a second factor gets the ticket
  of a second step instead of tokens, one that must enrol in MFA an enrolment ticket and a 403)
  and ``POST /login/mfa`` (that ticket and a code, a recovery code or a passkey);
- ``enrolment``: ``POST /login/mfa/enroll`` and ``/confirm``, for an account that must turn MFA
  on before it gets any token (``MFA_REQUIRED_ROLES``);
- ``passkey``: ``POST /login/passkey``, a passkey alone (it names its user);
- ``provider``: ``GET /login/oidc/<name>``, its callback, and ``POST /login/oidc/exchange``, then
  as a password (``after_first_factor``): a second factor and MFA_REQUIRED_ROLES still apply;
- ``refresh``: ``POST /refresh``, a session's new tokens; ``reauthentication``:
  ``POST /reauthenticate``, a fresh check of the signed-in account's factors.

Each sign-in ends in ``sign_in(user, method)`` once every factor passed: the failures are
cleared, the last login moves, a session starts, and the answer holds its tokens. A ticket works
once: it is used up when its step succeeds, so one password proof starts one session.
"""

from app.access import mfa_policy
from app.access.sessions import start_session
from app.accounts import factors
from app.errors import ApiError
from app.extensions import db
from app.models import User
from app.models.columns import utcnow
from app.tokens import tickets
from app.tokens.transport import session_answer


def sign_in(user: User, method: str, **extra) -> dict:
    """A new session for ``user``, who passed every factor ``method`` needs, and the answer
    with its tokens (and ``extra`` fields)."""
    # (the account's row is written, and locked, first: see clear_failures)
    factors.passed(user, last_login_at=utcnow())
    session, refresh_token = start_session(user, method)
    return session_answer(user, session, refresh_token, **extra)


def after_first_factor(user: User, method: str) -> dict:
    """A first factor passed (a password, or a provider's word): the tokens of a new session,
    the ticket of a second step, or, for an account that must enrol in MFA, a 403 with an
    enrolment ticket."""
    second_factors = mfa_policy.second_factors(user)
    if second_factors:
        return {
            "mfa_required": True,
            "second_factors": second_factors,
            "mfa_token": tickets.second_step(user),
            "expires_in": tickets.SECOND_STEP_LIFESPAN,
        }
    if mfa_policy.must_enrol(user):
        ticket = tickets.enrolment(user)
        # The ticket is kept, though the answer is an error (errors roll back).
        db.session.commit()
        raise ApiError(
            403,
            "mfa_enrollment_required",
            "This account must turn on two-step sign-in first: POST /login/mfa/enroll with "
            "the enrollment_token, then /login/mfa/enroll/confirm with a code.",
            {"enrollment_token": ticket, "expires_in": tickets.ENROLMENT_LIFESPAN},
        )
    return sign_in(user, method)
