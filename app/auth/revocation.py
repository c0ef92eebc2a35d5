"""Revoking tokens: one token (logout), or every token of a user at once.

One token is revoked by storing its ``jti`` in PostgreSQL, so every worker and every instance
sees it on the very next request. All of a user's tokens are revoked by bumping the user's token
version, which ``app.auth.guard`` compares with the version stamped in each token.
"""

from datetime import UTC, datetime

from flask_praetorian.constants import REFRESH_EXPIRATION_CLAIM
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert

from app.extensions import db
from app.models import RevokedToken, User
from app.models.columns import utcnow


def revoke_token(claims: dict) -> None:
    """Refuse this one token from now on, until it could not be refreshed anyway."""
    expires_at = datetime.fromtimestamp(claims[REFRESH_EXPIRATION_CLAIM], UTC)
    db.session.execute(
        insert(RevokedToken)
        .values(jti=claims["jti"], user_id=claims["id"], expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=[RevokedToken.jti])
    )


def revoke_all_tokens(user: User) -> None:
    """Refuse every token issued to ``user`` so far (password, role or status changed)."""
    user.token_version = User.token_version + 1


def prune_expired_revocations() -> int:
    """Forget revocations of tokens that have expired for refresh too; return how many."""
    result = db.session.execute(delete(RevokedToken).where(RevokedToken.expires_at < utcnow()))
    db.session.commit()
    return result.rowcount
