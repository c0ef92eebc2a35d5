"""Sessions as their owner and staff see them."""

from marshmallow import Schema, fields

from app.access.sessions import current_session_id
from app.schemas.common import PaginationArgsSchema, UtcDateTime, page_schema


class SessionSchema(Schema):
    """A live session: where and when it signed in, when it was last refreshed, when it ends
    unless refreshed, and whether it is the one of the token used."""

    id = fields.Integer(dump_only=True)
    created_at = UtcDateTime(dump_only=True)
    last_used_at = UtcDateTime(dump_only=True)
    expires_at = UtcDateTime(attribute="ends_at", dump_only=True)
    user_agent = fields.String(dump_only=True, allow_none=True)
    ip_address = fields.String(dump_only=True, allow_none=True)
    current = fields.Method("is_current", metadata={"type": "boolean"})

    def is_current(self, session) -> bool:
        return session.id == current_session_id()


SessionPageSchema = page_schema(SessionSchema)


class SessionListArgsSchema(PaginationArgsSchema):
    """Pages of sessions, the most recently used first."""
