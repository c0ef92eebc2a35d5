"""Webhooks (contract v4, "Account events and webhooks"): endpoints managed through the API, the
audit trail read as the outbox, deliveries signed per Standard Webhooks and verified by its
reference library in a real receiver, retries, disabling, and the guard against server-side
request forgery. The worker's steps run here in the test process (dispatch, lease, deliver);
tests/test_webhooks_e2e.py runs them in the worker process."""

import json
import socket
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from app.events import catalog, delivery, dispatch, sending
from app.extensions import db
from app.models import AuditEvent, User
from app.models.columns import utcnow
from app.models.webhook import WebhookDelivery, WebhookEndpoint
from tests.support.mail import outbox
from tests.support.signin import bearer, login
from tests.support.webhooks import Receiver, receiving

EVERYTHING = ["user.*", "session.*", "role.*"]
SECRET_PATTERN = r"^whsec_[A-Za-z0-9+/]{43}=$"


@pytest.fixture
def receiver(app):
    """A receiver on this machine, its origin allowed as development allows it."""
    with receiving() as found:
        app.config["WEBHOOK_ALLOWED_ORIGINS"] = [found.origin]
        yield found


@pytest.fixture
def headers(admin, auth):
    return auth(admin)


def create(client, headers, url, events=("user.*",), **more):
    return client.post(
        "/webhooks", json={"url": url, "events": list(events), **more}, headers=headers
    )


def endpoint_for(client, headers, receiver: Receiver, events=EVERYTHING) -> dict:
    """An endpoint sending to ``receiver``, which is given its secret."""
    response = create(client, headers, receiver.url, events)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    receiver.secrets.append(body["secret"])
    return body


def run_worker_steps(app) -> int:
    """What the worker's tick and delivery jobs do, once, in this process: attempts made."""
    leased = []
    with app.app_context():
        dispatch.dispatch_all()
        dispatch.lease_due_endpoints(lambda **job: leased.append(job))
        return sum(delivery.deliver(**job) for job in leased)


def attempts(app, endpoint_id: int) -> list[WebhookDelivery]:
    with app.app_context():
        rows = db.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id)
        ).all()
        db.session.expunge_all()
        return rows


