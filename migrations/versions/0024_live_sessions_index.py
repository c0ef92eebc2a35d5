"""An index of each user's live sessions (the session cap reads them at every login).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_sessions_live",
        "sessions",
        ["user_id", "last_used_at"],
        postgresql_where=sa.text("ended_at IS NULL"),
    )


def downgrade():
    op.drop_index("ix_sessions_live", table_name="sessions")
