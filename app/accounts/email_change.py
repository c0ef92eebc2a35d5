"""Changing an account's e-mail address (ASVS 6.4, 7.5).

- Without ``EMAIL_CONFIRMATION`` the change is immediate (a taken address is a 409, the
  documented trade-off).
- With it, ``PATCH /users/me`` changes nothing yet: a single-use link goes to the new address and
  the change happens when ``POST /users/me/email/confirm`` receives its token. The answer is the
  same 202 whether or not the address belongs to another account (that account's holder is told
  instead), and so is its time: the request only queues the change, and the worker decides
  whom to write to (``decided_in_the_worker``).
- Either way the old address is told, and every reset and confirmation token sent before the
  change stops working.

The link's token is an e-mailed token (``app.tokens.emailed``) naming the new address.
"""

from app.accounts.registration import forget_unconfirmed
from app.errors import ApiError
from app.extensions import db
from app.mail import decided_in_the_worker
from app.models import User
from app.notices import send_security_notice
from app.tokens import claims, emailed
from app.tokens.emailed import send_email_change_confirmation, void_emailed_tokens


def change_email(user: User, new_email: str) -> None:
    """Give ``user`` the address now: the old one is told, and tokens sent to it are void."""
    old_email = user.email
    if old_email == new_email:
        return
    user.email = new_email
    user.email_confirmed = True
    forget_unconfirmed(email=new_email, keep=user.user_id)
    void_emailed_tokens(user)
    send_security_notice(
        user,
        "Your e-mail address was changed",
        f"The e-mail address of your account is now {new_email}; this address no longer "
        "receives its e-mails. If you did not make this change, reset your password from the "
        "new address or contact an administrator.",
        to=old_email,
    )


def request_email_change(user: User, new_email: str) -> None:
    """Confirmation mode: queue the change (``decide_email_change``)."""
    decide_email_change.later(user_id=user.user_id, new_email=new_email)


@decided_in_the_worker("email_change")
def decide_email_change(user_id: int, new_email: str) -> None:
    """A link to the new address, or, when another account has it, a word to that account's
    holder; and a notice to the current address either way."""
    user = db.session.get(User, user_id)
    if user is None:
        return
    holder = User.with_email(new_email)
    if holder is not None and holder.user_id != user.user_id:
        send_security_notice(
            holder,
            "Your e-mail address was offered to another account",
            "Someone asked to use this address for another Gatehouse account. It stays yours: "
            "nothing changed, and there is nothing to do.",
            unsolicited=True,
        )
    else:
        send_email_change_confirmation(user, new_email)
    send_security_notice(
        user,
        "A change of your e-mail address was asked for",
        f"Someone signed in to your account asked to change its e-mail address to {new_email}. "
        "It changes only when the link sent there is used. If this was not you, change your "
        "password and end your other sessions.",
    )


def confirm_email_change(token: str) -> User:
    """``/users/me/email/confirm``: the token's account gets its new address, unless another
    account confirmed it meanwhile (409); a deactivated account cannot (403)."""
    user, token_claims = emailed.read(token, emailed.REGISTRATION, email_change=True)
    if not user.is_active:
        raise ApiError(403, "account_disabled", "The account is disabled.")
    new_email = token_claims[claims.NEW_EMAIL]
    taken = User.taken_fields(None, new_email, exclude_id=user.user_id)
    if taken:
        raise ApiError(409, "conflict", "The e-mail is already in use.", taken)
    change_email(user, new_email)
    return user