def make_due_now(app) -> None:
    """Move every pending attempt's due time to now (the clock moved in the database)."""
    with app.app_context():
        db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.state == "pending")
            .values(due_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()


# --- Managing endpoints ----------------------------------------------------------------------


def test_an_endpoint_is_created_with_its_secret_shown_once(client, headers) -> None:
    response = create(client, headers, "https://hooks.example.com/in", ["user.created", "role.*"])

    body = response.get_json()
    assert response.status_code == 201
    assert response.headers["Location"].endswith(f"/webhooks/{body['id']}")
    assert body["secret"].startswith("whsec_")
    assert len(body["secret"]) == len("whsec_") + 44
    assert {key: body[key] for key in body if key not in ("id", "created_at", "secret")} == {
        "url": "https://hooks.example.com/in",
        "events": ["role.*", "user.created"],
        "description": "",
        "enabled": True,
        "disabled_reason": None,
    }
    shown = client.get(f"/webhooks/{body['id']}", headers=headers)
    listed = client.get("/webhooks", headers=headers)
    assert shown.status_code == listed.status_code == 200
    assert "secret" not in shown.get_json()
    assert listed.get_json()["items"] == [shown.get_json()]
    assert listed.get_json()["_meta"]["total_items"] == 1


def test_the_secret_is_kept_sealed_never_plain(app, client, headers) -> None:
    secret = create(client, headers, "https://hooks.example.com/in").get_json()["secret"]

    with app.app_context():
        stored = db.session.scalar(select(WebhookEndpoint.secret))
        dumped = db.session.scalar(
            text("SELECT row_to_json(webhook_endpoints)::text FROM webhook_endpoints")
        )
    assert secret not in stored
    assert secret.removeprefix("whsec_") not in dumped


def test_webhooks_need_the_webhooks_manage_permission(client, operator, member, auth) -> None:
    for account in (member, operator):
        response = client.get("/webhooks", headers=auth(account))
        assert response.status_code == 403
        assert response.get_json()["details"] == {"permissions": ["webhooks:manage"]}


def test_a_role_given_webhooks_manage_manages_webhooks(client, headers, make_user, auth) -> None:
    made = client.post(
        "/roles",
        json={"name": "integrator", "description": "", "permissions": ["webhooks:manage"]},
        headers=headers,
    )
    integrator = make_user("integrator", roles=("integrator",))

    response = create(client, auth(integrator), "https://hooks.example.com/in")

    assert made.status_code == 201
    assert response.status_code == 201
    assert response.get_json()["url"] == "https://hooks.example.com/in"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://hooks.example.com/in", "https:// URL is needed"),
        ("ftp://hooks.example.com/in", "absolute https:// URL"),
        ("/relative", "absolute https:// URL"),
        ("https://user:pw@hooks.example.com/in", "credentials"),
        ("https://hooks.example.com/in#part", "fragment"),
        ("https://hooks.example.com/in put", "spaces"),
        ("https://hooks.example.com:99999/", "Not a URL"),
    ],
)
def test_a_bad_url_is_422_naming_the_url(client, headers, url, says) -> None:
    response = create(client, headers, url)

    body = response.get_json()
    assert response.status_code == 422
    assert body["error"] == "validation_error"
    assert says in body["details"]["url"][0]


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[0:0:0:0:0:ffff:127.0.0.1]",
        "[::127.0.0.1]",
        "[64:ff9b::7f00:1]",
        "[2002:7f00:1::]",
        "10.0.0.1",
        "0xa000001",
        "172.16.5.4",
        "192.168.1.1",
        "3232235777",
        "169.254.169.254",
        "0xa9fea9fe",
        "[::ffff:169.254.169.254]",
        "[fe80::1]",
        "[fd00:ec2::254]",
        "[fc00::1]",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 (an address refused, not bound)
        "0",
        "[::]",
        "224.0.0.1",
        "255.255.255.255",
    ],
)
def test_a_literal_address_in_a_refused_range_is_422_in_any_spelling(client, headers, host) -> None:
    response = create(client, headers, f"https://{host}/hook")

    body = response.get_json()
    assert response.status_code == 422
    assert "address: webhooks are not sent there" in body["details"]["url"][0]


def test_a_public_literal_address_is_accepted(client, headers) -> None:
    response = create(client, headers, "https://[2001:4860:4860::8888]/hook")

    assert response.status_code == 201
    assert response.get_json()["url"] == "https://[2001:4860:4860::8888]/hook"


def test_an_unknown_event_type_is_422(client, headers) -> None:
    response = create(
        client, headers, "https://hooks.example.com/in", ["user.created", "user.eaten"]
    )

    body = response.get_json()
    assert response.status_code == 422
    assert body["details"]["events"] == {"1": ["No such event type: user.eaten."]}


def test_the_event_types_are_the_contracts_and_their_families() -> None:
    assert set(catalog.EVENT_TYPES) >= {
        "user.created",
        "user.updated",
        "user.deleted",
        "user.roles_changed",
        "user.password_changed",
        "user.mfa_changed",
        "session.revoked_all",
        "role.created",
        "role.updated",
        "role.deleted",
        "org.created",
        "membership.added",
        "invitation.created",
    }
    assert {"role.*", "org.*", "membership.*", "invitation.*", "user.*"} <= set(
        catalog.SUBSCRIBABLE
    )
    # The organizations' events flow under their own names, whatever they come to be.
    assert catalog.type_of("membership.renamed") == "membership.renamed"
    assert catalog.type_of("token.created") is None


def test_at_most_50_endpoints(app, client, headers) -> None:
    with app.app_context():
        db.session.add_all(
            WebhookEndpoint(url=f"https://h{n}.example.com/", events=["user.*"], secret="x")
            for n in range(50)
        )
        db.session.commit()

    response = create(client, headers, "https://one-more.example.com/")

    body = response.get_json()
    assert response.status_code == 422
    assert body["details"]["url"] == ["At most 50 webhook endpoints."]


