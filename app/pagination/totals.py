"""How a list's total is known: counted exactly (``count_of``), read from a counter the
database keeps (``RowCount``, handed to ``paginate`` as ``total``), or, for a free-text filter
that matches more than it is worth counting, PostgreSQL's estimate, flagged as such."""

import math
from dataclasses import dataclass

from sqlalchemy import ScalarSelect, Select, func, select

from app.extensions import db


def count_of(statement: Select, exact_up_to: int | None = None) -> ScalarSelect:
    """SQL counting the rows ``statement`` selects, or only up to one more than
    ``exact_up_to`` (a filter that matches most of a large table then costs no more than that
    many rows)."""
    rows = statement.order_by(None)
    if exact_up_to is not None:
        rows = rows.limit(exact_up_to + 1)
    return select(func.count()).select_from(rows.subquery()).scalar_subquery()


def estimated_rows(statement: Select) -> int:
    """How many rows PostgreSQL's planner expects ``statement`` to select (EXPLAIN)."""
    connection = db.session.connection()
    compiled = statement.compile(dialect=connection.dialect)
    plan = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params)
    return int(plan.scalar()[0]["Plan"]["Plan Rows"])


@dataclass(frozen=True)
class Totals:
    """A list's size, as the page's ``_meta`` tells it."""

    items: int
    pages: int
    estimate: bool

    @classmethod
    def of(cls, counted: int, per_page: int, statement: Select, exact_up_to: int | None):
        """From the count the page's statement brought back: past ``exact_up_to``, the count
        stopped early, and PostgreSQL's estimate (never below it) is told instead."""
        estimate = exact_up_to is not None and counted > exact_up_to
        if estimate:
            counted = max(estimated_rows(statement.order_by(None)), counted)
        return cls(counted, math.ceil(counted / per_page), estimate)

    def meta(self, page: int, per_page: int) -> dict:
        meta = {
            "page": page,
            "per_page": per_page,
            "total_pages": self.pages,
            "total_items": self.items,
        }
        if self.estimate:
            meta["total_is_estimate"] = True
        return meta
