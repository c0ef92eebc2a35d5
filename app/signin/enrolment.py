"""Enrolling at sign-in: an account whose roles require MFA (``MFA_REQUIRED_ROLES``) and that has
no second factor gets an enrolment ticket instead of tokens; with it, a TOTP secret
(``POST /login/mfa/enroll``), then a first code turns MFA on and signs it in
(``POST /login/mfa/enroll/confirm``)."""

from app.accounts import factors, mfa
from app.signin import sign_in
from app.tokens import tickets


def enrolment_secret(ticket: str) -> dict:
    """``/login/mfa/enroll``: a TOTP secret for the enrolment ticket's user."""
    return mfa.start_enrolment(tickets.holder(tickets.ENROLMENT, ticket))


def with_enrolment(ticket: str, code: str) -> dict:
    """``/login/mfa/enroll/confirm``: a first code turns MFA on and signs the ticket's user in;
    the answer holds the recovery codes too (once)."""
    user = tickets.holder(tickets.ENROLMENT, ticket)
    mfa.require_pending_secret(user)
    factors.check(user, factors.code(user, code))
    tickets.use_up(tickets.ENROLMENT, ticket)
    return sign_in(user, "totp", recovery_codes=mfa.turn_on(user))
