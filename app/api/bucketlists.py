"""Bucketlists and their items, each visible only to its owner and to admins.

The resource to copy when adding your own: the ownership rule comes from ``@owned`` and
``visible_to_current_user`` (``app/ownership.py``), validation from the schemas in
``app/schemas/bucketlist.py``, and each view only loads, acts and returns.
"""

from flask import url_for
from flask.views import MethodView
from sqlalchemy import func, select

from app.access.ownership import owned, owner_of_new, visible_to_current_user
from app.access.permissions import BUCKETLISTS_READ, BUCKETLISTS_WRITE
from app.api.blueprint import Blueprint
from app.errors import ApiError
from app.extensions import db
from app.models import Bucketlist, BucketlistItem
from app.pagination import Order, paginate
from app.schemas.bucketlist import (
    BucketlistCreateSchema,
    BucketlistItemPageSchema,
    BucketlistItemSchema,
    BucketlistListArgsSchema,
    BucketlistPageSchema,
    BucketlistSchema,
    BucketlistUpdateSchema,
    ItemCreateSchema,
    ItemListArgsSchema,
    ItemUpdateSchema,
)

blp = Blueprint(
    "bucketlists",
    __name__,
    url_prefix="/bucketlists",
    description="Bucketlists and items.",
    links={"bucketlists": "bucketlists.Bucketlists"},
)


BY_ID = Order((Bucketlist.id,))
ITEMS_BY_ID = Order((BucketlistItem.id,))


def apply(changes: dict, target) -> None:
    for field, value in changes.items():
        setattr(target, field, value)


def item_of(bucketlist: Bucketlist, item_id: int) -> BucketlistItem:
    """The item with that id on this bucketlist; 404 if it is on another one or nowhere."""
    item = db.session.get(BucketlistItem, item_id)
    if item is None or item.bucketlist_id != bucketlist.id:
        raise ApiError(404, "not_found", "No item of this bucketlist has that id.")
    return item


def listing(filters: dict, owner_id: int | None, organization_id: int | None):
    """A page of the bucketlists the caller may see, by owner or organization, ``q`` in the
    name."""
    statement = visible_to_current_user(Bucketlist, owner_id, organization_id)
    if "q" in filters:
        name = func.lower(Bucketlist.name)
        statement = statement.where(name.contains(filters["q"].lower(), autoescape=True))
    return paginate(statement, filters, BY_ID, BucketlistSchema)


@blp.route("")
class Bucketlists(MethodView):
    @blp.auth_required(BUCKETLISTS_READ)
    @blp.list_arguments(BucketlistListArgsSchema)
    @blp.response(200, BucketlistPageSchema)
    def get(self, filters):
        """List your bucketlists (admins: everyone's, or one owner's with ``owner_id``; an
        organization's with ``organization_id``)."""
        return listing(filters, filters.get("owner_id"), filters.get("organization_id"))

    @blp.auth_required(BUCKETLISTS_WRITE)
    @blp.arguments(BucketlistCreateSchema)
    @blp.response(201, BucketlistSchema)
    def post(self, values):
        """Create a bucketlist owned by you, or by one of your organizations."""
        bucketlist = Bucketlist(
            **owner_of_new(Bucketlist, values.pop("organization_id", None)), **values
        )
        db.session.add(bucketlist)
        db.session.commit()
        location = url_for("bucketlists.BucketlistById", bucketlist_id=bucketlist.id)
        return bucketlist, 201, {"Location": location}


@blp.route("/<int:bucketlist_id>")
class BucketlistById(MethodView):
    @blp.auth_required(BUCKETLISTS_READ)
    @owned(Bucketlist, "bucketlist_id", "bucketlist")
    @blp.response(200, BucketlistSchema)
    def get(self, bucketlist):
        """Show a bucketlist."""
        return bucketlist

    @blp.auth_required(BUCKETLISTS_WRITE)
    @owned(Bucketlist, "bucketlist_id", "bucketlist")
    @blp.arguments(BucketlistUpdateSchema)
    @blp.response(200, BucketlistSchema)
    def patch(self, changes, bucketlist):
        """Rename a bucketlist or change its description."""
        apply(changes, bucketlist)
        db.session.commit()
        return bucketlist

    @blp.auth_required(BUCKETLISTS_WRITE)
    @owned(Bucketlist, "bucketlist_id", "bucketlist")
    @blp.response(204)
    def delete(self, bucketlist):
        """Delete a bucketlist and its items."""
        db.session.delete(bucketlist)
        db.session.commit()


@blp.route("/<int:bucketlist_id>/items")
class Items(MethodView):
    @blp.auth_required(BUCKETLISTS_READ)
    @owned(Bucketlist, "bucketlist_id", "bucketlist")
    @blp.list_arguments(ItemListArgsSchema)
    @blp.response(200, BucketlistItemPageSchema)
    def get(self, filters, bucketlist):
        """List a bucketlist's items, optionally only the ``done`` (or not done) ones."""
        statement = select(BucketlistItem).where(BucketlistItem.bucketlist_id == bucketlist.id)
        if "done" in filters:
            statement = statement.where(BucketlistItem.done == filters["done"])
        return paginate(statement, filters, ITEMS_BY_ID, BucketlistItemSchema)

    @blp.auth_required(BUCKETLISTS_WRITE)
    @owned(Bucketlist, "bucketlist_id", "bucketlist")
    @blp.arguments(ItemCreateSchema)
    @blp.response(201, BucketlistItemSchema)
    def post(self, values, bucketlist):
        """Add an item to a bucketlist."""
        item = BucketlistItem(bucketlist_id=bucketlist.id, **values)
        db.session.add(item)
        db.session.commit()
        location = url_for("bucketlists.ItemById", bucketlist_id=bucketlist.id, item_id=item.id)
        return item, 201, {"Location": location}


@blp.route("/<int:bucketlist_id>/items/<int:item_id>")
class ItemById(MethodView):
    @blp.auth_required(BUCKETLISTS_WRITE)
    @owned(Bucketlist, "bucketlist_id", "bucketlist")
    @blp.arguments(ItemUpdateSchema)
    @blp.response(200, BucketlistItemSchema)
    def patch(self, changes, bucketlist, item_id: int):
        """Change an item's title, or mark it done or not done."""
        item = item_of(bucketlist, item_id)
        apply(changes, item)
        db.session.commit()
        return item

    @blp.auth_required(BUCKETLISTS_WRITE)
    @owned(Bucketlist, "bucketlist_id", "bucketlist")
    @blp.response(204)
    def delete(self, bucketlist, item_id: int):
        """Remove an item from a bucketlist."""
        db.session.delete(item_of(bucketlist, item_id))
        db.session.commit()
