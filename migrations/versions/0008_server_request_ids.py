"""Audit events keep the server's own request id beside the one the response carried.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "audit_events", sa.Column("server_request_id", sa.String(length=32), nullable=True)
    )


def downgrade():
    op.drop_column("audit_events", "server_request_id")
