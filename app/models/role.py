"""Roles as rows: what each role may do (its permissions), kept in the database so that a new
kind of staff is a role made through the API, not a change of code.

An account's roles are the names in ``User.roles`` (the relation of users to roles since the
first version; the directory's indexes and counters are built on it). ``Role`` rows say what
each name grants. The permissions themselves are declared in code (``app.access.permissions``)
and mirrored in ``permissions`` by the migrations, so that a role can only name one that exists.

Every change of a role or of its permissions moves ``AuthorizationVersion`` on, in the same
transaction: each worker reads the version in the statement that checks a request's token, and
reloads what the roles grant when it moved (``app.access.permissions``).
"""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.columns import timestamp_column

ROLE_NAME_PATTERN = r"[a-z][a-z0-9_.-]{1,63}"
BUILT_IN_ROLES = ("admin", "operator", "user")


class StoredPermission(db.Model):
    """A permission of the catalog, as the database knows it (roles refer to it)."""

    __tablename__ = "permissions"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text)


class Role(db.Model):
    """A role: a name, what it is for, and the permissions it grants. Built-in roles cannot be
    deleted or renamed; ``admin`` always grants every permission."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # None: a platform role; else an organization's own (its names unique within it).
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    built_in: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = timestamp_column(onupdate=True)
    grants: Mapped[list["RolePermission"]] = relationship(
        cascade="all, delete-orphan", order_by="RolePermission.permission", lazy="selectin"
    )

    @property
    def permissions(self) -> list[str]:
        return sorted(grant.permission for grant in self.grants)

    def grant_only(self, permissions) -> None:
        """Grant exactly ``permissions`` from now on."""
        self.grants = [RolePermission(permission=name) for name in set(permissions)]

    def describe_and_grant(self, changes: dict) -> None:
        """Take a change's ``description`` and ``permissions``, where it has them."""
        if "description" in changes:
            self.description = changes["description"]
        if "permissions" in changes:
            self.grant_only(changes["permissions"])


Index(
    "uq_roles_platform_name",
    Role.name,
    unique=True,
    postgresql_where=Role.organization_id.is_(None),
)
Index("uq_roles_organization_name", Role.organization_id, Role.name, unique=True)


class RolePermission(db.Model):
    """One permission a role grants."""

    __tablename__ = "role_permissions"

    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[str] = mapped_column(
        ForeignKey("permissions.name", ondelete="CASCADE"), primary_key=True
    )


class AuthorizationVersion(db.Model):
    """One row: moved on by every change of what roles grant."""

    __tablename__ = "authorization_version"
    __table_args__ = (CheckConstraint("id = 1", name="ck_authorization_version_one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
