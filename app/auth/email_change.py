"""Changing an account's e-mail address (ASVS 6.4, 7.5).

- Without ``EMAIL_CONFIRMATION`` the change is immediate (a taken address is a 409, the
  documented trade-off).
- With it, ``PATCH /users/me`` changes nothing yet: a single-use link goes to the new address and
  the change happens when ``POST /users/me/email/confirm`` receives its token. The answer is the
  same 202 whether or not the address belongs to another account (that account's holder is told
  instead), so it reveals nothing.
- Either way the old address is told, and every reset and confirmation token sent before the
  change stops working.

The link's token is an e-mailed token (``app.tokens.emailed``) naming the new address.
"""

from app.auth.notices import send_security_notice
from app.models import User
from app.tokens.emailed import send_email_change_confirmation, void_emailed_tokens


def change_email(user: User, new_email: str) -> None:
    """Give ``user`` the address now: the old one is told, and tokens sent to it are void."""
    old_email = user.email
    if old_email == new_email:
        return
    user.email = new_email
    user.email_confirmed = True
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
    """Confirmation mode: a link to the new address (or, when another account has it, a word to
    that account's holder), and a notice to the current one."""
    if User.taken_fields(None, new_email, exclude_id=user.user_id):
        owner = User.with_email(new_email)
        send_security_notice(
            owner,
            "Your e-mail address was offered to another account",
            "Someone asked to use this address for another Gatehouse account. It stays yours: "
            "nothing changed, and there is nothing to do.",
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
