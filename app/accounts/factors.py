"""Proving who you are: the factors a sign-in, a reauthentication or a password change checks,
and the one rule over them.

Each factor is checked in turn (``check``); a failing one counts as a failed sign-in of the
account's name from this address (``app.accounts.attempts``) and ends the request with its 401.
The count starts again only when every factor a step needs has passed (``passed``): at the end
of ``prove``, and in ``app.signin.sign_in`` once a sign-in's last factor passed. So a right
password never buys more guesses at a second factor.

A password login (``password_login``) is the one check made before the account is known: an
unknown name is counted, locked and timed like a real one (the same argon2 verification), and a
hash made with a deprecated scheme (pbkdf2_sha512) is replaced by an argon2id hash.
"""

from collections.abc import Callable
from dataclasses import dataclass

from app.access import mfa_policy
from app.accounts import mfa, passkeys
from app.accounts.attempts import (
    LOGIN_NAME_LENGTH,
    clear_failures,
    count_failure,
    hold_back,
    login_name_of,
)
from app.errors import ApiError
from app.extensions import guard
from app.identity import canonical
from app.models import User


@dataclass(frozen=True)
class Factor:
    """One thing to prove: what it is called in answers, the field a failure names, the check."""

    label: str
    field: str
    holds: Callable[[], bool]

    def refusal(self) -> ApiError:
        message = f"The {self.label} is incorrect."
        return ApiError(401, "invalid_credentials", message, {self.field: [message]})


def password(user: User, given: str, field: str = "password") -> Factor:
    return Factor("password", field, lambda: guard.pwd_ctx.verify(given, user.password))


def code(user: User, given: str, field: str = "code", recovery: bool = False) -> Factor:
    """A code from the authenticator app, or with ``recovery`` also a recovery code."""
    accept = mfa.accept_code_or_recovery_code if recovery else mfa.accept_code
    return Factor("code", field, lambda: accept(user, given))


def passkey(user: User, credential: dict) -> Factor:
    """A passkey of ``user``'s answer to a sign-in challenge (``app.accounts.passkeys``)."""
    return Factor("passkey", "credential", lambda: passkeys.proves(user, credential))


def second_factor(user: User, given: dict) -> Factor:
    """The second factor ``given`` holds: a passkey's answer (``credential``), a code or a
    recovery code (``code``, or ``recovery_code``)."""
    if "credential" in given:
        return passkey(user, given["credential"])
    if "recovery_code" in given:
        return code(user, given["recovery_code"], "recovery_code", recovery=True)
    return code(user, given["code"], recovery=True)


def reauthentication(user: User, given: dict) -> list[Factor]:
    """What ``/reauthenticate`` checks: a passkey alone (it verified its user: two factors in
    one), or the password and, when the account has a second factor, one of them."""
    if "password" not in given:
        return [passkey(user, given["credential"])]
    proofs = [password(user, given["password"])]
    if "credential" in given or ("code" in given and user.mfa_enabled):
        proofs.append(second_factor(user, given))
    elif mfa_policy.second_factors(user):
        message = "A second factor is required: a code, or a passkey's answer (credential)."
        raise ApiError(422, "validation_error", details={"code": [message]})
    return proofs


def check(user: User, *factors: Factor) -> None:
    """Each factor must hold: refused (429) while this address is locked out of the account,
    and a failing factor is counted and refused (401)."""
    login_name = login_name_of(user)
    hold_back(login_name)
    for factor in factors:
        if not factor.holds():
            count_failure(login_name, user, factor.refusal())


def passed(user: User, **also) -> None:
    """Every factor of the step passed: the account's failures from this address are cleared
    (``also``: more columns of the account's row to write with them, ``clear_failures``)."""
    clear_failures(user, **also)


def prove(user: User, *factors: Factor) -> None:
    """A step that needs ``factors`` and nothing after them (a reauthentication, a password
    change, an MFA change): check them all, then clear the failures."""
    check(user, *factors)
    passed(user)


def password_login(username: str, given: str) -> User:
    """The account ``username`` and ``given`` sign in to, or 401 ``invalid_credentials`` (429
    while this address is locked out of that name), 403 ``account_disabled``. Failures are not
    cleared here: a second factor may follow."""
    login_name = canonical(username)[:LOGIN_NAME_LENGTH]
    hold_back(login_name)
    user = User.lookup(username)
    refusal = ApiError(401, "invalid_credentials")
    if user is None:
        guard.spend_verify_time(given)
        count_failure(login_name, None, refusal)
    valid, upgraded_hash = guard.pwd_ctx.verify_and_update(given, user.password)
    if not valid:
        count_failure(login_name, user, refusal)
    if not user.may_sign_in:
        raise ApiError(403, "account_disabled")
    if upgraded_hash:
        user.password = upgraded_hash
    return user
