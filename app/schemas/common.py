"""Schemas and fields shared by every resource: errors, pagination, timestamps."""

from datetime import UTC

from marshmallow import Schema, fields, validate

from app.schemas.base import RequestSchema
from app.schemas.dumper import CompiledDump, DumpedList

MAX_PER_PAGE = 100


class UtcDateTime(fields.DateTime):
    """ISO 8601 in UTC to the second, e.g. ``2026-11-22T10:00:00+00:00``."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        elif value.tzinfo is not UTC:
            # (The database hands out UTC already: a page of users skips the conversion.)
            value = value.astimezone(UTC)
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

    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class PageMetaSchema(CompiledDump, Schema):
    """Where a page sits in the whole list."""

    page = fields.Integer()
    per_page = fields.Integer()
    total_pages = fields.Integer()
    total_items = fields.Integer()


class PageLinksSchema(CompiledDump, Schema):
    """Links to the neighbouring pages; they keep the request's filters."""

    self = fields.String()
    next = fields.String(allow_none=True)
    prev = fields.String(allow_none=True)
    first = fields.String()
    last = fields.String()


def page_schema(item_schema: type[Schema]) -> type[Schema]:
    """The paginated envelope whose ``items`` are dumped with ``item_schema``."""
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    return type(
        name,
        (CompiledDump, Schema),
        {
            "items": DumpedList(item_schema),
            "meta": fields.Nested(PageMetaSchema, data_key="_meta"),
            "links": fields.Nested(PageLinksSchema, data_key="_links"),
            "__doc__": f"A page of {item_schema.__name__.removesuffix('Schema')} items.",
        },
    )
