"""Lists at a million users: counts per role and status, indexes that cover the list orders,
and a trigram index for substring search.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:00:00.000000

- ``row_counts`` gains a ``facet``: besides each table's row count (facet ``''``), the users'
  counts per role, per status and per both (``role=admin``, ``is_active=false``,
  ``role=user&is_active=true``), so a filtered list knows its exact total without counting.
  Statement-level triggers keep them in the writing transaction, locking the counters they
  change in one order (no deadlock between two writers). Bucketlists and audit events are
  counted too (their unfiltered lists).
- The user list orders' indexes include the columns the filters read: a page deep in a list,
  filtered by role or status, is found by walking the index alone (an index-only scan).
- ``pg_trgm`` (a contrib extension; Heroku Postgres allows it) indexes the lowered username for
  ``q``, the substring filter.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

USER_FACETS = """
CREATE OR REPLACE FUNCTION user_facets(roles text, is_active boolean) RETURNS SETOF text
LANGUAGE sql IMMUTABLE AS $$
    SELECT ''
    UNION ALL SELECT 'is_active=' || is_active
    UNION ALL SELECT 'role=' || role FROM unnest(string_to_array(roles, ',')) AS role
    UNION ALL SELECT 'role=' || role || '&is_active=' || is_active
              FROM unnest(string_to_array(roles, ',')) AS role
$$
"""

# Adds each facet's change to its counter, in facet order (two writers never wait for each
# other's counters in opposite orders), skipping facets a statement left as they were (an UPDATE
# of a last login time touches no counter).
UPSERT_FACET_COUNTS = """
    INSERT INTO row_counts AS counted (table_name, facet, row_count)
    SELECT 'users', facet, sum(delta) FROM changes
    GROUP BY facet HAVING sum(delta) <> 0 ORDER BY facet
    ON CONFLICT (table_name, facet) DO UPDATE SET row_count = counted.row_count + excluded.row_count
"""
ADDED = "SELECT facet, 1 AS delta FROM new_rows, user_facets(roles, is_active) AS facet"
REMOVED = "SELECT facet, -1 AS delta FROM old_rows, user_facets(roles, is_active) AS facet"
COUNT_USER_FACETS = f"""
CREATE OR REPLACE FUNCTION count_user_facets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH changes AS ({ADDED}) {UPSERT_FACET_COUNTS};
    ELSIF TG_OP = 'DELETE' THEN
        WITH changes AS ({REMOVED}) {UPSERT_FACET_COUNTS};
    ELSIF TG_OP = 'UPDATE' THEN
        WITH changes AS ({ADDED} UNION ALL {REMOVED}) {UPSERT_FACET_COUNTS};
    ELSE
        DELETE FROM row_counts WHERE table_name = 'users' AND facet <> '';
        UPDATE row_counts SET row_count = 0 WHERE table_name = 'users';
    END IF;
    RETURN NULL;
