"""Signing in with a password (``POST /login``), and the second step it may lead to
(``POST /login/mfa``: a code from the authenticator app, a recovery code or a passkey)."""

from app.accounts import factors
from app.signin import after_first_factor, sign_in
from app.tokens import tickets

# The session's method, by the field of /login/mfa that held the second factor.
METHODS = {"code": "totp", "recovery_code": "recovery_code", "credential": "passkey"}


def with_password(username: str, password: str) -> dict:
    """``/login``: the tokens of a new session, or the ticket of a second step."""
    # (equivalent mutant: None; the ORM leaves a None out of the INSERT, and the sessions.method
    # column's default is "password".)
    return after_first_factor(factors.password_login(username, password), "password")


def with_second_factor(ticket: str, given: dict) -> dict:
    """``/login/mfa``: the ticket's user proves a code, a recovery code or a passkey (as
    ``given`` holds one of them) and is signed in."""
    user = tickets.holder(tickets.MFA, ticket)
    method = next(name for name in METHODS if name in given)
    factors.check(user, factors.second_factor(user, given))
    tickets.use_up(tickets.MFA, ticket)
    return sign_in(user, METHODS[method])
