"""The client a ticket for nobody yet was issued to: the live ones a client holds are capped.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 08:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("tickets", sa.Column("issued_to", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_tickets_issued_to",
        "tickets",
        ["issued_to", "expires_at"],
        postgresql_where=sa.text("issued_to IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_tickets_issued_to", table_name="tickets")
    op.drop_column("tickets", "issued_to")
