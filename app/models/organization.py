"""Organizations: their members (each with organization roles), their invitations, and the
roles an organization makes for itself.

An organization's ``version`` moves on with every change of its memberships or roles, and its
``member_count`` is kept in the same transaction (a member list knows its total without
counting). Built-in organization roles (owner, admin, member) are defined in code
(``app.access.org_permissions``); custom ones are ``Role`` rows with the organization's id. A
membership holds its roles by name, as an account holds its platform roles.
"""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.columns import timestamp_column

SLUG_PATTERN = r"[a-z0-9-]{3,40}"


class Organization(db.Model):
    """A tenant: a name, a unique slug, its members."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    created_at: Mapped[datetime] = timestamp_column()
    version: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    member_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class Membership(db.Model):
    """An account's membership of an organization, with its organization roles."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organization_id", "user_id", name="uq_memberships"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE"))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    joined_at: Mapped[datetime] = timestamp_column()
    # Read with the membership, in the same statement (a member list shows usernames, a list of
    # one's organizations their names).
    user: Mapped["User"] = relationship(lazy="joined", innerjoin=True)  # noqa: F821
    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)


class Invitation(db.Model):
    """A pending invitation to join an organization with some roles: only its token's digest is
    kept; it is deleted when used, revoked or declined."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.user_id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = timestamp_column()
    expires_at: Mapped[datetime] = timestamp_column()
    # Read with the invitation (one's own pending invitations show both).
    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)
    inviter: Mapped["User | None"] = relationship(lazy="joined")  # noqa: F821


# "My organizations" and "the members of", in their keyset orders; a role among members.
Index("ix_memberships_user", Membership.user_id, Membership.id)
Index("ix_memberships_organization", Membership.organization_id, Membership.id)
Index("ix_memberships_roles", Membership.roles, postgresql_using="gin")
Index("ix_invitations_organization", Invitation.organization_id, Invitation.id)
Index("ix_invitations_email", Invitation.email)
