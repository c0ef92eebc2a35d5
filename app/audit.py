"""The audit trail: every change to an account is recorded in the transaction that makes it.

One SQLAlchemy ``after_flush`` listener looks at the users the flush wrote and inserts the events,
on the same connection, before the transaction commits. So a rolled-back change leaves no event,
a committed change always has one, and no view can forget to write it. The trail is also the
outbox of account events sent to webhooks (``app.events``).

An account's deletion, however it happens, takes its personal data out of the trail in the same
flush (``forget_personal_data``): the events keep its id, never its username, e-mail address or
the names it gave things.
"""

from flask import g, has_request_context
from sqlalchemy import bindparam, event, insert, inspect, or_, select, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import AuditEvent, User

# How ``set_password`` tells the trail why a password changed (a change or a reset).
PASSWORD_ACTION_ATTRIBUTE = "_audit_password_action"  # noqa: S105 (an attribute name)
# Fields of an event's changes that hold the personal data of the account it is about: its
# username and address, and the names it gave its passkeys and tokens.
PERSONAL_FIELDS = frozenset({"username", "email", "name", "passkey", "token"})


def _roles(value: str | None) -> list[str] | None:
    return None if value is None else [role for role in value.split(",") if role]


def _iso(value):
    return None if value is None else value.isoformat()


def _old_and_new(user: User, field: str):
    """The field's value before the flush and after it (the same when untouched)."""
    history = inspect(user).attrs[field].history
    new = history.added[0] if history.added else getattr(user, field)
    old = history.deleted[0] if history.deleted else new
    return old, new


def events_for_user(user: User, created: bool, deleted: bool) -> list[tuple[str, dict]]:
    """The (action, changes) pairs that describe what this flush did to ``user``."""
    if created:
        return [
            (
                "user.created",
                {
                    "username": [None, user.username],
                    "email": [None, user.email],
                    "roles": [None, _roles(user.roles)],
                    "is_active": [None, user.is_active],
                },
            )
        ]
    if deleted:
        return [("user.deleted", {})]
    found = []
    old_roles, new_roles = _old_and_new(user, "roles")
    if old_roles != new_roles:
        found.append(("user.roles_changed", {"roles": [_roles(old_roles), _roles(new_roles)]}))
    old_active, new_active = _old_and_new(user, "is_active")
    if old_active != new_active:
        action = "user.activated" if new_active else "user.deactivated"
        found.append((action, {"is_active": [old_active, new_active]}))
    old_email, new_email = _old_and_new(user, "email")
    if old_email != new_email:
        found.append(("user.email_changed", {"email": [old_email, new_email]}))
    old_changed_at, new_changed_at = _old_and_new(user, "password_changed_at")
    if old_changed_at != new_changed_at:
        action = getattr(user, PASSWORD_ACTION_ATTRIBUTE, "user.password_changed")
        found.append(
            (action, {"password_changed_at": [_iso(old_changed_at), _iso(new_changed_at)]})
        )
    old_lock, new_lock = _old_and_new(user, "locked_until")
    if new_lock is not None and old_lock != new_lock:
        found.append(("user.locked", {"locked_until": [_iso(old_lock), _iso(new_lock)]}))
    return found


def _actor_and_request() -> tuple[int | None, str | None, str | None]:
    """Who acts, the request id the response carries (maybe the client's), the server's own."""
    if not has_request_context():
        return None, None, None
    return g.get("authenticated_user_id"), g.get("request_id"), g.get("server_request_id")


def record_event(
    action: str, target_id: int | None, changes: dict, organization_id: int | None = None
) -> None:
    """Add an event that is not a change of a user's columns (a session ended by theft, an
    admin ending a user's sessions, a change in an organization, kept in its audit log too) to
    the current transaction."""
    actor_id, request_id, server_request_id = _actor_and_request()
    db.session.add(
        AuditEvent(
            actor_id=actor_id,
            action=action,
            target_id=target_id,
            changes=changes,
            request_id=request_id,
            server_request_id=server_request_id,
            organization_id=organization_id,
        )
    )


def record_user_changes(session: Session, flush_context) -> None:
    """after_flush: insert one audit event per change the flush made to a user."""
    rows = []
    actor_id, request_id, server_request_id = None, None, None
    for user, created, deleted in _touched_users(session):
        for action, changes in events_for_user(user, created, deleted):
            if not rows:
                actor_id, request_id, server_request_id = _actor_and_request()
            rows.append(
                {
                    "actor_id": actor_id,
                    "action": action,
                    "target_id": user.user_id,
                    "changes": changes,
                    "request_id": request_id,
                    "server_request_id": server_request_id,
                }
            )
    if rows:
        session.connection().execute(insert(AuditEvent), rows)
    for user in session.deleted:
        if isinstance(user, User):
            forget_personal_data(session, user.user_id, (user.username, user.email))


def without_personal_data(changes: dict, names=(), personal_fields: bool = True) -> dict:
    """``changes`` without personal data: with ``personal_fields``, every value of the fields
    that hold it; and any text that contains one of ``names`` (a username, an address), found
    ignoring case, at any depth. What is left out becomes null."""
    lowered = [name.casefold() for name in names if name]

    def kept(value):
        if isinstance(value, str):
            return None if any(name in value.casefold() for name in lowered) else value
        if isinstance(value, list):
            return [kept(item) for item in value]
        if isinstance(value, dict):
            return {key: kept(item) for key, item in value.items()}
        return value

    return {
        field: [None] * len(values)
        if personal_fields and field in PERSONAL_FIELDS and isinstance(values, list)
        else kept(values)
        for field, values in changes.items()
    }


def forget_personal_data(session: Session, user_id: int, names) -> int:
    """Take the personal data of the account ``user_id`` (being deleted) out of the events it
    did or underwent, the ids kept; how many events changed."""
    table = AuditEvent.__table__
    connection = session.connection()
    events = connection.execute(
        select(table.c.id, table.c.target_id, table.c.changes, table.c.request_id).where(
            or_(table.c.actor_id == user_id, table.c.target_id == user_id)
        )
    ).all()
    lowered = [name.casefold() for name in names if name]
    rewritten = []
    for event_row in events:
        changes = without_personal_data(
            event_row.changes or {}, names, personal_fields=event_row.target_id == user_id
        )
        request_id = event_row.request_id
        if request_id and any(name in request_id.casefold() for name in lowered):
            request_id = None
        if changes != event_row.changes or request_id != event_row.request_id:
            rewritten.append(
                {"event_id": event_row.id, "new_changes": changes, "new_request_id": request_id}
            )
    if rewritten:
        connection.execute(
            update(table)
            .where(table.c.id == bindparam("event_id"))
            .values(changes=bindparam("new_changes"), request_id=bindparam("new_request_id")),
            rewritten,
        )
    return len(rewritten)


def _touched_users(session: Session):
    for user in session.new:
        if isinstance(user, User):
            yield user, True, False
    for user in session.dirty:
        if isinstance(user, User) and session.is_modified(user):
            yield user, False, False
    for user in session.deleted:
        if isinstance(user, User):
            yield user, False, True


def install_audit_trail() -> None:
    """Listen to every session's flushes (once, however many apps are created)."""
    if not event.contains(Session, "after_flush", record_user_changes):
        event.listen(Session, "after_flush", record_user_changes)
