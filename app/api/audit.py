"""The audit trail, for admins and operators."""

from sqlalchemy import select

from app.access.permissions import AUDIT_READ
from app.api.blueprint import Blueprint
from app.models import AuditEvent
from app.pagination import Order, paginate
from app.schemas.audit import AuditEventPageSchema, AuditEventSchema, AuditListArgsSchema

blp = Blueprint(
    "audit",
    __name__,
    url_prefix="/audit-events",
    description="Audit trail.",
    links={"audit_events": "audit.list_audit_events"},
)

FILTERS = ("actor_id", "target_id", "action")
NEWEST_FIRST = Order((AuditEvent.id,), descending=True)


@blp.route("")
@blp.auth_required(AUDIT_READ)
@blp.list_arguments(AuditListArgsSchema)
@blp.response(200, AuditEventPageSchema)
def list_audit_events(filters):
    """List account changes, newest first, a page at a time."""
    statement = select(AuditEvent)
    for name in FILTERS:
        if name in filters:
            statement = statement.where(getattr(AuditEvent, name) == filters[name])
    return paginate(statement, filters, NEWEST_FIRST, AuditEventSchema)
