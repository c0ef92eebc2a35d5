"""Turn a ``select()`` into the contract's page envelope (``items``, ``_meta``, ``_links``).

Pages are found two ways, and every list gets both:

- ``page=N`` alone skips ``(N - 1) * per_page`` rows. The rows skipped are only counted, not
  read: an inner query picks the page's primary keys in the list's order (PostgreSQL walks the
  order's index, reading no table row when the index covers the order and the filters), and
  the page's objects are loaded by key.
- The ``next``, ``prev`` and ``last`` links carry an opaque ``cursor`` (keyset pagination) next
  to their ``page``: the sort key of the row the page starts after (or ends before), so
  following a link costs what the first page costs, however deep it is. The cursor only finds
  the page its ``page`` names faster: one that is not for this order and this page (edited,
  or from another list) is ignored, and the page is found by its number.

The order must be unique (end it with the primary key) and all ascending or all descending, so
that one row comparison ``(k1, k2) > (v1, v2)`` finds where a page starts.
"""

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from flask import request, url_for
from sqlalchemy import ColumnElement, Select, func, inspect, select, tuple_
from sqlalchemy.types import DateTime, Integer, String

from app.extensions import db

# PostgreSQL's OFFSET is a bigint: an absurd page must not reach it.
MAX_OFFSET = 2**63 - 1


class Total(NamedTuple):
    """How many items a list has, and whether that is PostgreSQL's estimate."""

    items: int
    estimate: bool = False


@dataclass(frozen=True)
class Order:
    """A list's order: key columns that together are unique, all in one direction."""

    keys: tuple[ColumnElement, ...]
    descending: bool = False

    def by(self, reverse: bool = False) -> list[ColumnElement]:
        """ORDER BY clauses, or the opposite order with ``reverse``."""
        down = self.descending != reverse
        return [key.desc() if down else key.asc() for key in self.keys]

    def beyond(self, values: Sequence, reverse: bool = False) -> ColumnElement:
        """The rows after ``values`` in this order (before them with ``reverse``)."""
        row, bound = tuple_(*self.keys), tuple_(*values)
        return row < bound if self.descending != reverse else row > bound

    @property
    def fingerprint(self) -> str:
        """Names this order in its cursors."""
        text = ";".join(str(key) for key in self.keys) + (" desc" if self.descending else "")
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def key_values(self, raw: list) -> list | None:
        """A cursor's key values as this order's column types, or None if they are not."""
        if len(raw) != len(self.keys):
            return None
        values = [_typed(value, key.type) for value, key in zip(raw, self.keys, strict=True)]
        return None if NOT_A_KEY in values else values


NOT_A_KEY = object()


def _typed(value, column_type):
    if isinstance(column_type, DateTime) and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return NOT_A_KEY
    if isinstance(column_type, Integer) and type(value) is int:
        return value
    if isinstance(column_type, String) and isinstance(value, str):
        return value
    return NOT_A_KEY


@dataclass(frozen=True)
class Cursor:
    """Where a linked page starts: after (or, going back, before) a row's sort key, or at the
    end of the list (``last``)."""

    order: str
    page: int
    keys: list | None = None
    before: bool = False
    last: bool = False

    def encode(self) -> str:
        data = {"o": self.order, "p": self.page}
        if self.last:
            data["l"] = 1
        else:
            data["k"] = [_jsonable(value) for value in self.keys]
            if self.before:
                data["b"] = 1
        text = json.dumps(data, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, order: Order, page: int) -> "Cursor | None":
        """The cursor a link carries, if it is one of ``order``'s for ``page`` (else None)."""
        try:
            data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (binascii.Error, ValueError):
            return None
        if not isinstance(data, dict) or set(data) - {"o", "p", "k", "b", "l"}:
            return None
        keys = data.get("k")
        ours = (
            data.get("o") == order.fingerprint
            and data.get("p") == page
            and type(data.get("p")) is int
            and (data.get("l") == 1) != isinstance(keys, list)
            and data.get("b", 1) == 1
            and data.get("l", 1) == 1
        )
        if not ours:
            return None
        if keys is not None:
            keys = order.key_values(keys)
            if keys is None:
                return None
        return cls(order.fingerprint, page, keys, before="b" in data, last="l" in data)


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value


def count_rows(statement: Select, exact_up_to: int | None = None) -> Total:
    """The number of rows ``statement`` selects: exact, or, when there are more than
    ``exact_up_to``, PostgreSQL's estimate (counting stops there, so a filter that matches most
    of a large table costs no more than ``exact_up_to`` rows)."""
    rows = statement.order_by(None)
    if exact_up_to is not None:
        rows = rows.limit(exact_up_to + 1)
    counted = db.session.scalar(select(func.count()).select_from(rows.subquery()))
    if exact_up_to is None or counted <= exact_up_to:
        return Total(counted)
    return Total(max(estimated_rows(statement.order_by(None)), counted), estimate=True)


