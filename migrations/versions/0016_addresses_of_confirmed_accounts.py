"""An address belongs to the account that confirmed it: unconfirmed accounts (registered with
EMAIL_CONFIRMATION, not yet confirmed) may share an address, so one that never confirms (a
squatter's) does not keep the address's owner out; and they are found by address when one
confirms it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 11:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

LOWER_EMAIL = [sa.literal_column("lower(email)")]


def upgrade():
    op.drop_index("uq_users_email_lower", table_name="users")
    op.create_index(
        "uq_users_email_lower",
        "users",
        LOWER_EMAIL,
        unique=True,
        postgresql_where=sa.text("email_confirmed"),
    )
    op.create_index(
        "ix_users_email_unconfirmed",
        "users",
        LOWER_EMAIL,
        postgresql_where=sa.text("NOT email_confirmed"),
    )


def downgrade():
    # (Fails while two unconfirmed accounts share an address: prune-tokens first.)
    op.drop_index("ix_users_email_unconfirmed", table_name="users")
    op.drop_index("uq_users_email_lower", table_name="users")
    op.create_index("uq_users_email_lower", "users", LOWER_EMAIL, unique=True)
