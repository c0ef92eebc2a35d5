"""Account events: the audit trail read as an outbox (each event knows its transaction), the
webhook endpoints and their delivery attempts, how far the trail has been read, and the
permission that manages webhooks.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

CURRENT_TRANSACTION = sa.text("(pg_current_xact_id())::text::bigint")
PERMISSIONS = {
    "webhooks:manage": "Create, change and delete webhook endpoints, see and retry their "
    "deliveries.",
}


def timestamp(name: str, nullable: bool = False) -> sa.Column:
    if nullable:
        return sa.Column(name, sa.DateTime(timezone=True), nullable=True)
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade():
    # Events written before this migration belong to its transaction: they are behind the cursor.
    op.add_column(
        "audit_events",
        sa.Column(
            "transaction_id", sa.BigInteger(), server_default=CURRENT_TRANSACTION, nullable=False
        ),
    )
    op.create_index(
        "ix_audit_events_transaction", "audit_events", ["transaction_id", "id"], unique=False
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("description", sa.String(length=500), server_default="", nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        timestamp("previous_secret_until", nullable=True),
        sa.Column(
            "enabled_transaction",
            sa.BigInteger(),
            server_default=CURRENT_TRANSACTION,
            nullable=False,
        ),
        timestamp("failing_since", nullable=True),
        sa.Column("lease", sa.String(length=32), nullable=True),
        timestamp("leased_until", nullable=True),
        timestamp("created_at"),
        timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("endpoint_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        timestamp("due_at", nullable=True),
        timestamp("attempted_at", nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=1024), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        timestamp("next_retry_at", nullable=True),
        timestamp("created_at"),
        sa.CheckConstraint(
            "state IN ('pending', 'succeeded', 'failed')", name="ck_webhook_deliveries_state"
        ),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoints.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_deliveries_endpoint", "webhook_deliveries", ["endpoint_id", "id"])
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["endpoint_id", "due_at"],
        postgresql_where=sa.text("state = 'pending'"),
    )
    cursor = op.create_table(
        "webhook_cursor",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_webhook_cursor_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    # Read from here on: what happened before webhooks existed is sent to no one.
    op.execute(
        cursor.insert().from_select(
            ["id", "transaction_id", "event_id"],
            sa.select(
                sa.literal(1),
                CURRENT_TRANSACTION,
                sa.func.coalesce(sa.func.max(sa.column("id")), 0),
            ).select_from(sa.table("audit_events", sa.column("id"))),
        )
    )
    op.bulk_insert(
        sa.table("permissions", sa.column("name"), sa.column("description")),
        [{"name": name, "description": text} for name, text in PERMISSIONS.items()],
    )


def downgrade():
    op.execute(
        sa.table("permissions", sa.column("name"))
        .delete()
        .where(sa.column("name").in_(list(PERMISSIONS)))
    )
    op.drop_table("webhook_cursor")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_endpoint", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
    op.drop_index("ix_audit_events_transaction", table_name="audit_events")
    op.drop_column("audit_events", "transaction_id")