def estimated_rows(statement: Select) -> int:
    """How many rows PostgreSQL's planner expects ``statement`` to select (EXPLAIN)."""
    connection = db.session.connection()
    compiled = statement.compile(dialect=connection.dialect)
    plan = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params)
    return int(plan.scalar()[0]["Plan"]["Plan Rows"])


def paginate(
    statement: Select,
    args: dict,
    order: Order,
    total: Callable[[], Total] | None = None,
) -> dict:
    """One page of ``statement``'s objects (it selects one ORM entity) in ``order``, with the
    totals and links clients need. ``args`` are the list's loaded query arguments (``page``,
    ``per_page``, ``cursor``, filters). ``total`` counts the list when there is a cheaper way
    than counting ``statement``'s rows."""
    page, per_page = args["page"], args["per_page"]
    cursor = Cursor.decode(args["cursor"], order, page) if args.get("cursor") else None
    counted = total() if total else count_rows(statement)
    total_pages = math.ceil(counted.items / per_page)
    keyed = statement.add_columns(*order.keys)

    has_next = page < total_pages
    if cursor is None:
        rows = _rows_at_offset(keyed, order, (page - 1) * per_page, per_page + 1)
        has_next = len(rows) > per_page
    elif cursor.last:
        on_last_page = counted.items - (total_pages - 1) * per_page
        rows = _rows(keyed.order_by(*order.by(reverse=True)).limit(max(on_last_page, 0)))[::-1]
    elif cursor.before:
        beyond = order.beyond(cursor.keys, reverse=True)
        rows = _rows(keyed.where(beyond).order_by(*order.by(reverse=True)).limit(per_page))[::-1]
    else:
        beyond = order.beyond(cursor.keys)
        rows = _rows(keyed.where(beyond).order_by(*order.by()).limit(per_page + 1))
        has_next = len(rows) > per_page
    rows = rows[:per_page]

    meta = {
        "page": page,
        "per_page": per_page,
        "total_pages": total_pages,
        "total_items": counted.items,
    }
    if counted.estimate:
        meta["total_is_estimate"] = True
    links = PageLinks(order.fingerprint, per_page)
    last_page = max(total_pages, 1)
    return {
        "items": [row[0] for row in rows],
        "meta": meta,
        "links": {
            "self": links.to(page, cursor),
            "first": links.to(1),
            "last": links.to(
                last_page, links.cursor(last_page, last=True) if last_page > 1 else None
            ),
            "next": links.to(page + 1, links.cursor(page + 1, _keys(rows[-1])))
            if has_next and rows
            else None,
            "prev": _prev_link(links, page, rows, last_page),
        },
    }


def _prev_link(links: "PageLinks", page: int, rows: list, last_page: int) -> str | None:
    if page <= 1:
        return None
    if page == 2:
        return links.to(1)
    if not rows:
        # Past the end: back to the last page there is.
        return links.to(last_page, links.cursor(last_page, last=True) if last_page > 1 else None)
    return links.to(page - 1, links.cursor(page - 1, _keys(rows[0]), before=True))


def _keys(row) -> list:
    return list(row[1:])


def _rows(statement: Select) -> list:
    return db.session.execute(statement).all()


def _rows_at_offset(keyed: Select, order: Order, offset: int, limit: int) -> list:
    """``limit`` rows from ``offset`` on. Past the first page, the skipped rows are walked by
    their keys only: the inner query selects the primary key (PostgreSQL can answer it from the
    order's index alone), and only the page's rows are loaded."""
    if offset > MAX_OFFSET:
        return []
    ordered = keyed.order_by(*order.by())
    if offset == 0:
        return _rows(ordered.limit(limit))
    entity = keyed.column_descriptions[0]["entity"]
    primary_key = inspect(entity).primary_key
    skipped = keyed.with_only_columns(*primary_key, maintain_column_froms=True)
    page_keys = skipped.order_by(*order.by()).offset(offset).limit(limit)
    return _rows(ordered.where(tuple_(*primary_key).in_(page_keys)))


class PageLinks:
    """Links to pages of the list this request reads: the same endpoint, filters and sort,
    another page (``url_for``, so a mount prefix is kept, as in item links)."""

    def __init__(self, order: str, per_page: int) -> None:
        self.order = order
        self.per_page = per_page
        self.others = [
            (name, value)
            for name, values in request.args.lists()
            if name not in {"page", "per_page", "cursor"}
            for value in values
        ]

    def cursor(self, page: int, keys: list | None = None, **where) -> Cursor:
        return Cursor(self.order, page, keys, **where)

    def to(self, page: int, cursor: Cursor | None = None) -> str:
        query = {"page": page, "per_page": self.per_page}
        for name, value in self.others:
            query.setdefault(name, []).append(value)
        if cursor is not None:
            query["cursor"] = cursor.encode()
        return url_for(request.endpoint, **(request.view_args or {}), **query)
