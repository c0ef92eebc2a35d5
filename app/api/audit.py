"""The audit trail, for admins and operators."""

from flask_praetorian import roles_accepted
from sqlalchemy import select

from app.api.blueprint import Blueprint
from app.api.docs import query_args, requires
from app.models import STAFF_ROLES, AuditEvent
from app.pagination import paginate
from app.schemas.audit import AuditEventPageSchema, AuditListArgsSchema

blp = Blueprint("audit", __name__, url_prefix="/audit-events", description="Audit trail.")

FILTERS = ("actor_id", "target_id", "action")


@blp.route("")
@roles_accepted(*STAFF_ROLES)
@requires(blp, *STAFF_ROLES)
@query_args(blp, AuditListArgsSchema)
@blp.response(200, AuditEventPageSchema)
def list_audit_events(filters):
    """List account changes, newest first, a page at a time."""
    statement = select(AuditEvent).order_by(AuditEvent.id.desc())
    for name in FILTERS:
        if name in filters:
            statement = statement.where(getattr(AuditEvent, name) == filters[name])
    return paginate(statement, filters["page"], filters["per_page"])
