"""Platform support staff in an organization they are not a member of: ``orgs:manage`` manages
it as its owners do, ``orgs:read`` alone reads it (its members, bucketlists and audit log) and
changes nothing; each of their requests is written to the organization's audit log."""

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from tests.support.errors import without_request_id


def staff_visits(app, org_id: int) -> list[tuple]:
    """The (visitor, request) of each ``org.staff_access`` event of the organization, oldest
    first."""
    with app.app_context():
        return [
            (actor_id, changes["request"][1])
            for actor_id, changes in db.session.execute(
                select(AuditEvent.actor_id, AuditEvent.changes)
                .where(
                    AuditEvent.organization_id == org_id,
                    AuditEvent.action == "org.staff_access",
                )
                .order_by(AuditEvent.id)
            )
        ]


def test_staff_with_orgs_manage_change_an_organization_and_see_its_members_addresses(
    app, client, make_user, auth
) -> None:
    owner = make_user("olivia")
    org = client.post("/orgs", json={"name": "Acme Corp"}, headers=auth(owner)).get_json()
    staff = make_user("root", roles=("admin",))
    headers = auth(staff)

    renamed = client.patch(f"/orgs/{org['id']}", json={"name": "Acme Ltd"}, headers=headers)
    members = client.get(f"/orgs/{org['id']}/members", headers=headers)

    assert renamed.status_code == 200
    assert renamed.get_json() == {
        "id": org["id"],
        "name": "Acme Ltd",
        "slug": "acme-corp",
        "created_at": org["created_at"],
        "my_roles": [],
    }
    assert members.status_code == 200
    assert [
        (item["username"], item["email"], item["roles"]) for item in members.get_json()["items"]
    ] == [("olivia", "olivia@example.com", ["owner"])]
    assert staff_visits(app, org["id"]) == [
        (staff.id, f"PATCH /orgs/{org['id']}"),
        (staff.id, f"GET /orgs/{org['id']}/members"),
    ]


def test_staff_with_orgs_read_alone_read_an_organization_and_change_nothing(
    app, client, make_user, auth
) -> None:
    owner = make_user("olivia")
    org = client.post("/orgs", json={"name": "Acme Corp"}, headers=auth(owner)).get_json()
    made = client.post(
        "/roles",
        json={
            "name": "org-reader",
            "description": "Reads organizations.",
            "permissions": ["orgs:read"],
        },
        headers=auth(make_user("root", roles=("admin",))),
    )
    reader = make_user("rita", roles=("user", "org-reader"))
    headers = auth(reader)

    shown = client.get(f"/orgs/{org['id']}", headers=headers)
    members = client.get(f"/orgs/{org['id']}/members", headers=headers)
    listed = client.get(f"/orgs/{org['id']}/bucketlists", headers=headers)
    log = client.get(f"/orgs/{org['id']}/audit-events?action=org.created", headers=headers)
    renamed = client.patch(f"/orgs/{org['id']}", json={"name": "Acme Ltd"}, headers=headers)

    assert made.status_code == 201, made.get_json()
    assert shown.status_code == 200
    assert shown.get_json() == {**org, "my_roles": []}
    assert members.status_code == 200
    # Without members:manage, no addresses.
    assert [(item["username"], item["roles"]) for item in members.get_json()["items"]] == [
        ("olivia", ["owner"])
    ]
    assert "email" not in members.get_json()["items"][0]
    assert listed.status_code == 200
    assert (listed.get_json()["items"], listed.get_json()["_meta"]["total_items"]) == ([], 0)
    assert log.status_code == 200
    assert [(item["action"], item["actor_id"]) for item in log.get_json()["items"]] == [
        ("org.created", owner.id)
    ]
    assert renamed.status_code == 403
    assert without_request_id(renamed.get_json()) == {
        "error": "forbidden",
        "message": "This needs the permission orgs:update.",
        "status": 403,
        "details": {"permissions": ["orgs:update"]},
    }
    assert client.get(f"/orgs/{org['id']}", headers=auth(owner)).get_json()["name"] == "Acme Corp"
    assert staff_visits(app, org["id"]) == [
        (reader.id, f"GET /orgs/{org['id']}"),
        (reader.id, f"GET /orgs/{org['id']}/members"),
        (reader.id, f"GET /orgs/{org['id']}/bucketlists"),
        (reader.id, f"GET /orgs/{org['id']}/audit-events"),
        (reader.id, f"PATCH /orgs/{org['id']}"),
    ]
