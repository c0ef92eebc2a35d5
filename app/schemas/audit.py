"""Audit events as the API shows them, and the filters of their list."""

from marshmallow import Schema, fields, validate

from app.schemas.common import PaginationArgsSchema, UtcDateTime, page_schema
from app.schemas.fields import QueryInteger

AUDIT_ACTIONS = (
    "user.created",
    "user.deleted",
    "user.roles_changed",
    "user.activated",
    "user.deactivated",
    "user.email_changed",
    "user.password_changed",
    "user.password_reset",
    "user.locked",
    "user.sessions_ended",
    "user.mfa_enabled",
    "user.mfa_disabled",
    "user.mfa_reset",
    "session.reuse_detected",
    "token.created",
    "token.revoked",
    "passkey.added",
    "passkey.removed",
    "identity.linked",
    "identity.removed",
    "role.created",
    "role.updated",
    "role.deleted",
    "org.created",
    "org.updated",
    "org.deleted",
    "org.staff_access",
    "membership.added",
    "membership.updated",
    "membership.removed",
    "invitation.created",
    "invitation.revoked",
    "invitation.accepted",
    "invitation.declined",
    "webhook.created",
    "webhook.updated",
    "webhook.deleted",
    "webhook.secret_rotated",
    "webhook.disabled",
    "webhook.test",
)


class AuditEventSchema(Schema):
    """One change to an account: ``changes`` maps each field to ``[old, new]``."""

    id = fields.Integer(dump_only=True)
    at = UtcDateTime(dump_only=True)
    actor_id = fields.Integer(dump_only=True, allow_none=True)
    action = fields.String(dump_only=True, metadata={"enum": list(AUDIT_ACTIONS)})
    target_id = fields.Integer(dump_only=True, allow_none=True)
    organization_id = fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={"description": "The organization whose log holds it, if any."},
    )
    changes = fields.Dict(
        keys=fields.String(), values=fields.List(fields.Raw(allow_none=True)), dump_only=True
    )
    request_id = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "The response's X-Request-ID (the client's, if it sent one)."},
    )
    server_request_id = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "The server's own id of the request, always unique."},
    )


AuditEventPageSchema = page_schema(AuditEventSchema)


class AuditListArgsSchema(PaginationArgsSchema):
    """Filters of the audit trail (newest first)."""

    actor_id = QueryInteger()
    target_id = QueryInteger()
    action = fields.String(validate=validate.OneOf(AUDIT_ACTIONS))
