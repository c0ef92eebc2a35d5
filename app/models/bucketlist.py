"""Bucketlists and their items: the example of a resource owned by a user."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.columns import timestamp_column


class Bucketlist(db.Model):
    """A named list of things to do, owned by one user, or by an organization. Deleting the
    owner deletes a user's list, in the database (ON DELETE CASCADE), whoever deletes the
    owner; an organization's list goes with the organization, and stays when the member who
    made it is deleted (``created_by`` is then empty)."""

    __tablename__ = "bucketlists"
    __table_args__ = (
        CheckConstraint(
            "(owner_id IS NULL) <> (organization_id IS NULL)", name="ck_bucketlists_one_owner"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.user_id", ondelete="CASCADE"), nullable=True
    )
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True
    )
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.user_id", ondelete="SET NULL"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = timestamp_column(onupdate=True)

    items: Mapped[list["BucketlistItem"]] = relationship(
        back_populates="bucketlist", passive_deletes=True, lazy="raise"
    )


class BucketlistItem(db.Model):
    """One thing to do on a bucketlist."""

    __tablename__ = "bucketlist_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    bucketlist_id: Mapped[int] = mapped_column(ForeignKey("bucketlists.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    done: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = timestamp_column(onupdate=True)

    bucketlist: Mapped[Bucketlist] = relationship(back_populates="items", lazy="raise")


Index("ix_bucketlists_owner", Bucketlist.owner_id, Bucketlist.id)
Index("ix_bucketlists_organization", Bucketlist.organization_id, Bucketlist.id)
Index("ix_bucketlist_items_list", BucketlistItem.bucketlist_id, BucketlistItem.id)
