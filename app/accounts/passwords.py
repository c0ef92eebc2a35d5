"""Setting a password: the policy, the hash, and the revocation that goes with it; and a
signed-in user changing their own."""

from app.access.sessions import current_session, end_sessions, renew
from app.accounts import factors, personal_tokens
from app.accounts.password_policy import password_problems
from app.audit import PASSWORD_ACTION_ATTRIBUTE
from app.errors import ApiError
from app.extensions import guard
from app.models import User
from app.models.columns import utcnow
from app.notices import send_security_notice
from app.tokens.emailed import void_emailed_tokens
from app.tokens.transport import session_answer


def set_password(
    user: User,
    password: str,
    field_name: str = "password",
    reset: bool = False,
    removed: list[str] = (),
) -> None:
    """Give ``user`` a new password; every token issued before stops working. The notice names
    the other ways in a reset ``removed`` (``app.accounts.recovery``).

    Length is checked by the schemas; the policy, which needs the account's username and
    e-mail, is checked here, where the user is known, with the registration's 422 shape.
    """
    problems = password_problems(password, user.username, user.email)
    if problems:
        raise ApiError(422, "validation_error", details={field_name: problems})
    user.password = guard.hash_password(password)
    user.password_set = True
    user.password_changed_at = utcnow()
    setattr(
        user, PASSWORD_ACTION_ATTRIBUTE, "user.password_reset" if reset else "user.password_changed"
    )
    void_emailed_tokens(user)
    personal_tokens.revoke_all(user.user_id, "password_reset" if reset else "password_changed")
    send_security_notice(
        user,
        "Your password was reset" if reset else "Your password was changed",
        (
            "The password of your account was reset with a link sent to this address"
            if reset
            else "The password of your account was changed"
        )
        + ", every other session of it ended and any personal access token was revoked. "
        + (f"Also removed: {', '.join(removed)}. " if removed else "")
        + "If this was not you, reset your password and contact an administrator.",
    )


def change_own_password(user: User, current: str, new: str) -> dict:
    """``PUT /users/me/password``: the current password is a factor (a wrong one counts like a
    failed login); the session the change is made in is renewed (new tokens; its access
    tokens from before stop working) and every other session ends. The answer holds the
    session's new tokens."""
    factors.prove(user, factors.password(user, current, "current_password"))
    session = current_session(lock=True)
    if session.is_over(utcnow()):
        # Ended while this request waited for its lock (a reuse of its refresh token, say).
        raise ApiError(401, "token_revoked", "The session has ended.")
    set_password(user, new, field_name="new_password")
    end_sessions(user.user_id, "password_changed", keep=session.id)
    return session_answer(user, session, renew(session))
