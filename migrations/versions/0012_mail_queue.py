"""The mail queue: procrastinate's schema (tables, types and functions), in its version 3.10
(pyproject.toml pins 3.10.x: a newer procrastinate brings SQL migrations of its own, applied by a
migration here).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 00:40:00.000000

"""

from alembic import op
from procrastinate.schema import SchemaManager

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def run_sql(sql: str) -> None:
    """Send ``sql`` as it is, in the migration's transaction (it has % and : of its own, which
    neither SQLAlchemy nor psycopg2 may read as parameters)."""
    with op.get_bind().connection.cursor() as cursor:
        cursor.execute(sql)


def upgrade():
    run_sql(SchemaManager.get_schema())


def downgrade():
    run_sql(
        """
        DO $$
        DECLARE routine record;
        BEGIN
          FOR routine IN
            SELECT oid::regprocedure AS signature FROM pg_proc
            WHERE proname LIKE 'procrastinate\\_%'
          LOOP
            EXECUTE 'DROP FUNCTION ' || routine.signature || ' CASCADE';
          END LOOP;
        END $$;
        DROP TABLE procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,
          procrastinate_workers CASCADE;
        DROP TYPE procrastinate_job_status, procrastinate_job_event_type,
          procrastinate_job_to_defer_v1 CASCADE;
        """
    )
