"""Setting a password: the policy, the hash, and the revocation that goes with it."""

from app.audit import PASSWORD_ACTION_ATTRIBUTE
from app.auth.notices import send_security_notice
from app.auth.password_policy import password_problems
from app.errors import ApiError
from app.extensions import guard
from app.models import User
from app.models.columns import utcnow
from app.tokens.emailed import void_emailed_tokens


def set_password(
    user: User, password: str, field_name: str = "password", reset: bool = False
) -> None:
    """Give ``user`` a new password; every token issued before stops working.

    Length is checked by the schemas; the policy, which needs the account's username and
    e-mail, is checked here, where the user is known, with the registration's 422 shape.
    """
    problems = password_problems(password, user.username, user.email)
    if problems:
        raise ApiError(422, "validation_error", details={field_name: problems})
    user.password = guard.hash_password(password)
    user.password_changed_at = utcnow()
    setattr(
        user, PASSWORD_ACTION_ATTRIBUTE, "user.password_reset" if reset else "user.password_changed"
    )
    void_emailed_tokens(user)
    send_security_notice(
        user,
        "Your password was reset" if reset else "Your password was changed",
        (
            "The password of your account was reset with a link sent to this address"
            if reset
            else "The password of your account was changed"
        )
        + ", and every other session of it ended. If this was not you, reset your password "
        "and contact an administrator.",
    )
