"""Security notices: e-mails telling account holders about events on their account. They never
hold a secret (no token, no code, no password)."""

from flask import current_app
from flask_mailman import EmailMessage

from app.models import User


def send_security_notice(user: User, subject: str, text: str, to: str | None = None) -> None:
    """E-mail ``text`` to the account's address (or to ``to``, an address it had). A failure to
    send is logged, not raised: the event it reports has happened either way."""
    message = EmailMessage(
        subject=subject,
        body=f"Hello {user.username},\n\n{text}\n\nGatehouse",
        from_email=current_app.config["MAIL_DEFAULT_SENDER"],
        to=[to or user.email],
    )
    try:
        message.send()
    except Exception as error:  # (any transport failure: the notice is best effort)
        current_app.logger.error("security notice not sent: %s", type(error).__name__)
