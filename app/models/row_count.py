"""Exact row counts kept by the database, so that a page of a large table knows its total
without counting the table on every request."""

from sqlalchemy import BigInteger, ScalarSelect, String, func, select
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class RowCount(db.Model):
    """How many rows a table has (``facet`` empty), or how many of them share a facet (for users:
    ``role=admin``, ``is_active=false``, ``role=admin&is_active=true``...). Triggers on the
    counted tables keep them (migrations 0005 and 0006): one update per statement, however many
    rows it wrote, in the writing transaction, so every reader sees exact counts, whatever its
    worker or instance."""

    __tablename__ = "row_counts"

    table_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    facet: Mapped[str] = mapped_column(String(128), primary_key=True, server_default="")
    row_count: Mapped[int] = mapped_column(BigInteger)

    @classmethod
    def count_of(cls, table_name: str, facet: str = "") -> ScalarSelect:
        """SQL: the count of ``table_name``'s rows (with ``facet``); no counter means none."""
        counter = select(cls.row_count).where(cls.table_name == table_name, cls.facet == facet)
        return func.coalesce(counter.scalar_subquery(), 0)
