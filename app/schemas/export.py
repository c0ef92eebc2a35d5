"""The export of an account's data (``GET /users/me/export``): one document, each section
dumped with the schema its own routes use, so the export shows what the API shows and nothing
else (no secret, no digest)."""

from marshmallow import Schema, fields

from app.schemas.audit import AuditEventSchema
from app.schemas.bucketlist import BucketlistItemSchema, BucketlistSchema
from app.schemas.common import UtcDateTime
from app.schemas.identity import IdentitySchema
from app.schemas.organization import MembershipSchema
from app.schemas.passkey import PasskeySchema
from app.schemas.personal_token import PersonalTokenSchema
from app.schemas.session import SessionSchema
from app.schemas.user import SelfUserSchema

FORMAT = "gatehouse-export/1"


class ExportedBucketlistSchema(BucketlistSchema):
    """A bucketlist with its items."""

    items = fields.List(fields.Nested(BucketlistItemSchema))


class ExportSchema(Schema):
    """Everything kept about your account. Other people appear by id only."""

    format = fields.String(metadata={"example": FORMAT})
    exported_at = UtcDateTime()
    profile = fields.Nested(SelfUserSchema)
    sessions = fields.List(fields.Nested(SessionSchema))
    personal_tokens = fields.List(fields.Nested(PersonalTokenSchema))
    passkeys = fields.List(fields.Nested(PasskeySchema))
    identities = fields.List(fields.Nested(IdentitySchema))
    memberships = fields.List(
        fields.Nested(MembershipSchema),
        metadata={"description": "The organizations you belong to, and your roles there."},
    )
    bucketlists = fields.List(fields.Nested(ExportedBucketlistSchema))
    audit_events = fields.List(
        fields.Nested(AuditEventSchema),
        metadata={"description": "The events you did or underwent, oldest first."},
    )