def test_an_endpoint_is_changed_and_deleted(app, client, headers) -> None:
    created = create(client, headers, "https://hooks.example.com/in").get_json()
    path = f"/webhooks/{created['id']}"

    changed = client.patch(
        path,
        json={"url": "https://other.example.com/in", "events": ["role.created"], "enabled": False},
        headers=headers,
    )
    deleted = client.delete(path, headers=headers)
    gone = client.get(path, headers=headers)

    assert changed.status_code == 200
    assert {k: changed.get_json()[k] for k in ("url", "events", "enabled", "disabled_reason")} == {
        "url": "https://other.example.com/in",
        "events": ["role.created"],
        "enabled": False,
        "disabled_reason": "Disabled by an administrator.",
    }
    assert (deleted.status_code, deleted.get_data()) == (204, b"")
    assert gone.status_code == 404
    assert gone.get_json()["error"] == "not_found"
    with app.app_context():
        audited = db.session.execute(
            select(AuditEvent.action, AuditEvent.changes)
            .where(AuditEvent.action.like("webhook.%"))
            .order_by(AuditEvent.id)
        ).all()
    assert [action for action, _ in audited] == [
        "webhook.created",
        "webhook.updated",
        "webhook.deleted",
    ]
    # The audit trail names endpoints by origin: a URL's path may hold a receiver's credential.
    assert audited[1][1]["origin"] == [
        "https://hooks.example.com:443",
        "https://other.example.com:443",
    ]
    assert "/in" not in json.dumps([changes for _, changes in audited])


def test_a_change_to_a_refused_url_is_422(client, headers) -> None:
    created = create(client, headers, "https://hooks.example.com/in").get_json()

    response = client.patch(
        f"/webhooks/{created['id']}", json={"url": "https://[::ffff:10.1.2.3]/"}, headers=headers
    )

    assert response.status_code == 422
    assert "private address" in response.get_json()["details"]["url"][0]


# --- The outbox: events from the audit trail -------------------------------------------------


def test_a_change_is_delivered_signed_and_verified_by_the_reference_library(
    app, client, headers, receiver
) -> None:
    endpoint = endpoint_for(client, headers, receiver, ["user.created"])
    created = client.post(
        "/users",
        json={
            "username": "newcomer",
            "email": "newcomer@example.com",
            "password": "amber-quarry-signal",
        },
        headers=headers,
    )

    made = run_worker_steps(app)

    (got,) = receiver.received()
    user_id = created.get_json()["id"]
    with app.app_context():
        event_id = db.session.scalar(
            select(AuditEvent.id).where(
                AuditEvent.action == "user.created", AuditEvent.target_id == user_id
            )
        )
    assert made == 1
    assert got.verified_by == [endpoint["secret"]]
    assert got.headers["content-type"] == "application/json"
    assert got.webhook_id == f"evt_{event_id}"
    assert got.headers["webhook-signature"].startswith("v1,")
    event = got.event
    assert (event["id"], event["type"]) == (f"evt_{event_id}", "user.created")
    assert event["timestamp"].endswith("+00:00")
    assert event["data"] == {
        "id": user_id,
        "action": "user.created",
        "changes": {
            "username": [None, "newcomer"],
            "email": [None, "newcomer@example.com"],
            "roles": [None, ["user"]],
            "is_active": [None, True],
        },
    }
    (attempt,) = attempts(app, endpoint["id"])
    assert (attempt.state, attempt.status_code, attempt.attempt) == ("succeeded", 204, 1)
    listed = client.get(f"/webhooks/{endpoint['id']}/deliveries", headers=headers).get_json()
    (item,) = listed["items"]
    assert {k: item[k] for k in item if k not in ("attempted_at", "duration_ms")} == {
        "id": attempt.id,
        "event_id": f"evt_{event_id}",
        "event_type": "user.created",
        "attempt": 1,
        "status_code": 204,
        "error": None,
        "next_retry_at": None,
        "state": "succeeded",
    }
    assert item["duration_ms"] >= 0


def test_a_rolled_back_change_sends_nothing(app, client, headers, receiver, member) -> None:
    endpoint_for(client, headers, receiver)
    with app.test_request_context(method="PATCH"):
        user = db.session.get(User, member.id)
        user.rolenames = ["operator"]
        db.session.flush()
        written = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "user.roles_changed")
        )
        db.session.rollback()

    made = run_worker_steps(app)

    assert written == 1  # the event was in the transaction ...
    assert made == 0  # ... which rolled back: nothing to send
    assert receiver.received() == []


