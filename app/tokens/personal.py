"""Personal access tokens: their format, ``gh_pat_`` and 256 random bits (``app.tokens.opaque``),
and how one is read. The fixed prefix lets secret scanners find a leaked one and the guard tell
one from a JWT; only the digest is kept. Making and revoking them is
``app.accounts.personal_tokens``; what one may do, ``app.access``.
"""

from datetime import timedelta

from sqlalchemy import bindparam, or_, select, update

from app.extensions import db
from app.models import Membership, PersonalToken, User
from app.models.columns import utcnow
from app.models.user import AUTHORIZATION_VERSION
from app.tokens.opaque import digest, new_secret

PREFIX = "gh_pat_"
USE_RECORDED_EVERY = timedelta(minutes=1)


def mint() -> tuple[str, str]:
    """A new personal token, and its digest (what is stored)."""
    token = new_secret(PREFIX)
    return token, digest(token)


def is_personal(token: str) -> bool:
    return token.startswith(PREFIX)


def holder(secret: str) -> tuple[User | None, PersonalToken | None, int | None, bool]:
    """The user and the token that ``secret`` is, the authorization version, and whether the
    user is a member of the organization the token is bound to, in one statement (None, None,
    None, False: no such token, or revoked)."""
    row = db.session.execute(HOLDER, {"digest": digest(secret)}).first()
    if row is None:
        # (equivalent mutant: True; the caller refuses a missing token before asking.)
        return None, None, None, False
    return row.User, row.PersonalToken, row.authorization_version, row.membership_id is not None


# Built once, as the access token's statement is (app.models.user.TOKEN_SUBJECT): building it
# and its cache key cost about as much as running it.
HOLDER = (
    select(User, PersonalToken, AUTHORIZATION_VERSION, Membership.id.label("membership_id"))
    # (equivalent mutant: no condition; SQLAlchemy joins on the one foreign key, the same.)
    .join(PersonalToken, PersonalToken.user_id == User.user_id)
    .outerjoin(
        Membership,
        (Membership.organization_id == PersonalToken.organization_id)
        & (Membership.user_id == User.user_id),
    )
    .where(PersonalToken.digest == bindparam("digest"))
)


def record_use(token: PersonalToken) -> None:
    """``last_used_at`` now, unless it was written less than a minute ago (one statement, at
    most once a minute per token, whatever the number of requests)."""
    now = utcnow()
    last = token.last_used_at
    # (equivalent mutant: <= differs only for a use exactly a minute old, to the microsecond.)
    if last is not None and now - last < USE_RECORDED_EVERY:
        return
    table = PersonalToken.__table__
    db.session.execute(
        update(table)
        .where(
            table.c.id == token.id,
            # (equivalent mutant: <=, as above.)
            or_(table.c.last_used_at.is_(None), table.c.last_used_at < now - USE_RECORDED_EVERY),
        )
        .values(last_used_at=now)
    )
