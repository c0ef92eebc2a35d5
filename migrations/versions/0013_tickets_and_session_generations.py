"""Tickets for the steps of a sign-in, and what makes a session's tokens its own: how it signed
in, its generation (a password change moves it on), the access token that made its last
password check, and refresh tokens retired by a password change.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:00:00.000000

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tickets",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "expires_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_index("ix_tickets_expires_at", "tickets", ["expires_at"])
    op.create_index("ix_tickets_user_id", "tickets", ["user_id"])
    op.add_column(
        "sessions",
        sa.Column("method", sa.String(length=64), server_default="password", nullable=False),
    )
    op.add_column("sessions", sa.Column("authenticated_jti", sa.String(length=64), nullable=True))
    op.add_column(
        "sessions", sa.Column("generation", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "refresh_tokens",
        sa.Column("renewed", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade():
    op.drop_column("refresh_tokens", "renewed")
    op.drop_column("sessions", "generation")
    op.drop_column("sessions", "authenticated_jti")
    op.drop_column("sessions", "method")
    op.drop_index("ix_tickets_user_id", table_name="tickets")
    op.drop_index("ix_tickets_expires_at", table_name="tickets")
    op.drop_table("tickets")