def test_events_are_filtered_per_endpoint(app, client, headers, make_user) -> None:
    with receiving() as roles_only, receiving() as users_only:
        app.config["WEBHOOK_ALLOWED_ORIGINS"] = [roles_only.origin, users_only.origin]
        endpoint_for(client, headers, roles_only, ["role.*"])
        endpoint_for(client, headers, users_only, ["user.roles_changed"])
        member = make_user("someone")
        client.post(
            "/roles", json={"name": "helper", "description": "", "permissions": []}, headers=headers
        )
        client.patch(f"/users/{member.id}", json={"roles": ["user", "helper"]}, headers=headers)

        run_worker_steps(app)

        assert [d.event["type"] for d in roles_only.received()] == ["role.created"]
        assert [d.event["type"] for d in users_only.received()] == ["user.roles_changed"]
        assert users_only.received()[0].event["data"]["changes"] == {
            "roles": [["user"], ["user", "helper"]]
        }


def test_an_organizations_events_name_it(app, client, headers, receiver, make_user, auth) -> None:
    endpoint_for(client, headers, receiver, ["org.*", "membership.*"])
    founder = auth(make_user("founder"))
    made = client.post("/orgs", json={"name": "Acme"}, headers=founder).get_json()
    client.patch(f"/orgs/{made['id']}", json={"name": "Acme Corp"}, headers=founder)

    run_worker_steps(app)

    events = [delivered.event for delivered in receiver.received()]
    assert [event["type"] for event in events] == ["org.created", "membership.added", "org.updated"]
    assert {event["data"]["organization_id"] for event in events} == {made["id"]}
    assert events[2]["data"]["changes"] == {"name": ["Acme", "Acme Corp"]}


def test_a_test_event_goes_to_its_endpoint_alone(app, client, headers) -> None:
    with receiving() as tested, receiving() as other:
        app.config["WEBHOOK_ALLOWED_ORIGINS"] = [tested.origin, other.origin]
        endpoint = endpoint_for(client, headers, tested, ["role.created"])
        endpoint_for(client, headers, other, EVERYTHING)

        response = client.post(f"/webhooks/{endpoint['id']}/test", headers=headers)
        run_worker_steps(app)

        assert response.status_code == 202
        assert response.get_json()["id"] == endpoint["id"]
        (got,) = tested.received()
        assert other.received() == []
        assert got.event["type"] == "webhook.test"
        assert got.event["data"] == {"webhook_id": endpoint["id"]}
        assert got.verified_by == [endpoint["secret"]]


def test_an_endpoint_is_sent_no_event_from_before_it_was_made(
    app, client, headers, receiver, make_user
) -> None:
    make_user("early")
    endpoint_for(client, headers, receiver, ["user.created"])
    make_user("late")

    run_worker_steps(app)

    assert [d.event["data"]["changes"]["username"][1] for d in receiver.received()] == ["late"]


