"""The webhook event types, which audit actions each one is sent for, and what its body holds.

A body is ``{id, type, timestamp, data}``: ``id`` names the audit event (``evt_<id>``, also the
``webhook-id`` header, the same on every retry), ``timestamp`` is when it happened, and ``data``
says what happened to whom, by id and by the fields that changed. It is built from the audit
row each time it is sent, so an account's deletion, which takes its personal data out of its
audit events, takes it out of the events still to be sent too. ``data`` never holds a secret, a
hash or a token: the audit trail never records one, and fields whose names say they could be one
are left out all the same (``NEVER_SENT``).
"""

import json
import re
from datetime import UTC

from app.models import AuditEvent

TEST = "webhook.test"

# Audit action -> webhook event type: the one table of which changes are sent.
TYPE_OF_ACTION = {
    "user.created": "user.created",
    "user.activated": "user.updated",
    "user.deactivated": "user.updated",
    "user.email_changed": "user.updated",
    "user.deleted": "user.deleted",
    "user.roles_changed": "user.roles_changed",
    "user.password_changed": "user.password_changed",
    "user.password_reset": "user.password_changed",
    "user.mfa_enabled": "user.mfa_changed",
    "user.mfa_disabled": "user.mfa_changed",
    "user.mfa_reset": "user.mfa_changed",
    "user.sessions_ended": "session.revoked_all",
    "role.created": "role.created",
    "role.updated": "role.updated",
    "role.deleted": "role.deleted",
    "org.created": "org.created",
    "org.updated": "org.updated",
    "org.deleted": "org.deleted",
    "membership.added": "membership.added",
    "membership.updated": "membership.updated",
    "membership.removed": "membership.removed",
    "invitation.created": "invitation.created",
    "invitation.revoked": "invitation.revoked",
    "invitation.accepted": "invitation.accepted",
    "invitation.declined": "invitation.declined",
    "org.staff_access": "org.staff_access",
    TEST: TEST,
}
# Families whose every action is an event of the same name (the organizations' events, whatever
# actions they come to have).
PASSED_ON_FAMILIES = ("org", "membership", "invitation")
EVENT_TYPES = tuple(sorted(set(TYPE_OF_ACTION.values()) - {TEST}))
FAMILIES = tuple(sorted({name.split(".")[0] for name in EVENT_TYPES}))
# What an endpoint may subscribe to: a type, or a family's every type (``role.*``).
SUBSCRIBABLE = (*EVENT_TYPES, *(f"{family}.*" for family in FAMILIES))
# Fields of an event's changes never sent, whatever the event.
NEVER_SENT = re.compile(r"password|hash|digest|secret|token|code|key", re.IGNORECASE)


def type_of(action: str) -> str | None:
    """The webhook event type of an audit action (None: not sent to webhooks)."""
    if action in TYPE_OF_ACTION:
        return TYPE_OF_ACTION[action]
    family = action.split(".")[0]
    return action if family in PASSED_ON_FAMILIES else None


def subscribed(events: list[str], event_type: str) -> bool:
    """Whether an endpoint subscribed to ``events`` wants ``event_type``."""
    return event_type in events or f"{event_type.split('.')[0]}.*" in events


def event_id(audit_event_id: int) -> str:
    """The id of the event an audit event is sent as (the ``webhook-id`` header too)."""
    return f"evt_{audit_event_id}"


def data_of(event: AuditEvent, event_type: str) -> dict:
    """What the event says: whose it is and, but for a deletion (the id only), what changed."""
    if event_type == "user.deleted":
        return {"id": event.target_id}
    if event_type == TEST:
        return {"webhook_id": (event.changes.get("webhook") or [None, None])[1]}
    changes = {
        field: values for field, values in event.changes.items() if not NEVER_SENT.search(field)
    }
    if event_type.startswith(("user.", "session.")):
        return {"id": event.target_id, "action": event.action, "changes": changes}
    data = {
        "actor_id": event.actor_id,
        "target_id": event.target_id,
        "action": event.action,
        "changes": changes,
    }
    if event.organization_id is not None:
        data["organization_id"] = event.organization_id
    return data


def body_of(event: AuditEvent, event_type: str) -> str:
    """The JSON body sent for ``event`` (the same bytes on every retry, unless the account
    it is about was deleted meanwhile)."""
    return json.dumps(
        {
            "id": event_id(event.id),
            "type": event_type,
            "timestamp": event.at.astimezone(UTC).isoformat(timespec="seconds"),
            "data": data_of(event, event_type),
        },
        separators=(",", ":"),
        sort_keys=True,
    )
