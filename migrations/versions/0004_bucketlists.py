"""Bucketlists and their items, deleted with their owner by the database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 01:20:46.837340

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "bucketlists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
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
        sa.ForeignKeyConstraint(["owner_id"], ["users.user_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bucketlists", schema=None) as batch_op:
        batch_op.create_index("ix_bucketlists_owner", ["owner_id", "id"], unique=False)

    op.create_table(
        "bucketlist_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bucketlist_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("done", sa.Boolean(), server_default=sa.text("false"), nullable=False),
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
        sa.ForeignKeyConstraint(["bucketlist_id"], ["bucketlists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bucketlist_items", schema=None) as batch_op:
        batch_op.create_index("ix_bucketlist_items_list", ["bucketlist_id", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("bucketlist_items", schema=None) as batch_op:
        batch_op.drop_index("ix_bucketlist_items_list")

    op.drop_table("bucketlist_items")
    with op.batch_alter_table("bucketlists", schema=None) as batch_op:
        batch_op.drop_index("ix_bucketlists_owner")

    op.drop_table("bucketlists")
