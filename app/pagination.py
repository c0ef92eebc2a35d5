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
import functools
import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, g, request, url_for
from limits import parse as parse_limit
from marshmallow import Schema
from sqlalchemy import ColumnElement, ScalarSelect, Select, func, inspect, select, tuple_
from sqlalchemy.types import DateTime, Integer, String

from app.errors import ApiError
from app.extensions import db, limiter
from app.schemas.common import Dumped
from app.schemas.sql_dump import sql_dump

# PostgreSQL's OFFSET is a bigint: an absurd page must not reach it.
MAX_OFFSET = 2**63 - 1
# Past this many rows, page=N reads the total first, to walk from the nearer end.
DEEP = 10_000


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


def count_of(statement: Select, exact_up_to: int | None = None) -> ScalarSelect:
    """SQL counting the rows ``statement`` selects, or only up to one more than
    ``exact_up_to`` (a filter that matches most of a large table then costs no more than that
    many rows: ``paginate`` reports PostgreSQL's estimate instead)."""
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


class PageItems:
    """What the page statement selects for the items, and how that becomes them: the dump
    PostgreSQL writes (``sql_dump``), or the ORM object, dumped by marshmallow."""

    def __init__(self, schema: Schema, entity, in_sql: bool) -> None:
        self.schema = schema
        self.sql = sql_dump(schema, entity) if in_sql else None
        self.column = self.sql.expression if self.sql else entity

    @classmethod
    def of(cls, schema_class: type[Schema], entity) -> "PageItems":
        """Built once per schema and model (and setting of the ``sql_dump`` fast path)."""
        return cls._built(schema_class, entity, "sql_dump" in current_app.config["FAST_PATHS"])

    @classmethod
    @functools.cache
    def _built(cls, schema_class: type[Schema], entity, in_sql: bool) -> "PageItems":
        return cls(schema_class(), entity, in_sql)

    def params(self) -> dict:
        return self.sql.params() if self.sql else {}

    def dump(self, values) -> Dumped:
        return Dumped(values) if self.sql else Dumped(self.schema.dump(list(values), many=True))


def paginate(
    statement: Select,
    args: dict,
    order: Order,
    schema: Schema,
    total: ScalarSelect | None = None,
    exact_up_to: int | None = None,
) -> dict:
    """One page of ``statement``'s objects (it selects one ORM entity) in ``order``, dumped with
    ``schema``, with the totals and links clients need. ``args`` are the list's loaded query
    arguments (``page``, ``per_page``, ``cursor``, filters). ``total`` is SQL counting the list
    when there is a cheaper way than counting ``statement``'s rows; with ``exact_up_to``, it
    counts no further than that, and a larger list reports PostgreSQL's estimate.

    One statement answers the page and the total (PostgreSQL evaluates the uncorrelated count
    once); only a page with no rows asks for the total on its own. Where ``schema`` can be
    written in SQL (``app.schemas.sql_dump``), PostgreSQL dumps the items; otherwise the page's
    objects are loaded and dumped by marshmallow.
    """
    page, per_page = args["page"], args["per_page"]
    cursor = Cursor.decode(args["cursor"], order, page) if args.get("cursor") else None
    if total is None:
        total = count_of(statement, exact_up_to)
    entity = statement.column_descriptions[0]["entity"]
    items = PageItems.of(schema, entity)
    paged = statement.with_only_columns(items.column, *order.keys, total)
    params = items.params()

    offset = (page - 1) * per_page
    known = None
    if cursor is None and offset > DEEP:
        refuse_too_many_deep_pages()
    if cursor is None and offset > DEEP and exact_up_to is None:
        # Far in: a page nearer the end is walked to from the end, and one past the end is not
        # walked to at all, so the rows walked past are at most half the list.
        known = db.session.scalar(select(total), params)
    if known is not None and offset >= known:
        rows = []
    elif known is not None and offset > known // 2:
        on_page = min(per_page, known - offset)
        walked = known - offset - on_page
        rows = _rows_at_offset(paged, entity, order, walked, on_page, params, reverse=True)[::-1]
    elif cursor is None:
        rows = _rows_at_offset(paged, entity, order, offset, per_page + 1, params)
    elif cursor.last:
        rows = _rows(paged.order_by(*order.by(reverse=True)).limit(per_page), params)
    elif cursor.before:
        beyond = order.beyond(cursor.keys, reverse=True)
        rows = _rows(paged.where(beyond).order_by(*order.by(reverse=True)).limit(per_page), params)
    else:
        beyond = order.beyond(cursor.keys)
        rows = _rows(paged.where(beyond).order_by(*order.by()).limit(per_page + 1), params)
    if known is not None:
        total_items = known
    else:
        total_items = rows[0][-1] if rows else db.session.scalar(select(total), params)
    estimate = exact_up_to is not None and total_items > exact_up_to
    if estimate:
        total_items = max(estimated_rows(statement.order_by(None)), total_items)
    total_pages = math.ceil(total_items / per_page)

    if cursor is not None and cursor.last:
        rows = rows[: total_items - (total_pages - 1) * per_page][::-1]
    elif cursor is not None and cursor.before:
        rows = rows[::-1]
    if known is not None or (cursor is not None and (cursor.last or cursor.before)):
        has_next = page < total_pages
    else:
        has_next = len(rows) > per_page
    rows = rows[:per_page]

    meta = {
        "page": page,
        "per_page": per_page,
        "total_pages": total_pages,
        "total_items": total_items,
    }
    if estimate:
        meta["total_is_estimate"] = True
    links = PageLinks(order.fingerprint, per_page)
    last_page = max(total_pages, 1)
    return {
        "items": items.dump(row[0] for row in rows),
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


def refuse_too_many_deep_pages() -> None:
    """429 past ``RATELIMIT_DEEP_PAGES`` pages by number far into a list, per user: each one
    walks up to half a list's index, so a few clients asking for them without stopping would
    keep the database busy for everyone (a client following links is never limited)."""
    config = current_app.config
    if not config["RATELIMIT_ENABLED"]:
        return
    limit = parse_limit(config["RATELIMIT_DEEP_PAGES"])
    who = str(g.get("authenticated_user_id") or request.remote_addr)
    if limiter.limiter.hit(limit, "deep-pages", who):
        return
    reset_at = limiter.limiter.get_window_stats(limit, "deep-pages", who).reset_time
    raise ApiError(
        429,
        "rate_limited",
        "Too many pages asked for by number far into a list: follow the list's links, which "
        "cost the same at any depth.",
        headers={"Retry-After": str(max(1, math.ceil(reset_at - time.time())))},
    )


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
    return list(row[1:-1])


def _rows(statement: Select, params: dict) -> list:
    return db.session.execute(statement, params).all()


def _rows_at_offset(
    paged: Select,
    entity,
    order: Order,
    offset: int,
    limit: int,
    params: dict,
    reverse: bool = False,
) -> list:
    """``limit`` rows from ``offset`` on (counted from the end with ``reverse``). Past the first
    page, the skipped rows are walked by their keys only: the inner query selects the primary
    key (PostgreSQL can answer it from the order's index alone), and only the page's rows are
    read."""
    if offset > MAX_OFFSET:
        return []
    ordered = paged.order_by(*order.by(reverse))
    if offset == 0:
        return _rows(ordered.limit(limit), params)
    primary_key = inspect(entity).primary_key
    skipped = paged.with_only_columns(*primary_key, maintain_column_froms=True)
    page_keys = skipped.order_by(*order.by(reverse)).offset(offset).limit(limit)
    return _rows(ordered.where(tuple_(*primary_key).in_(page_keys)), params)


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
