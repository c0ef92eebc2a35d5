"""Roles and permissions as data: the permission catalog, roles with their permissions (the three
built-in ones with exactly their former access), and the authorization version every change of
them moves on.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# The catalog as declared in code when this migration was written (app/access/permissions.py);
# later permissions come with the migrations of what they guard.
PERMISSIONS = {
    "profile": "Read and change one's own profile.",
    "users:read": "Read the user directory (the public view of users).",
    "users:inspect": "See every account's details: the admin view of users, their sessions "
    "and personal tokens.",
    "users:write": "Create, change and delete accounts, reset their MFA, end their sessions.",
    "bucketlists:read": "Read one's bucketlists and their items.",
    "bucketlists:read_all": "Read anyone's bucketlists and items.",
    "bucketlists:write": "Create, change and delete one's bucketlists and items.",
    "bucketlists:write_all": "Change and delete anyone's bucketlists and items.",
    "audit:read": "Read the audit trail.",
    "roles:manage": "Create, change and delete roles (never beyond one's own permissions).",
}
# admin grants every permission in code, so it has no rows.
BUILT_IN_ROLES = {
    "admin": ("Everything, every permission included, new ones too.", []),
    "operator": (
        "Read-only staff: the admin view of users, their sessions and tokens, the audit trail.",
        [
            "profile",
            "users:read",
            "users:inspect",
            "bucketlists:read",
            "bucketlists:write",
            "audit:read",
        ],
    ),
    "user": (
        "A member: one's own profile and bucketlists, the public view of other users.",
        ["profile", "users:read", "bucketlists:read", "bucketlists:write"],
    ),
}


def upgrade():
    permissions = op.create_table(
        "permissions",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    roles = op.create_table(
        "roles",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("built_in", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "role_permissions",
        sa.Column("role_id", sa.BigInteger(), nullable=False),
        sa.Column("permission", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["role_id"], ["roles.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["permission"], ["permissions.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("role_id", "permission"),
    )
    version = op.create_table(
        "authorization_version",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_authorization_version_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(permissions, [{"name": n, "description": d} for n, d in PERMISSIONS.items()])
    op.bulk_insert(
        roles,
        [
            {"id": number, "name": name, "description": description, "built_in": True}
            for number, (name, (description, _)) in enumerate(BUILT_IN_ROLES.items(), start=1)
        ],
    )
    op.execute("SELECT setval(pg_get_serial_sequence('roles', 'id'), 3)")
    op.bulk_insert(
        sa.table("role_permissions", sa.column("role_id"), sa.column("permission")),
        [
            {"role_id": number, "permission": permission}
            for number, (_, (_, granted)) in enumerate(BUILT_IN_ROLES.items(), start=1)
            for permission in granted
        ],
    )
    op.bulk_insert(version, [{"id": 1, "version": 1}])


def downgrade():
    op.drop_table("authorization_version")
    op.drop_table("role_permissions")
    op.drop_table("roles")
    op.drop_table("permissions")
