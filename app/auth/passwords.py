"""Setting a password: the policy, the hash, and the revocation that goes with it."""

from app.audit import PASSWORD_ACTION_ATTRIBUTE
from app.auth.revocation import void_emailed_tokens
from app.errors import ApiError
from app.extensions import guard
from app.models import User
from app.models.columns import utcnow
from app.schemas.fields import PASSWORD_IS_USERNAME, password_matches_username


def set_password(
    user: User, password: str, field_name: str = "password", reset: bool = False
) -> None:
    """Give ``user`` a new password; every token issued before stops working.

    Length is checked by the schemas; the rule that needs the user (not the username) is
    checked here, where the user is known, with the same 422 shape.
    """
    if password_matches_username(password, user.username):
        raise ApiError(422, "validation_error", details={field_name: [PASSWORD_IS_USERNAME]})
    user.password = guard.hash_password(password)
    user.password_changed_at = utcnow()
    setattr(
        user, PASSWORD_ACTION_ATTRIBUTE, "user.password_reset" if reset else "user.password_changed"
    )
    void_emailed_tokens(user)


def password_is_correct(user: User, password: str) -> bool:
    """Whether ``password`` is the user's current password."""
    return guard.pwd_ctx.verify(password, user.password)
