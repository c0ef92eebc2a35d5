"""Exact row counts kept by the database, so that a page of a large table knows its total
without counting the table on every request."""

from functools import cache

from sqlalchemy import BigInteger, ScalarSelect, String, select
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class RowCount(db.Model):
    """One row per counted table, maintained by statement-level triggers on that table (see
    migration 0005): inserts add, deletes subtract, TRUNCATE resets. The triggers run in the
    writing transaction, so the count is exact for every reader, whatever its worker or
    instance."""

    __tablename__ = "row_counts"

    table_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    row_count: Mapped[int] = mapped_column(BigInteger)

    @classmethod
    @cache
    def of(cls, table_name: str) -> ScalarSelect:
        """The count of ``table_name``'s rows, as a subquery (built once per table)."""
        return select(cls.row_count).where(cls.table_name == table_name).scalar_subquery()
