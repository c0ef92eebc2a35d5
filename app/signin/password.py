"""Signing in with a password (``POST /login``), and the second step it may lead to
(``POST /login/mfa``: a code from the authenticator app, a recovery code or a passkey)."""

from app.accounts import factors
from app.accounts.mfa import TOTP_CODE
from app.signin import after_first_factor, sign_in
from app.tokens import tickets


def method_of(given: dict) -> str:
    """The session's method: the second factor ``given`` held. ``code`` takes a recovery code
    too, told apart from an app's code by its form (as ``mfa.accept_code_or_recovery_code``)."""
    if "credential" in given:
        return "passkey"
    if "recovery_code" in given or not TOTP_CODE.fullmatch(given["code"]):
        return "recovery_code"
    return "totp"


def with_password(username: str, password: str) -> dict:
    """``/login``: the tokens of a new session, or the ticket of a second step."""
    # (equivalent mutant: None; the ORM leaves a None out of the INSERT, and the sessions.method
    # column's default is "password".)
    return after_first_factor(factors.password_login(username, password), "password")


def with_second_factor(ticket: str, given: dict) -> dict:
    """``/login/mfa``: the ticket's user proves a code, a recovery code or a passkey (as
    ``given`` holds one of them) and is signed in."""
    user = tickets.holder(tickets.MFA, ticket)
    factors.check(user, factors.second_factor(user, given))
    tickets.use_up(tickets.MFA, ticket)
    return sign_in(user, method_of(given))
