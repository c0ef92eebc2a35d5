"""Turn a ``select()`` into the contract's page envelope (``items``, ``_meta``, ``_links``).

    return paginate(statement, filters, Order((Thing.id,)), ThingSchema)

The pieces, each a module of its own: how the rows of a page are walked (``walk``: by number,
from the nearer end, after or before a cursor, the last page), where a linked page starts
(``cursor``), how the total is known (``totals``: counted, a counter, an estimate), how the
items are dumped (``items``) and the links built (``links``: from the arguments the list's
schema loaded, never from anything else in the query string). The limit on pages asked for by
number far into a list is an access rule, next to the others (``app.api.blueprint``).
"""

from marshmallow import Schema
from sqlalchemy import ScalarSelect, Select

from app.models.order import Order
from app.pagination import cursor as cursors
from app.pagination.items import PageItems
from app.pagination.links import PageLinks
from app.pagination.totals import Totals, count_of
from app.pagination.walk import Found, PageQuery, find

__all__ = ["Order", "count_of", "paginate"]


def paginate(
    statement: Select,
    args: dict,
    order: Order,
    schema: type[Schema],
    total: ScalarSelect | None = None,
    exact_up_to: int | None = None,
) -> dict:
    """One page of ``statement``'s objects (it selects one ORM entity) in ``order``, dumped with
    ``schema``, with the totals and links clients need. ``args`` are the list's loaded query
    arguments (``page``, ``per_page``, ``cursor``, filters). ``total`` is SQL counting the list
    when there is a cheaper way than counting ``statement``'s rows; with ``exact_up_to``, it
    counts no further than that, and a larger list reports PostgreSQL's estimate."""
    page, per_page = args["page"], args["per_page"]
    entity = statement.column_descriptions[0]["entity"]
    items = PageItems.of(schema, entity)
    total = count_of(statement, exact_up_to) if total is None else total
    query = PageQuery(
        statement.with_only_columns(items.column, *order.keys, total),
        entity,
        order,
        total,
        items.params(),
        per_page,
    )
    cursor = cursors.decode(args.get("cursor"), order, page)
    found = find(query, page, cursor, exact=exact_up_to is None)
    totals = Totals.of(counted_total(query, found), per_page, statement, exact_up_to)
    return {
        "items": items.dump(row[0] for row in found.rows),
        "meta": totals.meta(page, per_page),
        "links": page_links(
            PageLinks(order.fingerprint, per_page, args), page, cursor, found, totals
        ),
    }


def counted_total(query: PageQuery, found: Found) -> int:
    """The total the walk read, or the one every row carries, or (no row) a count."""
    if found.total is not None:
        return found.total
    return found.rows[0][-1] if found.rows else query.count()


def page_links(links: PageLinks, page: int, cursor, found: Found, totals: Totals) -> dict:
    """``self``, ``first``, ``last``, and ``next`` and ``prev`` with the cursors that find them
    from this page's first and last rows."""
    last_page = max(totals.pages, 1)
    more = found.more if found.more is not None else page < totals.pages
    rows = found.rows
    if page <= 1:
        previous = None
    elif page == 2:
        previous = links.to(1)
    elif not rows:
        previous = links.last(last_page)  # past the end: back to the last page there is
    else:
        previous = links.to(page - 1, links.cursor(page - 1, sort_key(rows[0]), before=True))
    following = (
        links.to(page + 1, links.cursor(page + 1, sort_key(rows[-1]))) if more and rows else None
    )
    return {
        "self": links.to(page, cursor),
        "first": links.to(1),
        "last": links.last(last_page),
        "next": following,
        "prev": previous,
    }


def sort_key(row) -> list:
    """A page row's sort key (between the item and the total)."""
    return list(row[1:-1])
