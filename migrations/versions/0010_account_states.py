"""Deactivation and e-mail confirmation are separate facts: an account registered with e-mail
confirmation was stored inactive until confirmed; it becomes active and unconfirmed, unless an
admin deactivated it (an audited ``user.deactivated``), which stays.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:20:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.execute(
        """
        UPDATE users SET is_active = true
        WHERE NOT is_active AND NOT email_confirmed
          AND NOT EXISTS (
            SELECT 1 FROM audit_events
            WHERE audit_events.target_id = users.user_id
              AND audit_events.action = 'user.deactivated'
          )
        """
    )


def downgrade():
    op.execute("UPDATE users SET is_active = false WHERE NOT email_confirmed")
