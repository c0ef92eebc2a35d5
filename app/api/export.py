"""Your data: everything Gatehouse keeps about your account, as one JSON document, streamed
(a right of access and to portability, GDPR articles 15 and 20). Deleting your account is
``DELETE /users/me`` (``app.api.users``)."""

import json
from collections.abc import Iterator

from flask import Response, stream_with_context

from app.accounts import export
from app.api.blueprint import Blueprint
from app.guard import current_user
from app.models.columns import utcnow
from app.schemas.export import FORMAT, ExportSchema

blp = Blueprint("export", __name__, url_prefix="/users", description="Your data.")

SCHEMA = ExportSchema()
HEAD = ExportSchema(only=("format", "exported_at", "profile"))
# Written out at most this many characters at a time.
CHUNK = 64 * 1024


def item_schema(section: str):
    return SCHEMA.fields[section].inner.schema


BUCKETLIST = type(item_schema("bucketlists"))(exclude=("items",))
BUCKETLIST_ITEMS = item_schema("bucketlists").fields["items"].inner.schema


def bucketlist_dump(entry) -> dict:
    """A bucketlist with its items (read apart: the model never loads them by itself)."""
    bucketlist, items = entry
    return {**BUCKETLIST.dump(bucketlist), "items": BUCKETLIST_ITEMS.dump(items, many=True)}


# Each list section: how its entries are read, and how each is dumped.
SECTIONS = (
    ("sessions", export.sessions, None),
    ("personal_tokens", export.personal_tokens, None),
    ("passkeys", export.passkeys, None),
    ("identities", export.identities, None),
    ("memberships", export.memberships, None),
    ("bucketlists", export.bucketlists, bucketlist_dump),
    ("audit_events", export.audit_events, None),
)


def document(user) -> Iterator[str]:
    """The export of ``user``'s data, a piece at a time."""
    head = HEAD.dump({"format": FORMAT, "exported_at": utcnow(), "profile": user})
    buffer = [json.dumps(head)[:-1]]
    size = 0
    for section, read, dump in SECTIONS:
        dump = dump or item_schema(section).dump
        buffer.append(f', "{section}": [')
        for number, entry in enumerate(read(user)):
            text = ("," if number else "") + json.dumps(dump(entry))
            buffer.append(text)
            size += len(text)
            if size >= CHUNK:
                yield "".join(buffer)
                buffer, size = [], 0
        buffer.append("]")
    buffer.append("}")
    yield "".join(buffer)


@blp.route("/me/export")
@blp.fresh_auth_required
@blp.response(200, ExportSchema)
def export_my_data():
    """Download everything kept about your account: one JSON document, streamed."""
    user = current_user()
    return Response(
        stream_with_context(document(user)),
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="gatehouse-export-{user.user_id}.json"'
        },
    )
