"""Organizations: members with organization roles, invitations, roles of an organization's own,
organization bucketlists, organization audit logs and personal tokens bound to one organization.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 12:00:00.000000

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

# As declared in code when this migration was written (app/access/permissions.py).
PERMISSIONS = {
    "orgs:read": "See every organization, its members and its audit log (support staff).",
    "orgs:manage": "Manage every organization as its owners do (support staff).",
    "orgs:update": "In an organization: change its name and slug.",
    "orgs:delete": "In an organization: delete it.",
    "members:manage": "In an organization: change members' roles and remove members.",
    "members:invite": "In an organization: invite people and revoke invitations.",
    "owners:manage": "In an organization: make, demote and remove owners.",
}


def upgrade():
    # Members' ``q`` matches e-mail addresses too (for their organization's member managers).
    op.create_index(
        "ix_users_email_trigrams",
        "users",
        [sa.literal_column("lower(email) gin_trgm_ops")],
        postgresql_using="gin",
    )
    op.create_table(
        "organizations",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column("member_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("organization_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column(
            "joined_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "user_id", name="uq_memberships"),
    )
    op.create_index("ix_memberships_user", "memberships", ["user_id", "id"])
    op.create_index("ix_memberships_organization", "memberships", ["organization_id", "id"])
    op.create_index("ix_memberships_roles", "memberships", ["roles"], postgresql_using="gin")
    op.create_table(
        "invitations",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("organization_id", sa.BigInteger(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "expires_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["invited_by"], ["users.user_id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index("ix_invitations_organization", "invitations", ["organization_id", "id"])
    op.create_index("ix_invitations_email", "invitations", ["email"])
    # Roles of an organization's own: the same table, with the organization's id.
    op.add_column("roles", sa.Column("organization_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        "fk_roles_organization",
        "roles",
        "organizations",
        ["organization_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.drop_constraint("roles_name_key", "roles", type_="unique")
    op.create_index(
        "uq_roles_platform_name",
        "roles",
        ["name"],
        unique=True,
        postgresql_where=sa.text("organization_id IS NULL"),
    )
    op.create_index("uq_roles_organization_name", "roles", ["organization_id", "name"], unique=True)
    # An organization's bucketlists: owned by it, made by a member (kept when they go).
    op.alter_column("bucketlists", "owner_id", nullable=True)
    op.add_column("bucketlists", sa.Column("organization_id", sa.BigInteger(), nullable=True))
    op.add_column("bucketlists", sa.Column("created_by", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "fk_bucketlists_organization",
        "bucketlists",
        "organizations",
        ["organization_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        "fk_bucketlists_created_by",
        "bucketlists",
        "users",
        ["created_by"],
        ["user_id"],
        ondelete="SET NULL",
    )
    op.create_check_constraint(
        "ck_bucketlists_one_owner", "bucketlists", "(owner_id IS NULL) <> (organization_id IS NULL)"
    )
    op.create_index("ix_bucketlists_organization", "bucketlists", ["organization_id", "id"])
    op.add_column("audit_events", sa.Column("organization_id", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_audit_events_organization",
        "audit_events",
        ["organization_id", "id"],
        postgresql_where=sa.text("organization_id IS NOT NULL"),
    )
    op.add_column("personal_tokens", sa.Column("organization_id", sa.BigInteger(), nullable=True))
    permissions = sa.table("permissions", sa.column("name"), sa.column("description"))
    op.bulk_insert(permissions, [{"name": n, "description": d} for n, d in PERMISSIONS.items()])
    op.execute("UPDATE authorization_version SET version = version + 1")


def downgrade():
    op.drop_index("ix_users_email_trigrams", table_name="users")
    names = ", ".join(f"'{name}'" for name in PERMISSIONS)
    op.execute(f"DELETE FROM permissions WHERE name IN ({names})")
    op.drop_column("personal_tokens", "organization_id")
    op.drop_index("ix_audit_events_organization", table_name="audit_events")
    op.drop_column("audit_events", "organization_id")
    op.execute("DELETE FROM bucketlists WHERE owner_id IS NULL")
    op.drop_index("ix_bucketlists_organization", table_name="bucketlists")
    op.drop_constraint("ck_bucketlists_one_owner", "bucketlists", type_="check")
    op.drop_column("bucketlists", "created_by")
    op.drop_column("bucketlists", "organization_id")
    op.alter_column("bucketlists", "owner_id", nullable=False)
    op.execute("DELETE FROM roles WHERE organization_id IS NOT NULL")
    op.drop_index("uq_roles_organization_name", table_name="roles")
    op.drop_index("uq_roles_platform_name", table_name="roles")
    op.create_unique_constraint("roles_name_key", "roles", ["name"])
    op.drop_constraint("fk_roles_organization", "roles", type_="foreignkey")
    op.drop_column("roles", "organization_id")
    op.drop_table("invitations")
    op.drop_table("memberships")
    op.drop_table("organizations")
