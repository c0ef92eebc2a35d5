"""Bucketlists and items: representations, and what create and update accept."""

from flask import url_for
from marshmallow import Schema, fields, validate

from app.schemas.base import RequestSchema
from app.schemas.common import PaginationArgsSchema, UtcDateTime, page_schema
from app.schemas.fields import NOT_BLANK, QueryInteger, StrictBoolean


def name_field(**kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=200), NOT_BLANK], **kwargs)


def description_field(**kwargs) -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=2000), **kwargs)


def links_metadata(*names: str) -> dict:
    return {"type": "object", "properties": {name: {"type": "string"} for name in names}}


class BucketlistSchema(Schema):
    """A bucketlist as its owner (or an admin, or a member of its organization) sees it: owned
    by a user (``owner_id``) or by an organization (``organization_id``)."""

    id = fields.Integer(dump_only=True)
    owner_id = fields.Integer(dump_only=True, allow_none=True)
    organization_id = fields.Integer(dump_only=True, allow_none=True)
    name = fields.String(dump_only=True)
    description = fields.String(dump_only=True, allow_none=True)
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)
    links = fields.Method(
        "bucketlist_links",
        data_key="_links",
        metadata=links_metadata("self", "items", "owner", "organization"),
    )

    def bucketlist_links(self, bucketlist) -> dict[str, str]:
        links = {
            "self": url_for("bucketlists.BucketlistById", bucketlist_id=bucketlist.id),
            "items": url_for("bucketlists.Items", bucketlist_id=bucketlist.id),
        }
        if bucketlist.owner_id is not None:
            links["owner"] = url_for("users.UserById", user_id=bucketlist.owner_id)
        else:
            links["organization"] = url_for(
                "orgs.OrganizationById", org_id=bucketlist.organization_id
            )
        return links


class BucketlistItemSchema(Schema):
    """One item of a bucketlist."""

    id = fields.Integer(dump_only=True)
    bucketlist_id = fields.Integer(dump_only=True)
    title = fields.String(dump_only=True)
    done = fields.Boolean(dump_only=True)
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)
    links = fields.Method(
        "item_links", data_key="_links", metadata=links_metadata("self", "bucketlist")
    )

    def item_links(self, item) -> dict[str, str]:
        return {
            "self": url_for(
                "bucketlists.ItemById", bucketlist_id=item.bucketlist_id, item_id=item.id
            ),
            "bucketlist": url_for("bucketlists.BucketlistById", bucketlist_id=item.bucketlist_id),
        }


BucketlistPageSchema = page_schema(BucketlistSchema)
BucketlistItemPageSchema = page_schema(BucketlistItemSchema)


class BucketlistCreateSchema(RequestSchema):
    """A new bucketlist; its owner is whoever creates it, or with ``organization_id`` that
    organization (its members with bucketlists:write there may)."""

    name = name_field(required=True)
    description = description_field()
    organization_id = fields.Integer(validate=validate.Range(min=1))


class BucketlistUpdateSchema(RequestSchema):
    """The fields of a bucketlist that may change."""

    name = name_field()
    description = description_field()


class ItemCreateSchema(RequestSchema):
    """A new item."""

    title = name_field(required=True)
    done = StrictBoolean(load_default=False)


class ItemUpdateSchema(RequestSchema):
    """The fields of an item that may change."""

    title = name_field()
    done = StrictBoolean()


class BucketlistSearchArgsSchema(PaginationArgsSchema):
    """Filters of an organization's bucketlists."""

    q = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Part of the name, ignoring case."},
    )


class BucketlistListArgsSchema(BucketlistSearchArgsSchema):
    """Filters of the bucketlist list."""

    owner_id = QueryInteger(metadata={"description": "Admins only: one owner's lists."})
    organization_id = QueryInteger(
        metadata={"description": "An organization's lists (its members with bucketlists:read)."}
    )


class ItemListArgsSchema(PaginationArgsSchema):
    """Filters of a bucketlist's items."""

    done = fields.Boolean()
