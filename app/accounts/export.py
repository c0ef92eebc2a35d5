"""Everything kept about an account, for its holder to take away (``GET /users/me/export``):
its profile, sessions, personal tokens, passkeys, identities at providers, memberships of
organizations, bucketlists with their items, and the audit events it did or underwent. Never a
secret or a digest (the views that show them leave them out), and other people by id only: the
personal data of the other account an event is about is left out of its changes
(``app.audit.without_personal_data``).

Each section is read as it is written out, the long ones in batches, so that the document is
streamed whatever its size."""

from collections.abc import Iterator
from types import SimpleNamespace

from sqlalchemy import or_, select

from app.audit import without_personal_data
from app.extensions import db
from app.models import (
    AuditEvent,
    Bucketlist,
    BucketlistItem,
    Identity,
    Membership,
    Passkey,
    PersonalToken,
    User,
    UserSession,
)

BATCH = 500


def in_batches(statement, key) -> Iterator:
    """The rows of ``statement`` in ``key`` order, ``BATCH`` at a time."""
    after = None
    while True:
        page = statement if after is None else statement.where(key > after)
        rows = db.session.scalars(page.order_by(key).limit(BATCH)).all()
        yield from rows
        if len(rows) < BATCH:
            return
        after = getattr(rows[-1], key.key)


def sessions(user: User) -> Iterator[UserSession]:
    statement = select(UserSession).where(UserSession.user_id == user.user_id)
    return in_batches(statement, UserSession.id)


def personal_tokens(user: User) -> Iterator[PersonalToken]:
    statement = select(PersonalToken).where(PersonalToken.user_id == user.user_id)
    return in_batches(statement, PersonalToken.id)


def passkeys(user: User) -> Iterator[Passkey]:
    return in_batches(select(Passkey).where(Passkey.user_id == user.user_id), Passkey.id)


def identities(user: User) -> Iterator[Identity]:
    return in_batches(select(Identity).where(Identity.user_id == user.user_id), Identity.id)


def memberships(user: User) -> Iterator[Membership]:
    statement = select(Membership).where(Membership.user_id == user.user_id)
    return in_batches(statement, Membership.id)


def bucketlists(user: User) -> Iterator[tuple[Bucketlist, list[BucketlistItem]]]:
    """Each bucketlist with its items."""
    statement = select(Bucketlist).where(Bucketlist.owner_id == user.user_id)
    for bucketlist in in_batches(statement, Bucketlist.id):
        items = select(BucketlistItem).where(BucketlistItem.bucketlist_id == bucketlist.id)
        yield bucketlist, list(in_batches(items, BucketlistItem.id))


def audit_events(user: User) -> Iterator[SimpleNamespace]:
    """The events ``user`` did or underwent, oldest first; in those about someone else, that
    account's personal data left out."""
    statement = select(AuditEvent).where(
        or_(AuditEvent.actor_id == user.user_id, AuditEvent.target_id == user.user_id)
    )
    for event in in_batches(statement, AuditEvent.id):
        theirs = event.target_id is not None and event.target_id != user.user_id
        changes = without_personal_data(event.changes) if theirs else event.changes
        yield SimpleNamespace(
            id=event.id,
            at=event.at,
            actor_id=event.actor_id,
            action=event.action,
            target_id=event.target_id,
            organization_id=event.organization_id,
            changes=changes,
            request_id=event.request_id,
            server_request_id=event.server_request_id,
        )