def test_no_payload_holds_a_secret_a_hash_or_a_token(
    app, client, headers, receiver, make_user, auth
) -> None:
    """One event of every type the platform writes, each body scanned for what it must never
    hold."""
    endpoint = endpoint_for(client, headers, receiver)
    test_endpoint = client.post(f"/webhooks/{endpoint['id']}/test", headers=headers)
    member = make_user("scanned")
    member_headers = auth(member)
    tokens = login(client, member)
    password_change = client.put(
        "/users/me/password",
        json={"current_password": member.password, "new_password": "amber-quarry-signal"},
        headers=member_headers,
    )
    new_tokens = password_change.get_json()
    personal = client.post(
        "/users/me/tokens",
        json={"name": "ci", "scopes": ["profile"]},
        headers=bearer(new_tokens["access_token"]),
    ).get_json()
    client.patch(f"/users/{member.id}", json={"email": "scanned2@example.com"}, headers=headers)
    client.post(
        "/roles",
        json={"name": "scanner", "description": "", "permissions": ["profile"]},
        headers=headers,
    )
    client.patch("/roles/scanner", json={"description": "Scans."}, headers=headers)
    client.patch(f"/users/{member.id}", json={"roles": ["user", "scanner"]}, headers=headers)
    client.patch(f"/users/{member.id}", json={"roles": ["user"]}, headers=headers)
    client.delete("/roles/scanner", headers=headers)
    client.delete(f"/users/{member.id}/mfa", headers=headers)
    client.delete(f"/users/{member.id}/sessions", headers=headers)
    client.patch(f"/users/{member.id}", json={"is_active": False}, headers=headers)
    client.delete(f"/users/{member.id}", headers=headers)

    run_worker_steps(app)

    bodies = {d.event["type"]: d.body.decode() for d in receiver.received()}
    with app.app_context():
        hashes = db.session.scalars(select(User.password)).all()
    forbidden = [
        member.password,
        "amber-quarry-signal",
        tokens["access_token"],
        tokens["refresh_token"],
        new_tokens["access_token"],
        new_tokens["refresh_token"],
        personal["token"],
        endpoint["secret"],
        endpoint["secret"].removeprefix("whsec_"),
        "$argon2",
        *hashes,
    ]
    assert test_endpoint.status_code == 202
    assert set(bodies) == {*catalog.EVENT_TYPES, "webhook.test"} - {
        t for t in catalog.EVENT_TYPES if t.split(".")[0] in catalog.PASSED_ON_FAMILIES
    }
    for event_type, body in bodies.items():
        for secret in forbidden:
            assert secret not in body, f"{event_type} holds a secret"
        for word in ('password"', "hash", "digest", "secret", "token"):
            assert word not in json.dumps(json.loads(body)["data"]), (event_type, word)
    assert json.loads(bodies["user.deleted"])["data"] == {"id": member.id}


# --- Retries, disabling ----------------------------------------------------------------------


def test_a_failed_attempt_is_retried_with_the_same_webhook_id(
    app, client, headers, receiver, member
) -> None:
    endpoint = endpoint_for(client, headers, receiver, ["user.updated"])
    receiver.answers = [500]
    receiver.answer_body = b"busy " * 400
    client.patch(f"/users/{member.id}", json={"is_active": False}, headers=headers)

    run_worker_steps(app)
    first, retry = attempts(app, endpoint["id"])
    make_due_now(app)
    run_worker_steps(app)

    failed, succeeded = receiver.received()
    assert failed.webhook_id == succeeded.webhook_id
    assert failed.body == succeeded.body
    assert (first.state, first.status_code, first.attempt) == ("failed", 500, 1)
    assert first.error.startswith("HTTP 500: busy busy")
    assert len(first.error) == 1024
    assert timedelta(seconds=4) < first.next_retry_at - first.attempted_at <= timedelta(seconds=5)
    assert (retry.state, retry.attempt, retry.due_at) == ("pending", 2, first.next_retry_at)
    (second,) = [a for a in attempts(app, endpoint["id"]) if a.attempt == 2]
    assert (second.state, second.status_code) == ("succeeded", 204)
    listed = client.get(f"/webhooks/{endpoint['id']}/deliveries", headers=headers).get_json()
    assert [(i["attempt"], i["state"]) for i in listed["items"]] == [
        (2, "succeeded"),
        (1, "failed"),
    ]
    assert listed["items"][1]["next_retry_at"] is not None


def test_retries_follow_the_standard_webhooks_schedule_then_stop(
    app, client, headers, receiver, member
) -> None:
    endpoint = endpoint_for(client, headers, receiver, ["user.updated"])
    receiver.status = 503
    client.patch(f"/users/{member.id}", json={"is_active": False}, headers=headers)

    for _ in range(8):
        run_worker_steps(app)
        make_due_now(app)

    rows = attempts(app, endpoint["id"])
    gaps = [row.next_retry_at - row.attempted_at for row in rows if row.next_retry_at]
    assert [row.attempt for row in rows] == list(range(1, 9))
    assert all(row.state == "failed" for row in rows)
    assert [round(gap.total_seconds()) for gap in gaps] == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert rows[-1].next_retry_at is None
    assert len({d.webhook_id for d in receiver.received()}) == 1


