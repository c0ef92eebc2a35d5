"""Security notices: e-mails telling account holders about events on their account. They never
hold a secret (no token, no code, no password).

Some of them a stranger can cause again and again: a registration with a taken address, an
address offered to another account, a lockout, a password reset sent to an address. Those are
``unsolicited``, and at most ``NOTICE_LIMIT`` of them go to one address (per window, counted
where the per-address limits are: ``RATELIMIT_STORAGE_URI``); past it they are dropped, and
logged without the address. The others report what the account's holder (or an admin) did;
``tell_admins`` reports to the admins what the service did on its own."""

from flask import current_app
from flask_mailman import EmailMessage
from limits import parse as parse_limit
from sqlalchemy import select

from app.extensions import db, limiter
from app.identity import canonical
from app.models import User


def may_tell(address: str) -> bool:
    """Whether one more unsolicited e-mail may go to ``address`` (and count it)."""
    config = current_app.config
    if not config["RATELIMIT_ENABLED"]:
        return True
    if limiter.limiter.hit(parse_limit(config["NOTICE_LIMIT"]), "notices", canonical(address)):
        return True
    current_app.logger.warning("unsolicited e-mail dropped: its address reached NOTICE_LIMIT")
    return False


def send_security_notice(
    user: User, subject: str, text: str, to: str | None = None, unsolicited: bool = False
) -> None:
    """E-mail ``text`` to the account's address (or to ``to``, an address it had); an
    ``unsolicited`` one only within ``NOTICE_LIMIT``. A failure to send is logged, not raised:
    the event it reports has happened either way."""
    address = to or user.email
    if unsolicited and not may_tell(address):
        return
    message = EmailMessage(
        subject=subject,
        body=f"Hello {user.username},\n\n{text}\n\nGatehouse",
        from_email=current_app.config["MAIL_DEFAULT_SENDER"],
        to=[address],
    )
    try:
        message.send()
    except Exception as error:  # (any transport failure: the notice is best effort)
        current_app.logger.error("security notice not sent: %s", type(error).__name__)


def tell_admins(subject: str, text: str) -> None:
    """E-mail ``text`` to every active admin (what the service did on its own, that someone
    must look at)."""
    admins = db.session.scalars(
        select(User).where(User.is_active, User.has_role("admin")).order_by(User.user_id)
    ).all()
    for admin in admins:
        send_security_notice(admin, subject, text)
