"""How a page's rows are found, one walk per way a page is asked for.

- ``page=N`` alone: ``at_offset`` skips ``(N - 1) * per_page`` rows. The rows skipped are only
  counted, not read: an inner query picks the page's primary keys in the list's order
  (PostgreSQL walks the order's index, reading no table row when the index covers the order
  and the filters), and the page's rows are loaded by key.
- Far in (past ``DEEP`` rows, where the total is exact): ``from_nearer_end`` reads the total
  first, walks a page in the second half of the list from its end, and does not walk to a page
  past the end at all: at most half the list is walked.
- A ``next`` link's cursor: ``after`` the sort key of the row before the page; a ``prev``
  link's: ``before`` the key of the row after it; the ``last`` link's: ``last``, the end of the
  list walked backwards. Each costs what the first page costs, however deep.

Every walk returns the page's rows in the list's order and, where it can tell, whether rows
follow; each row carries the item, its sort key and the list's total (``PageQuery``).
"""

from dataclasses import dataclass

from sqlalchemy import ScalarSelect, Select, inspect, select, tuple_

from app.extensions import db
from app.models.order import Order
from app.pagination.cursor import Cursor

# PostgreSQL's OFFSET is a bigint: an absurd page must not reach it.
MAX_OFFSET = 2**63 - 1
# Past this many rows, page=N reads the total first, to walk from the nearer end.
DEEP = 10_000


@dataclass(frozen=True)
class Found:
    """A page's rows in the list's order; whether more follow (None: the total tells); the
    total when the walk had to read it first."""

    rows: list
    more: bool | None = None
    total: int | None = None


@dataclass(frozen=True)
class PageQuery:
    """The page statement: the list's statement selecting each item's column, its sort key and
    the list's total (PostgreSQL counts the uncorrelated total once per statement)."""

    paged: Select
    entity: type
    order: Order
    total: ScalarSelect
    params: dict
    per_page: int

    def run(self, statement: Select) -> list:
        return db.session.execute(statement, self.params).all()

    def ordered(self, reverse: bool = False) -> Select:
        return self.paged.order_by(*self.order.by(reverse))

    def count(self) -> int:
        return db.session.scalar(select(self.total), self.params)


def find(query: PageQuery, page: int, cursor: Cursor | None, exact: bool) -> Found:
    """The rows of ``page``: by its cursor when it has one of ours for it, else by number."""
    offset = (page - 1) * query.per_page
    if cursor is not None and cursor.last:
        return last(query, query.count())
    if cursor is not None and cursor.before:
        return before(query, cursor.keys)
    if cursor is not None:
        return after(query, cursor.keys)
    if offset > DEEP and exact:
        return from_nearer_end(query, offset, query.count())
    rows = at_offset(query, offset, query.per_page + 1)
    return Found(rows[: query.per_page], more=len(rows) > query.per_page)


def at_offset(query: PageQuery, offset: int, limit: int, reverse: bool = False) -> list:
    """``limit`` rows from ``offset`` on (counted from the end with ``reverse``); past the first
    page, the skipped rows are walked by their keys only."""
    if offset > MAX_OFFSET:
        return []
    if offset == 0:
        return query.run(query.ordered(reverse).limit(limit))
    primary_key = inspect(query.entity).primary_key
    skipped = query.paged.with_only_columns(*primary_key, maintain_column_froms=True)
    page_keys = skipped.order_by(*query.order.by(reverse)).offset(offset).limit(limit)
    return query.run(query.ordered(reverse).where(tuple_(*primary_key).in_(page_keys)))


def from_nearer_end(query: PageQuery, offset: int, total: int) -> Found:
    """A page far in, by number, knowing the total: from the start in the first half of the
    list, from the end in the second, not at all past the end."""
    if offset >= total:
        return Found([], more=False, total=total)
    if offset <= total // 2:
        rows = at_offset(query, offset, query.per_page + 1)
        return Found(rows[: query.per_page], more=len(rows) > query.per_page, total=total)
    on_page = min(query.per_page, total - offset)
    walked = total - offset - on_page
    rows = at_offset(query, walked, on_page, reverse=True)[::-1]
    return Found(rows, more=offset + on_page < total, total=total)


def after(query: PageQuery, keys: list) -> Found:
    """A ``next`` link's page: the rows after ``keys``."""
    statement = query.ordered().where(query.order.beyond(keys))
    rows = query.run(statement.limit(query.per_page + 1))
    return Found(rows[: query.per_page], more=len(rows) > query.per_page)


def before(query: PageQuery, keys: list) -> Found:
    """A ``prev`` link's page: the rows before ``keys``, walked backwards."""
    statement = query.ordered(reverse=True).where(query.order.beyond(keys, reverse=True))
    return Found(query.run(statement.limit(query.per_page))[::-1])


def last(query: PageQuery, total: int) -> Found:
    """The ``last`` link's page: what is left after the full pages, from the end."""
    on_page = total - (max(0, -(-total // query.per_page) - 1)) * query.per_page
    rows = query.run(query.ordered(reverse=True).limit(on_page))[::-1] if on_page else []
    return Found(rows, more=False, total=total)