def test_a_410_answer_disables_the_endpoint_and_tells_the_admins(
    app, client, headers, receiver, member, admin
) -> None:
    endpoint = endpoint_for(client, headers, receiver, ["user.updated"])
    receiver.status = 410
    client.patch(f"/users/{member.id}", json={"is_active": False}, headers=headers)
    client.patch(f"/users/{member.id}", json={"is_active": True}, headers=headers)

    run_worker_steps(app)

    shown = client.get(f"/webhooks/{endpoint['id']}", headers=headers).get_json()
    rows = attempts(app, endpoint["id"])
    assert shown["enabled"] is False
    assert "410" in shown["disabled_reason"]
    assert len(receiver.received()) == 1
    assert [(row.state, row.status_code, row.error) for row in rows] == [
        ("failed", 410, "HTTP 410"),
        ("failed", None, "Cancelled: the endpoint was disabled."),
    ]
    (mail,) = [m for m in outbox(app) if m.subject == "A webhook endpoint was disabled"]
    assert mail.to == [admin.email]
    assert f"endpoint {endpoint['id']}" in mail.body
    assert "/hook" not in mail.body


def test_an_endpoint_failing_for_five_days_is_disabled_and_the_admins_told(
    app, client, headers, receiver, member, admin
) -> None:
    endpoint = endpoint_for(client, headers, receiver, ["user.updated"])
    receiver.status = 500
    with app.app_context():
        db.session.execute(
            update(WebhookEndpoint).values(failing_since=utcnow() - timedelta(days=5))
        )
        db.session.commit()
    client.patch(f"/users/{member.id}", json={"is_active": False}, headers=headers)

    run_worker_steps(app)

    shown = client.get(f"/webhooks/{endpoint['id']}", headers=headers).get_json()
    assert shown["enabled"] is False
    assert shown["disabled_reason"].startswith("Every attempt failed for 5.0 days")
    assert [m.to for m in outbox(app) if m.subject == "A webhook endpoint was disabled"] == [
        [admin.email]
    ]
    assert [row.next_retry_at for row in attempts(app, endpoint["id"])] == [None]


def test_a_success_ends_the_failing_streak(app, client, headers, receiver, member) -> None:
    endpoint_for(client, headers, receiver, ["user.updated"])
    receiver.answers = [500]
    client.patch(f"/users/{member.id}", json={"is_active": False}, headers=headers)
    run_worker_steps(app)
    with app.app_context():
        failing = db.session.scalar(select(WebhookEndpoint.failing_since))
    make_due_now(app)
    run_worker_steps(app)

    with app.app_context():
        assert db.session.scalar(select(WebhookEndpoint.failing_since)) is None
    assert failing is not None


def test_disabling_cancels_pending_retries_and_events_meanwhile_are_never_sent(
    app, client, headers, receiver, member
) -> None:
    endpoint = endpoint_for(client, headers, receiver, ["user.updated"])
    path = f"/webhooks/{endpoint['id']}"
    receiver.answers = [500]
    client.patch(f"/users/{member.id}", json={"is_active": False}, headers=headers)
    run_worker_steps(app)

    client.patch(path, json={"enabled": False}, headers=headers)
    client.patch(f"/users/{member.id}", json={"is_active": True}, headers=headers)
    client.patch(path, json={"enabled": True}, headers=headers)
    make_due_now(app)
    run_worker_steps(app)

    rows = attempts(app, endpoint["id"])
    assert len(receiver.received()) == 1
    assert [(r.attempt, r.state, r.error, r.next_retry_at) for r in rows] == [
        (1, "failed", "HTTP 500", None),
        (2, "failed", "Cancelled: the endpoint was disabled.", None),
    ]


def test_deleting_an_endpoint_drops_its_pending_attempts(
    app, client, headers, receiver, member
) -> None:
    endpoint = endpoint_for(client, headers, receiver, ["user.updated"])
    client.patch(f"/users/{member.id}", json={"is_active": False}, headers=headers)
    with app.app_context():
        dispatch.dispatch_all()

    deleted = client.delete(f"/webhooks/{endpoint['id']}", headers=headers)
    made = run_worker_steps(app)

    assert deleted.status_code == 204
    assert made == 0
    assert receiver.received() == []
    assert attempts(app, endpoint["id"]) == []