END
$$
"""

# Migration 0005's table counter, for the row count alone (facet '').
COUNT_ROWS = """
CREATE OR REPLACE FUNCTION count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE row_counts SET row_count = 0 WHERE table_name = TG_TABLE_NAME AND facet = '';
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO delta FROM inserted_rows;
    ELSE
        SELECT -count(*) INTO delta FROM deleted_rows;
    END IF;
    IF delta <> 0 THEN
        UPDATE row_counts SET row_count = row_count + delta
        WHERE table_name = TG_TABLE_NAME AND facet = '';
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")

    op.add_column(
        "row_counts",
        sa.Column("facet", sa.String(length=128), server_default="", nullable=False),
    )
    op.drop_constraint("row_counts_pkey", "row_counts", type_="primary")
    op.create_primary_key("row_counts_pkey", "row_counts", ["table_name", "facet"])
    op.execute(COUNT_ROWS)

    # The users' counts move to the facet triggers (facet '' included).
    for action in ("inserts", "deletes", "truncates"):
        op.execute(f"DROP TRIGGER users_count_{action} ON users")
    op.execute(USER_FACETS)
    op.execute(COUNT_USER_FACETS)
    op.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
    op.execute("DELETE FROM row_counts WHERE table_name = 'users'")
    op.execute(
        "INSERT INTO row_counts (table_name, facet, row_count) "
        "SELECT 'users', facet, count(*) FROM users, user_facets(roles, is_active) AS facet "
        "GROUP BY facet"
    )
    op.execute(
        "INSERT INTO row_counts (table_name, facet, row_count) VALUES ('users', '', 0) "
        "ON CONFLICT DO NOTHING"
    )
    op.execute(
        "CREATE TRIGGER users_count_inserts AFTER INSERT ON users "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_user_facets()"
    )
    op.execute(
        "CREATE TRIGGER users_count_updates AFTER UPDATE ON users "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION count_user_facets()"
    )
    op.execute(
        "CREATE TRIGGER users_count_deletes AFTER DELETE ON users "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_user_facets()"
    )
    op.execute(
        "CREATE TRIGGER users_count_truncates AFTER TRUNCATE ON users "
        "FOR EACH STATEMENT EXECUTE FUNCTION count_user_facets()"
    )

    for table in ("bucketlists", "audit_events"):
        count_table_rows(table)

    # Index-only walks of the user list's orders, whatever the role and status filters.
    op.drop_index("ix_users_created", table_name="users")
    op.create_index(
        "ix_users_created",
        "users",
        ["created_datetime", "user_id"],
        postgresql_include=["username", "roles", "is_active"],
    )
    op.drop_index("uq_users_username_lower", table_name="users")
    op.create_index(
        "uq_users_username_lower",
        "users",
        [sa.literal_column("lower(username)")],
        unique=True,
        postgresql_include=["user_id", "username", "roles", "is_active"],
    )
    # The few inactive users (a list of them is read through this index, see app/api/users.py).
    op.create_index(
        "ix_users_inactive", "users", ["user_id"], postgresql_where=sa.text("NOT is_active")
    )
    op.create_index(
        "ix_users_username_trigrams",
        "users",
        [sa.literal_column("lower(username) gin_trgm_ops")],
        postgresql_using="gin",
    )


def count_table_rows(table: str) -> None:
    """Keep ``table``'s row count with migration 0005's ``count_rows`` triggers."""
    op.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
    op.execute(
        f"INSERT INTO row_counts (table_name, row_count) SELECT '{table}', count(*) FROM {table}"
    )
    op.execute(
        f"CREATE TRIGGER {table}_count_inserts AFTER INSERT ON {table} "
        f"REFERENCING NEW TABLE AS inserted_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows()"
    )
    op.execute(
        f"CREATE TRIGGER {table}_count_deletes AFTER DELETE ON {table} "
        f"REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION count_rows()"
    )
    op.execute(
        f"CREATE TRIGGER {table}_count_truncates AFTER TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION count_rows()"
    )


def downgrade():
    op.drop_index("ix_users_username_trigrams", table_name="users")
    op.drop_index("ix_users_inactive", table_name="users")
    op.drop_index("uq_users_username_lower", table_name="users")
    op.create_index(
        "uq_users_username_lower", "users", [sa.literal_column("lower(username)")], unique=True
    )
    op.drop_index("ix_users_created", table_name="users")
    op.create_index("ix_users_created", "users", ["created_datetime", "user_id"])
    for table in ("bucketlists", "audit_events"):
        for action in ("inserts", "deletes", "truncates"):
            op.execute(f"DROP TRIGGER {table}_count_{action} ON {table}")
    for action in ("inserts", "updates", "deletes", "truncates"):
        op.execute(f"DROP TRIGGER users_count_{action} ON users")
    op.execute("DROP FUNCTION count_user_facets()")
    op.execute("DROP FUNCTION user_facets(text, boolean)")
    op.execute("DELETE FROM row_counts WHERE facet <> '' OR table_name <> 'users'")
    op.drop_constraint("row_counts_pkey", "row_counts", type_="primary")
    op.drop_column("row_counts", "facet")
    op.create_primary_key("row_counts_pkey", "row_counts", ["table_name"])
    for action, when, reference in (
        ("inserts", "INSERT", "REFERENCING NEW TABLE AS inserted_rows"),
        ("deletes", "DELETE", "REFERENCING OLD TABLE AS deleted_rows"),
        ("truncates", "TRUNCATE", ""),
    ):
        op.execute(
            f"CREATE TRIGGER users_count_{action} AFTER {when} ON users {reference} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION count_rows()"
        )
