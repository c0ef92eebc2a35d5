"""Exact row counts kept by triggers (the users list's total without COUNT(*)).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 10:05:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COUNTED_TABLES = ["users"]

# Statement-level triggers with transition tables: one counter update per statement, however
# many rows it touched (a bulk INSERT ... SELECT of 100,000 users costs one update).
COUNT_ROWS = """
CREATE OR REPLACE FUNCTION count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE row_counts SET row_count = 0 WHERE table_name = TG_TABLE_NAME;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO delta FROM inserted_rows;
    ELSE
        SELECT -count(*) INTO delta FROM deleted_rows;
    END IF;
    IF delta <> 0 THEN
        UPDATE row_counts SET row_count = row_count + delta WHERE table_name = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade():
    op.create_table(
        "row_counts",
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("table_name"),
    )
    op.execute(COUNT_ROWS)
    for table in COUNTED_TABLES:
        # The table is locked first, so no row can slip in between the count and the triggers.
        op.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        # The table names are this module's constants, not input.
        op.execute(
            f"INSERT INTO row_counts (table_name, row_count) "
            f"SELECT '{table}', count(*) FROM {table}"
        )
        op.execute(
            f"CREATE TRIGGER {table}_count_inserts AFTER INSERT ON {table} "
            f"REFERENCING NEW TABLE AS inserted_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION count_rows()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_count_deletes AFTER DELETE ON {table} "
            f"REFERENCING OLD TABLE AS deleted_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION count_rows()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_count_truncates AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION count_rows()"
        )


def downgrade():
    for table in COUNTED_TABLES:
        for action in ("inserts", "deletes", "truncates"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_count_{action} ON {table}")
    op.drop_table("row_counts")
    op.execute("DROP FUNCTION IF EXISTS count_rows()")