def test_a_retry_goes_to_the_url_the_endpoint_has_then(app, client, headers, member) -> None:
    with receiving(status=500) as old, receiving() as new:
        app.config["WEBHOOK_ALLOWED_ORIGINS"] = [old.origin, new.origin]
        endpoint = endpoint_for(client, headers, old, ["user.updated"])
        new.secrets.append(endpoint["secret"])
        client.patch(f"/users/{member.id}", json={"is_active": False}, headers=headers)
        run_worker_steps(app)

        client.patch(f"/webhooks/{endpoint['id']}", json={"url": new.url}, headers=headers)
        make_due_now(app)
        run_worker_steps(app)

        (first,) = old.received()
        (second,) = new.received()
        assert second.webhook_id == first.webhook_id
        assert second.verified_by == [endpoint["secret"]]


def test_a_delivery_is_retried_on_request(app, client, headers, receiver, member) -> None:
    endpoint = endpoint_for(client, headers, receiver, ["user.updated"])
    client.patch(f"/users/{member.id}", json={"is_active": False}, headers=headers)
    run_worker_steps(app)
    (done,) = attempts(app, endpoint["id"])

    response = client.post(
        f"/webhooks/{endpoint['id']}/deliveries/{done.id}/retry", headers=headers
    )
    again = client.post(f"/webhooks/{endpoint['id']}/deliveries/{done.id}/retry", headers=headers)
    run_worker_steps(app)
    unknown = client.post(f"/webhooks/{endpoint['id']}/deliveries/987654/retry", headers=headers)

    body = response.get_json()
    assert response.status_code == again.status_code == 202
    assert (body["attempt"], body["state"], body["event_id"]) == (
        2,
        "pending",
        f"evt_{done.event_id}",
    )
    assert again.get_json()["id"] == body["id"]
    first, second = receiver.received()
    assert first.webhook_id == second.webhook_id
    assert unknown.status_code == 404
    assert unknown.get_json()["error"] == "not_found"


