"""Passkeys: WebAuthn credentials, and each account's user handle.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 14:00:00.000000

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("webauthn_handle", sa.LargeBinary(), nullable=True))
    op.create_unique_constraint("uq_users_webauthn_handle", "users", ["webauthn_handle"])
    op.create_table(
        "passkeys",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", postgresql.ARRAY(sa.String(length=16)), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credential_id"),
    )
    op.create_index("ix_passkeys_user", "passkeys", ["user_id", "id"])


def downgrade():
    op.drop_index("ix_passkeys_user", table_name="passkeys")
    op.drop_table("passkeys")
    op.drop_constraint("uq_users_webauthn_handle", "users", type_="unique")
    op.drop_column("users", "webauthn_handle")
