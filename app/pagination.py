"""Turn a ``select()`` into the contract's page envelope (``items``, ``_meta``, ``_links``)."""

import json
import math
from collections.abc import Callable
from urllib.parse import urlencode

from flask import Response, current_app, request
from marshmallow import Schema
from sqlalchemy import ScalarSelect, Select, bindparam, func, literal_column, select

from app.database import PreparedRead, read, read_rows

# PostgreSQL's OFFSET is a bigint: an absurd page must not reach it.
MAX_OFFSET = 2**63 - 1
# How the JSON provider's compact output of a page envelope with no items ends.
EMPTY_ITEMS_END = '"items":[]}\n'


class PageQuery:
    """A list statement as its page statement (the page's rows with the total as a last column,
    limited by the ``page_limit`` and ``page_offset`` parameters) and its total statement.

    The total rides along with the page in the same statement (PostgreSQL evaluates the
    uncorrelated subquery once), so a page costs one round trip whatever its size; only an empty
    page asks for the total on its own. ``total`` is a cheaper exact count when the caller has
    one (``RowCount.of``); by default the statement's rows are counted. With ``prepare``, both
    are ``PreparedRead`` statements: for the lists every client asks for, built once.

    With ``json_items``, the statement selects one column, each row's JSON text
    (``app.schemas.sql_json``), and the page statement answers one row: the page's texts joined
    by commas (``ARRAY(...)`` keeps the statement's order) and the total, even for an empty
    page. One row is cheaper to send and to read than twenty.
    """

    def __init__(
        self,
        statement: Select,
        total: ScalarSelect | None = None,
        prepare=False,
        json_items=False,
    ):
        if total is None:
            # (Counted without the page's columns: a column may need a bind value of its own.)
            rows = statement.order_by(None).with_only_columns(1, maintain_column_froms=True)
            total = select(func.count()).select_from(rows.subquery()).scalar_subquery()
        rows = statement.limit(bindparam("page_limit")).offset(bindparam("page_offset"))
        if json_items:
            texts = func.array(rows.scalar_subquery())
            page = select(func.array_to_string(texts, literal_column("','")), total)
        else:
            page = rows.add_columns(total)
        self.json_items = json_items
        self.page = PreparedRead(page) if prepare else page
        self.total = PreparedRead(select(total)) if prepare else select(total)


def paginate(
    query: Select | PageQuery,
    page: int,
    per_page: int,
    total: ScalarSelect | None = None,
    item: Callable | None = None,
    params: dict | None = None,
) -> dict:
    """One page of ``query``'s rows (a ``select()``, or a ``PageQuery`` built in advance) with
    the totals and links clients need.

    By default the statement selects one ORM entity and the page holds those objects. With
    ``item``, the statement selects columns and ``item`` turns each row into a page item: the
    rows are read without the ORM, which is much cheaper for a read-only page. A ``json_items``
    query's page holds its items as JSON texts (all of them in one text, for
    ``page_response``). ``params`` are the values of the statement's own bind parameters.
    """
    if not isinstance(query, PageQuery):
        query = PageQuery(query, total)
    offset = (page - 1) * per_page
    rows = []
    if offset <= MAX_OFFSET:
        bounds = {**(params or {}), "page_limit": per_page, "page_offset": offset}
        if item is None and not query.json_items:
            rows = read(query.page, bounds).all()
        else:
            rows = read_rows(query.page, bounds)
    total_items = rows[0][-1] if rows else read_rows(query.total)[0][0]
    if query.json_items:
        items = [rows[0][0]] if rows and rows[0][0] else []
    elif item is None:
        items = [row[0] for row in rows]
    else:
        items = [item(row) for row in rows]
    total_pages = math.ceil(total_items / per_page) if total_items else 0
    return {
        "items": items,
        "meta": {
            "page": page,
            "per_page": per_page,
            "total_pages": total_pages,
            "total_items": total_items,
        },
        "links": page_links(page, per_page, total_pages),
    }


def page_response(schema: Schema, page: dict) -> Response:
    """The response to a page whose items are JSON texts already (written by PostgreSQL,
    ``app.schemas.sql_json``), as ``schema`` and the JSON provider would write it.

    The envelope is dumped by ``schema`` with no items and written by the provider, and the
    items' texts take the place of the empty list, unparsed. That is only done where the result
    is byte for byte what the provider would write (compact output, ``items`` its last key,
    ASCII items); anywhere else, the items are parsed and the provider writes the whole page.
    """
    provider = current_app.json
    envelope = schema.dump({**page, "items": []})
    response = provider.response(envelope)
    body = response.get_data(as_text=True)
    items = ",".join(page["items"])
    if body.endswith(EMPTY_ITEMS_END) and items.isascii() and "\x7f" not in items:
        response.set_data(f'{body.removesuffix(EMPTY_ITEMS_END)}"items":[{items}]}}\n')
        return response
    envelope["items"] = json.loads(f"[{items}]")
    return provider.response(envelope)


def page_links(page: int, per_page: int, total_pages: int) -> dict[str, str | None]:
    """Links to this page and its neighbours: this request's path and query with another page
    (other parameters are kept)."""
    current = request._get_current_object()
    others = urlencode(
        [
            (name, value)
            for name, values in current.args.lists()
            if name not in {"page", "per_page"}
            for value in values
        ]
    )
    prefix = f"{current.path}?page="
    suffix = f"&per_page={per_page}&{others}" if others else f"&per_page={per_page}"
    last_page = max(total_pages, 1)
    return {
        "self": f"{prefix}{page}{suffix}",
        "next": f"{prefix}{page + 1}{suffix}" if page < total_pages else None,
        "prev": f"{prefix}{min(page - 1, last_page)}{suffix}" if page > 1 else None,
        "first": f"{prefix}1{suffix}",
        "last": f"{prefix}{last_page}{suffix}",
    }
