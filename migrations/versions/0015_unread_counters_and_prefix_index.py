"""Lists: the counters nothing read go, and short searches get an index.

- Bucketlists and audit events were counted by triggers (migration 0006) that no list read:
  a bucketlist list is one owner's (its total counts that owner's rows through the owner's
  index), and the audit trail counts the rows its filters select. The triggers, their
  function (migration 0005's, which counted only these two tables by then) and their rows go.
- ``q`` of one or two characters matches usernames that start with it, through an index of
  ``lower(username)`` with ``text_pattern_ops`` (which serves ``LIKE 'ab%'`` whatever the
  database's collation; Heroku's is not C).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UNREAD = ("bucketlists", "audit_events")
ACTIONS = (
    ("inserts", "INSERT", "REFERENCING NEW TABLE AS inserted_rows"),
    ("deletes", "DELETE", "REFERENCING OLD TABLE AS deleted_rows"),
    ("truncates", "TRUNCATE", ""),
)


def upgrade():
    for table in UNREAD:
        for action, _, _ in ACTIONS:
            op.execute(f"DROP TRIGGER {table}_count_{action} ON {table}")
    op.execute("DROP FUNCTION count_rows()")
    op.execute("DELETE FROM row_counts WHERE table_name IN ('bucketlists', 'audit_events')")
    op.create_index(
        "ix_users_username_prefix",
        "users",
        [sa.literal_column("lower(username) text_pattern_ops")],
    )


def downgrade():
    op.drop_index("ix_users_username_prefix", table_name="users")
    # Migration 0006's counting function and triggers, counting the rows there are now.
    op.execute(context.script.get_revision("0006").module.COUNT_ROWS)
    for table in UNREAD:
        op.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        op.execute(
            f"INSERT INTO row_counts (table_name, row_count) "
            f"SELECT '{table}', count(*) FROM {table}"
        )
        for action, when, reference in ACTIONS:
            op.execute(
                f"CREATE TRIGGER {table}_count_{action} AFTER {when} ON {table} {reference} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION count_rows()"
            )