def test_rotation_signs_with_both_secrets_for_a_day(
    app, client, headers, receiver, member, age_sessions
) -> None:
    endpoint = endpoint_for(client, headers, receiver, ["user.updated"])
    path = f"/webhooks/{endpoint['id']}/rotate-secret"

    rotated = client.post(path, headers=headers)
    receiver.secrets.append(rotated.get_json()["secret"])
    client.patch(f"/users/{member.id}", json={"is_active": False}, headers=headers)
    run_worker_steps(app)
    with app.app_context():
        db.session.execute(
            update(WebhookEndpoint).values(previous_secret_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    client.patch(f"/users/{member.id}", json={"is_active": True}, headers=headers)
    run_worker_steps(app)
    age_sessions(301)
    stale = client.post(path, headers=headers)

    new_secret = rotated.get_json()["secret"]
    assert rotated.status_code == 200
    assert new_secret.startswith("whsec_")
    assert new_secret != endpoint["secret"]
    assert rotated.get_json()["id"] == endpoint["id"]
    during, after = receiver.received()
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert sorted(during.verified_by) == sorted([endpoint["secret"], new_secret])
    assert after.verified_by == [new_secret]
    assert stale.status_code == 401
    assert stale.get_json()["error"] == "reauthentication_required"


# --- The guard against server-side request forgery -------------------------------------------


def test_a_name_resolving_to_loopback_is_refused_at_delivery(
    app, client, headers, receiver, member
) -> None:
    """``localhost`` passes creation (a name, over https), then resolves to a loopback address
    at delivery, which no allowed origin covers: refused, nothing sent."""
    response = create(client, headers, f"https://localhost:{receiver.port}/hook", ["user.updated"])
    client.patch(f"/users/{member.id}", json={"is_active": False}, headers=headers)

    run_worker_steps(app)

    assert response.status_code == 201
    first, retry = attempts(app, response.get_json()["id"])
    assert (first.state, first.status_code) == ("failed", None)
    assert first.error in (
        "Refused: localhost resolves to 127.0.0.1, a loopback address.",
        "Refused: localhost resolves to ::1, a loopback address.",
    )
    assert retry.state == "pending"
    assert receiver.received() == []


class Listener:
    """A TCP listener on a loopback address that notes each connection and answers 204."""

    def __init__(self, host: str) -> None:
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with connection:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self.sock.close()


def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    """A resolver that answers differently the second time (DNS rebinding) is asked once, and
    the connection goes to the first answer's address."""
    first, second = Listener("127.0.0.1"), Listener("127.0.0.2")
    answers = ["127.0.0.1", "127.0.0.2"]
    asked = []

    def rebinding(host, port, family=0, kind=0):
        asked.append(host)
        address = answers[min(len(asked) - 1, 1)]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    try:
        outcome = sending.post(
            f"http://rebind.test:{first.port}/hook",
            b"{}",
            {},
            allowed_origins=[f"http://rebind.test:{first.port}"],
            resolver=rebinding,
        )
    finally:
        first.close()
        second.close()

    assert (outcome.status_code, outcome.error) == (204, None)
    assert asked == ["rebind.test"]
    assert (first.connections, second.connections) == (1, 0)


def test_a_name_that_also_resolves_to_a_refused_address_is_refused_whole() -> None:
    def split(host, port, family=0, kind=0):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    outcome = sending.post("https://split.test/hook", b"{}", {}, resolver=split)

    assert outcome.status_code is None
    assert outcome.error == "Refused: split.test resolves to 10.0.0.7, a private address."


def test_redirects_are_not_followed(app, client, headers, receiver, member) -> None:
    with receiving() as elsewhere:
        app.config["WEBHOOK_ALLOWED_ORIGINS"] = [receiver.origin, elsewhere.origin]
        endpoint = endpoint_for(client, headers, receiver, ["user.updated"])
        receiver.status, receiver.redirect_to = 307, elsewhere.url
        client.patch(f"/users/{member.id}", json={"is_active": False}, headers=headers)

        run_worker_steps(app)

        (row, _) = attempts(app, endpoint["id"])
        assert (row.state, row.status_code) == ("failed", 307)
        assert elsewhere.received() == []


def test_the_whole_attempt_has_its_time_even_against_a_trickle() -> None:
    """A server that sends its answer a byte at a time never holds an attempt past its time."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
                if stop.wait(0.1):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    threading.Thread(target=trickle, daemon=True).start()
    try:
        outcome = sending.post(
            f"http://127.0.0.1:{port}/",
            b"{}",
            {},
            allowed_origins=[f"http://127.0.0.1:{port}"],
            seconds=1,
        )
    finally:
        stop.set()
        server.close()

    assert outcome.status_code is None
    assert outcome.error == "No complete answer within 1 s."
    assert 900 <= outcome.duration_ms < 2000


def test_at_most_64_kib_of_an_answer_is_read_and_1_kib_kept() -> None:
    with receiving(status=500) as big:
        big.answer_body = b"x" * (1024 * 1024)
        outcome = sending.post(big.url, b"{}", {}, allowed_origins=[big.origin])

    assert outcome.status_code == 500
    assert outcome.body == b"x" * 1024


def test_production_refuses_to_start_with_webhook_allowed_origins(
    monkeypatch, database_url
) -> None:
    from app.config import ConfigError, load_config
    from tests.support.processes import SIGNING_KEY

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.setenv("SIGNING_KEYS", SIGNING_KEY)
    monkeypatch.setenv("WEBHOOK_ALLOWED_ORIGINS", "http://127.0.0.1:8000")

    with pytest.raises(ConfigError) as refused:
        load_config("production")

    assert str(refused.value).startswith("WEBHOOK_ALLOWED_ORIGINS is set:")
    assert load_config("development").WEBHOOK_ALLOWED_ORIGINS == ["http://127.0.0.1:8000"]


def test_attempts_are_kept_for_the_retention_then_pruned(
    app, client, headers, receiver, member
) -> None:
    endpoint = endpoint_for(client, headers, receiver, ["user.updated"])
    receiver.answers = [500]
    client.patch(f"/users/{member.id}", json={"is_active": False}, headers=headers)
    run_worker_steps(app)
    with app.app_context():
        db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.state == "failed")
            .values(attempted_at=utcnow() - timedelta(days=31))
        )
        db.session.commit()
        pruned = delivery.prune(timedelta(seconds=app.config["WEBHOOK_RETENTION"]))

    assert pruned == 1
    assert [(row.attempt, row.state) for row in attempts(app, endpoint["id"])] == [(2, "pending")]
