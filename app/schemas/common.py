"""Schemas and fields shared by every resource: errors, pagination, timestamps."""

from datetime import UTC

from marshmallow import Schema, fields, validate

from app.schemas.base import RequestSchema
from app.schemas.fields import QueryInteger

MAX_PER_PAGE = 100
MAX_CURSOR_LENGTH = 512


class UtcDateTime(fields.DateTime):
    """ISO 8601 in UTC to the second, e.g. ``2026-11-22T10:00:00+00:00``."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.isoformat(timespec="seconds")


class ErrorSchema(Schema):
    """The error envelope every 4xx and 5xx response carries."""

    error = fields.String(required=True, metadata={"description": "Stable machine code."})
    message = fields.String(required=True, metadata={"description": "Human readable sentence."})
    status = fields.Integer(required=True, metadata={"description": "The HTTP status."})
    details = fields.Dict(metadata={"description": "Field-specific messages, when there are any."})
    request_id = fields.String(required=True, metadata={"description": "The X-Request-ID."})


class PaginationArgsSchema(RequestSchema):
    """Query parameters of every list."""

    page = QueryInteger(load_default=1, validate=validate.Range(min=1))
    per_page = QueryInteger(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))
    cursor = fields.String(
        validate=validate.Length(min=1, max=MAX_CURSOR_LENGTH),
        metadata={
            "description": "Opaque: set by the next, prev and last links, so that following them "
            "costs the same at any depth. It only finds the page that page names faster: a "
            "cursor for another page or list is ignored."
        },
    )


class PageMetaSchema(Schema):
    """Where a page sits in the whole list."""

    page = fields.Integer()
    per_page = fields.Integer()
    total_pages = fields.Integer()
    total_items = fields.Integer()
    total_is_estimate = fields.Boolean(
        metadata={
            "description": "Present (true) when total_items is PostgreSQL's estimate: only for a "
            "list filtered by free text that matches more than 10,000 rows."
        }
    )


class PageLinksSchema(Schema):
    """Links to the neighbouring pages; they keep the request's filters."""

    self = fields.String()
    next = fields.String(allow_none=True)
    prev = fields.String(allow_none=True)
    first = fields.String()
    last = fields.String()


class Dumped(list):
    """Items already dumped by their schema (``app.pagination.paginate`` dumps a page's)."""


class DumpedList(fields.List):
    """A page's items: passed on as they are when ``Dumped`` already; documented as a list of
    the item schema."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, Dumped):
            return list(value)
        return super()._serialize(value, attr, obj, **kwargs)


def page_schema(item_schema: type[Schema]) -> type[Schema]:
    """The paginated envelope whose ``items`` are dumped with ``item_schema``."""
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    return type(
        name,
        (Schema,),
        {
            "items": DumpedList(fields.Nested(item_schema)),
            "meta": fields.Nested(PageMetaSchema, data_key="_meta"),
            "links": fields.Nested(PageLinksSchema, data_key="_links"),
            "__doc__": f"A page of {item_schema.__name__.removesuffix('Schema')} items.",
        },
    )
