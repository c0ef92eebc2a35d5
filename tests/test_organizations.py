"""Organizations (contract v4): making one, members and their roles, invitations, an
organization's own roles, its audit log, its bucketlists, tokens bound to it, and deleting it or
its last owner's account."""

import re
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import AuditEvent, Bucketlist, Invitation, Membership, Organization
from app.models.columns import utcnow
from tests.support.errors import without_request_id
from tests.support.mail import outbox
from tests.support.signin import bearer

TOKEN_IN_MAIL = re.compile(r"the token ([A-Za-z0-9_-]{40,})")


def make_org(client, headers, name="Acme Corp", **extra) -> dict:
    response = client.post("/orgs", json={"name": name, **extra}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def invite(client, headers, org_id: int, email: str, roles=("member",)):
    return client.post(
        f"/orgs/{org_id}/invitations", json={"email": email, "roles": list(roles)}, headers=headers
    )


def mailed_token(app) -> str:
    return TOKEN_IN_MAIL.search(outbox(app)[-1].body).group(1)


def bound_token(client, headers, org_id: int, scopes: list[str]):
    """A personal token bound to the organization ``org_id`` (the answer of its creation)."""
    return client.post(
        "/users/me/tokens",
        json={"name": "ci", "scopes": scopes, "organization_id": org_id},
        headers=headers,
    )


def join(app, client, owner_headers, org_id: int, account, headers, roles=("member",)) -> dict:
    """``account`` invited and accepting: its membership."""
    assert invite(client, owner_headers, org_id, account.email, roles).status_code == 201
    accepted = client.post(
        "/invitations/accept", json={"token": mailed_token(app)}, headers=headers
    )
    assert accepted.status_code == 200, accepted.get_json()
    return accepted.get_json()


def joined(app, client, owner_headers, org, account, auth, roles=("member",)) -> tuple:
    """A new member of ``org``, invited with ``roles``: the account and its headers."""
    headers = auth(account)
    join(app, client, owner_headers, org["id"], account, headers, roles)
    return account, headers


def actions(app, org_id: int) -> list[str]:
    with app.app_context():
        return db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.organization_id == org_id)
            .order_by(AuditEvent.id)
        ).all()


@pytest.fixture
def owner(make_user):
    return make_user("olivia")


@pytest.fixture
def owner_headers(owner, auth):
    return auth(owner)


@pytest.fixture
def org(client, owner_headers) -> dict:
    return make_org(client, owner_headers)


def test_an_organization_is_made_by_its_first_owner(app, client, owner_headers) -> None:
    response = client.post("/orgs", json={"name": "Acme Corp."}, headers=owner_headers)

    body = response.get_json()
    assert response.status_code == 201
    assert response.headers["Location"] == f"/orgs/{body['id']}"
    assert {key: body[key] for key in ("name", "slug", "my_roles")} == {
        "name": "Acme Corp.",
        "slug": "acme-corp",
        "my_roles": ["owner"],
    }
    assert set(body) == {"id", "name", "slug", "created_at", "my_roles"}
    assert actions(app, body["id"]) == ["org.created", "membership.added"]


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"name": ""}, 422, "name"),
        ({"name": "x" * 101}, 422, "name"),
        ({"name": "Ok", "slug": "No Caps"}, 422, "slug"),
        ({"name": "Ok", "slug": "ab"}, 422, "slug"),
        ({"name": "Ok", "slug": "acme-corp"}, 409, "slug"),
    ],
)
def test_bad_or_taken_names_change_nothing(
    app, client, owner_headers, org, payload, status, field
) -> None:
    response = client.post("/orgs", json=payload, headers=owner_headers)

    assert response.status_code == status
    assert field in response.get_json()["details"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Organization)) == 1


def test_my_organizations_list_my_roles_and_staff_may_list_all(
    client, owner_headers, org, make_user, auth
) -> None:
    other = make_org(client, auth(make_user("ursula")), name="Other Inc")
    admin = auth(make_user("root", roles=("admin",)))

    mine = client.get("/orgs", headers=owner_headers)
    everyone = client.get("/orgs?all=true", headers=admin)
    refused = client.get("/orgs?all=true", headers=owner_headers)

    assert mine.status_code == 200
    assert [(item["slug"], item["my_roles"]) for item in mine.get_json()["items"]] == [
        ("acme-corp", ["owner"])
    ]
    assert mine.get_json()["_meta"]["total_items"] == 1
    assert {item["id"] for item in everyone.get_json()["items"]} == {org["id"], other["id"]}
    assert refused.status_code == 403
    assert refused.get_json()["details"] == {"permissions": ["orgs:read"]}


def test_an_outsider_learns_nothing_a_member_sees(
    app, client, owner_headers, org, make_user, auth
) -> None:
    _member, member_headers = joined(app, client, owner_headers, org, make_user("mia"), auth)
    outsider = auth(make_user("oscar"))

    shown = client.get(f"/orgs/{org['id']}", headers=member_headers)
    hidden = client.get(f"/orgs/{org['id']}", headers=outsider)
    nowhere = client.get("/orgs/999999", headers=outsider)

    assert (shown.status_code, shown.get_json()["my_roles"]) == (200, ["member"])
    assert hidden.status_code == nowhere.status_code == 404
    assert hidden.get_json()["message"] == nowhere.get_json()["message"]


def test_invitations_are_single_use_for_the_confirmed_address(
    app, client, owner_headers, org, make_user, auth
) -> None:
    invitee = make_user("ivy")
    stranger = make_user("sam")
    sent = invite(client, owner_headers, org["id"], "IVY@example.com", ["admin"])
    token = mailed_token(app)

    wrong_person = client.post("/invitations/accept", json={"token": token}, headers=auth(stranger))
    accepted = client.post("/invitations/accept", json={"token": token}, headers=auth(invitee))
    again = client.post("/invitations/accept", json={"token": token}, headers=auth(invitee))

    assert sent.status_code == 201
    assert sent.get_json()["email"] == "ivy@example.com"
    assert set(sent.get_json()) == {
        "id",
        "email",
        "roles",
        "invited_by",
        "created_at",
        "expires_at",
    }
    assert token not in str(sent.get_json())
    assert outbox(app)[-1].to == ["ivy@example.com"]
    assert wrong_person.status_code == 403
    assert accepted.status_code == 200
    assert accepted.get_json()["roles"] == ["admin"]
    assert accepted.get_json()["organization_id"] == org["id"]
    assert again.status_code == 404
    with app.app_context():
        stored = db.session.scalars(select(Invitation.digest)).all()
    assert stored == []
    assert actions(app, org["id"])[-3:] == [
        "invitation.created",
        "membership.added",
        "invitation.accepted",
    ]


def test_an_existing_member_is_not_invited_and_cannot_accept_twice(
    app, client, owner, owner_headers, org, make_user, auth
) -> None:
    member, _headers = joined(app, client, owner_headers, org, make_user("mia"), auth)

    again = invite(client, owner_headers, org["id"], member.email)
    self_invite = invite(client, owner_headers, org["id"], owner.email)

    assert again.status_code == 409
    assert self_invite.status_code == 409
    assert again.get_json()["message"] == "That address belongs to a member already."


def test_a_new_invitation_replaces_the_pending_one(
    app, client, owner_headers, org, make_user, auth
) -> None:
    invitee = make_user("ivy")
    invite(client, owner_headers, org["id"], invitee.email)
    first = mailed_token(app)
    invite(client, owner_headers, org["id"], invitee.email, ["admin"])
    second = mailed_token(app)

    stale = client.post("/invitations/accept", json={"token": first}, headers=auth(invitee))
    fresh = client.post("/invitations/accept", json={"token": second}, headers=auth(invitee))

    assert stale.status_code == 404
    assert fresh.status_code == 200
    assert fresh.get_json()["roles"] == ["admin"]


def test_revoked_and_expired_invitations_are_404(
    app, client, owner_headers, org, make_user, auth
) -> None:
    invitee = make_user("ivy")
    late = make_user("lee")
    created = invite(client, owner_headers, org["id"], invitee.email).get_json()
    revoked_token = mailed_token(app)
    invite(client, owner_headers, org["id"], late.email)
    expired_token = mailed_token(app)
    with app.app_context():
        db.session.execute(
            update(Invitation)
            .where(Invitation.email == late.email)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()

    revoked = client.delete(f"/orgs/{org['id']}/invitations/{created['id']}", headers=owner_headers)
    after_revoke = client.post(
        "/invitations/accept", json={"token": revoked_token}, headers=auth(invitee)
    )
    expired = client.post("/invitations/accept", json={"token": expired_token}, headers=auth(late))
    listed = client.get(f"/orgs/{org['id']}/invitations", headers=owner_headers)

    assert revoked.status_code == 204
    assert after_revoke.status_code == expired.status_code == 404
    assert expired.get_json()["error"] == "not_found"
    assert listed.get_json()["items"] == []


def test_at_most_100_pending_invitations(app, client, owner, owner_headers, org) -> None:
    with app.app_context():
        db.session.add_all(
            Invitation(
                organization_id=org["id"],
                email=f"guest{number}@example.com",
                roles=["member"],
                digest=f"{number:064d}",
                invited_by=owner.id,
                expires_at=utcnow() + timedelta(days=1),
            )
            for number in range(100)
        )
        db.session.commit()

    response = invite(client, owner_headers, org["id"], "one.more@example.com")

    assert response.status_code == 409
    assert "100 pending invitations" in response.get_json()["message"]


def test_my_invitations_are_accepted_or_declined_from_the_account(
    app, client, owner_headers, org, make_user, auth
) -> None:
    invitee = make_user("ivy")
    headers = auth(invitee)
    second = make_org(client, owner_headers, name="Second Org")
    invite(client, owner_headers, org["id"], invitee.email)
    invite(client, owner_headers, second["id"], invitee.email, ["admin"])

    listed = client.get("/users/me/invitations", headers=headers).get_json()["items"]
    accepted = client.post(f"/users/me/invitations/{listed[0]['id']}/accept", headers=headers)
    declined = client.delete(f"/users/me/invitations/{listed[1]['id']}", headers=headers)
    others = client.post(
        f"/users/me/invitations/{listed[1]['id']}/accept", headers=auth(make_user("sam"))
    )

    assert [item["organization"]["slug"] for item in listed] == ["acme-corp", "second-org"]
    assert listed[0]["invited_by"] == "olivia"
    assert listed[1]["roles"] == ["admin"]
    assert accepted.status_code == 200
    assert accepted.get_json()["roles"] == ["member"]
    assert declined.status_code == 204
    assert others.status_code == 404
    assert client.get("/users/me/invitations", headers=headers).get_json()["items"] == []


def test_inviting_is_granting(app, client, owner_headers, org, make_user, auth) -> None:
    admin = make_user("ada")
    admin_headers = auth(admin)
    join(app, client, owner_headers, org["id"], admin, admin_headers, ["admin"])

    owner_invite = invite(client, admin_headers, org["id"], "new@example.com", ["owner"])
    member_invite = invite(client, admin_headers, org["id"], "new@example.com", ["member"])
    unknown_role = invite(client, admin_headers, org["id"], "new@example.com", ["wizard"])

    assert owner_invite.status_code == 403
    assert owner_invite.get_json()["details"] == {"permissions": ["orgs:delete", "owners:manage"]}
    assert member_invite.status_code == 201
    assert unknown_role.status_code == 422
    assert unknown_role.get_json()["details"] == {
        "roles": ["No such role in this organization: wizard."]
    }


def test_members_are_listed_filtered_and_managed(
    app, client, owner_headers, org, make_user, auth
) -> None:
    first = make_user("under_score")
    second = make_user("percent")
    join(app, client, owner_headers, org["id"], first, auth(first), ["admin"])
    join(app, client, owner_headers, org["id"], second, auth(second))
    member_view = client.get(f"/orgs/{org['id']}/members", headers=auth(second)).get_json()

    listed = client.get(f"/orgs/{org['id']}/members", headers=owner_headers).get_json()
    admins = client.get(f"/orgs/{org['id']}/members?role=admin", headers=owner_headers)
    literal = client.get(f"/orgs/{org['id']}/members?q=r_s", headers=owner_headers)
    wildcard = client.get(f"/orgs/{org['id']}/members?q=%25", headers=owner_headers)

    assert [item["username"] for item in listed["items"]] == ["olivia", "under_score", "percent"]
    assert listed["_meta"]["total_items"] == 3
    assert listed["items"][0]["email"] == "olivia@example.com"
    assert "email" not in member_view["items"][0]
    assert [item["username"] for item in admins.get_json()["items"]] == ["under_score"]
    assert [item["username"] for item in literal.get_json()["items"]] == ["under_score"]
    assert wildcard.get_json()["items"] == []


def test_the_last_owner_is_never_removed_or_demoted(
    app, client, owner, owner_headers, org, make_user, auth
) -> None:
    member = make_user("mia")
    join(app, client, owner_headers, org["id"], member, auth(member))
    path = f"/orgs/{org['id']}/members/{owner.id}"

    demoted = client.patch(path, json={"roles": ["member"]}, headers=owner_headers)
    left = client.delete(path, headers=owner_headers)
    promoted = client.patch(
        f"/orgs/{org['id']}/members/{member.id}", json={"roles": ["owner"]}, headers=owner_headers
    )
    left_after = client.delete(path, headers=owner_headers)

    assert demoted.status_code == left.status_code == 409
    assert "last owner" in demoted.get_json()["message"]
    assert promoted.status_code == 200
    assert promoted.get_json()["roles"] == ["owner"]
    assert left_after.status_code == 204
    with app.app_context():
        roles = db.session.scalars(
            select(Membership.roles).where(Membership.organization_id == org["id"])
        ).all()
    assert roles == [["owner"]]


def test_a_member_leaves_and_is_refused_on_the_next_request(
    app, client, owner_headers, org, make_user, auth
) -> None:
    member, headers = joined(app, client, owner_headers, org, make_user("mia"), auth)

    left = client.delete(f"/orgs/{org['id']}/members/{member.id}", headers=headers)
    after = client.get(f"/orgs/{org['id']}", headers=headers)

    assert left.status_code == 204
    assert after.status_code == 404
    assert actions(app, org["id"])[-1] == "membership.removed"


def test_an_organizations_own_roles(app, client, owner_headers, org, make_user, auth) -> None:
    member, headers = joined(app, client, owner_headers, org, make_user("mia"), auth)
    base = f"/orgs/{org['id']}/roles"
    payload = {"name": "auditor", "description": "Reads the log.", "permissions": ["audit:read"]}

    made = client.post(base, json=payload, headers=owner_headers)
    platform_only = client.post(
        base,
        json={**payload, "name": "x-admin", "permissions": ["users:write"]},
        headers=owner_headers,
    )
    built_in = client.post(base, json={**payload, "name": "owner"}, headers=owner_headers)
    before = client.get(f"/orgs/{org['id']}/audit-events", headers=headers)
    given = client.patch(
        f"/orgs/{org['id']}/members/{member.id}",
        json={"roles": ["member", "auditor"]},
        headers=owner_headers,
    )
    after = client.get(f"/orgs/{org['id']}/audit-events", headers=headers)
    held = client.delete(f"{base}/auditor", headers=owner_headers)
    shown_built_in = client.get(f"{base}/admin", headers=owner_headers)

    assert made.status_code == 201
    assert made.get_json() == {**payload, "built_in": False}
    assert platform_only.status_code == 422
    assert built_in.status_code == 409
    assert before.status_code == 403
    assert before.get_json()["details"] == {"permissions": ["audit:read"]}
    assert given.status_code == 200
    assert after.status_code == 200
    assert "role.created" in [event["action"] for event in after.get_json()["items"]]
    assert held.status_code == 409
    assert shown_built_in.get_json()["built_in"] is True
    assert "owners:manage" not in shown_built_in.get_json()["permissions"]


def test_built_in_roles_keep_their_names_and_owner_its_permissions(
    app, client, owner_headers, org, make_user, auth
) -> None:
    _member, headers = joined(app, client, owner_headers, org, make_user("mia"), auth)
    base = f"/orgs/{org['id']}/roles"
    log = f"/orgs/{org['id']}/audit-events"

    before = client.get(log, headers=headers)
    widened = client.patch(
        f"{base}/member",
        json={"permissions": ["bucketlists:read", "audit:read"]},
        headers=owner_headers,
    )
    after = client.get(log, headers=headers)
    owner_changed = client.patch(
        f"{base}/owner", json={"permissions": ["audit:read"]}, headers=owner_headers
    )
    renamed = client.patch(f"{base}/admin", json={"name": "boss"}, headers=owner_headers)
    deleted = client.delete(f"{base}/member", headers=owner_headers)
    listed = client.get(base, headers=owner_headers)
    shown = client.get(f"{base}/member", headers=owner_headers)
    other_org = client.post("/orgs", json={"name": "Elsewhere"}, headers=owner_headers)
    other_id = other_org.get_json()["id"]
    elsewhere = client.get(f"/orgs/{other_id}/roles/member", headers=owner_headers)

    assert before.status_code == 403
    assert widened.status_code == 200
    assert widened.get_json()["permissions"] == ["audit:read", "bucketlists:read"]
    assert widened.get_json()["built_in"] is True
    assert after.status_code == 200
    assert owner_changed.status_code == renamed.status_code == deleted.status_code == 409
    assert [role["name"] for role in listed.get_json()["items"]] == ["member"]
    assert shown.get_json()["permissions"] == ["audit:read", "bucketlists:read"]
    assert elsewhere.get_json()["permissions"] == ["bucketlists:read"]


def test_a_changed_built_in_role_grants_nothing_more_than_its_changer_holds(
    app, client, owner_headers, org, make_user, auth
) -> None:
    _admin, headers = joined(
        app, client, owner_headers, org, make_user("ada"), auth, roles=["admin"]
    )
    base = f"/orgs/{org['id']}/roles"

    escalated = client.patch(
        f"{base}/member", json={"permissions": ["orgs:delete"]}, headers=headers
    )
    emptied = client.patch(f"{base}/member", json={"permissions": []}, headers=headers)
    shown = client.get(f"{base}/member", headers=headers)

    assert escalated.status_code == 403
    assert escalated.get_json()["details"] == {"permissions": ["orgs:delete"]}
    assert emptied.status_code == 200
    assert shown.get_json()["permissions"] == []


def test_at_most_50_roles_of_its_own(client, owner_headers, org) -> None:
    base = f"/orgs/{org['id']}/roles"
    answers = [
        client.post(
            base,
            json={"name": f"role{number}", "description": "", "permissions": []},
            headers=owner_headers,
        ).status_code
        for number in range(51)
    ]

    assert answers == [201] * 50 + [409]


def test_organization_bucketlists_are_for_its_members(
    app, client, owner, owner_headers, org, make_user, auth
) -> None:
    _member, member_headers = joined(app, client, owner_headers, org, make_user("mia"), auth)
    outsider = auth(make_user("oscar"))

    made = client.post(
        "/bucketlists",
        json={"name": "Offsite", "organization_id": org["id"]},
        headers=owner_headers,
    )
    list_id = made.get_json()["id"]
    by_member = client.get(f"/bucketlists/{list_id}", headers=member_headers)
    member_writes = client.patch(
        f"/bucketlists/{list_id}", json={"name": "x"}, headers=member_headers
    )
    listed = client.get(f"/bucketlists?organization_id={org['id']}", headers=member_headers)
    under_org = client.get(f"/orgs/{org['id']}/bucketlists?q=OFFS", headers=member_headers)
    by_outsider = client.get(f"/bucketlists/{list_id}", headers=outsider)
    outsider_list = client.get(f"/bucketlists?organization_id={org['id']}", headers=outsider)
    outsider_makes = client.post(
        "/bucketlists", json={"name": "Mine", "organization_id": org["id"]}, headers=outsider
    )
    own_lists = client.get("/bucketlists", headers=member_headers)

    assert made.status_code == 201
    assert (made.get_json()["organization_id"], made.get_json()["owner_id"]) == (org["id"], None)
    assert made.get_json()["_links"]["organization"] == f"/orgs/{org['id']}"
    assert by_member.status_code == 200
    assert member_writes.status_code == 403
    assert [item["id"] for item in listed.get_json()["items"]] == [list_id]
    assert under_org.status_code == 200
    assert [item["id"] for item in under_org.get_json()["items"]] == [list_id]
    assert by_outsider.status_code == outsider_list.status_code == outsider_makes.status_code == 404
    assert own_lists.get_json()["items"] == []


def test_an_organization_token_is_refused_once_its_holder_leaves(
    app, client, owner_headers, org, make_user, auth
) -> None:
    member = make_user("mia")
    login = client.post("/login", json={"username": "mia", "password": member.password})
    join(app, client, owner_headers, org["id"], member, auth(member))
    refreshed = client.post(
        "/refresh",
        json={"refresh_token": login.get_json()["refresh_token"], "organization_id": org["id"]},
    )
    token = refreshed.get_json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})

    before = client.get("/users/me", headers=bearer(token))
    removed = client.delete(f"/orgs/{org['id']}/members/{member.id}", headers=owner_headers)
    after = client.get("/users/me", headers=bearer(token))
    other_token = client.get("/users/me", headers=auth(member))

    assert refreshed.status_code == 200
    assert (claims["org_id"], claims["org_roles"]) == (org["id"], ["member"])
    assert before.status_code == 200
    assert removed.status_code == 204
    assert (after.status_code, after.get_json()["error"]) == (401, "token_revoked")
    assert other_token.status_code == 200


def test_a_personal_token_is_refused_once_its_holder_leaves_its_organization(
    app, client, owner_headers, org, make_user, auth
) -> None:
    """Membership of the token's organization counts, not of any other."""
    member, headers = joined(app, client, owner_headers, org, make_user("mia"), auth)
    other = make_org(client, owner_headers, name="Elsewhere")
    join(app, client, owner_headers, other["id"], member, headers)
    made = client.post(
        "/users/me/tokens",
        json={"name": "ci", "scopes": ["profile"], "organization_id": org["id"]},
        headers=headers,
    )
    token = bearer(made.get_json()["token"])

    before = client.get("/users/me", headers=token)
    left = client.delete(f"/orgs/{org['id']}/members/{member.id}", headers=headers)
    after = client.get("/users/me", headers=token)

    assert made.status_code == 201
    assert (before.status_code, before.get_json()["username"]) == (200, "mia")
    assert left.status_code == 204
    assert (after.status_code, after.get_json()["error"]) == (401, "token_revoked")
    assert after.get_json()["message"] == "The token's organization is gone, or you left it."


def test_a_refresh_for_an_organization_of_someone_else_is_404_and_rotates_nothing(
    client, org, make_user
) -> None:
    stranger = make_user("sam")
    login = client.post("/login", json={"username": "sam", "password": stranger.password})
    refresh_token = login.get_json()["refresh_token"]

    refused = client.post(
        "/refresh", json={"refresh_token": refresh_token, "organization_id": org["id"]}
    )
    plain = client.post("/refresh", json={"refresh_token": refresh_token})

    assert refused.status_code == 404
    assert plain.status_code == 200


def test_a_personal_token_bound_to_an_organization(
    app, client, owner_headers, org, make_user, auth
) -> None:
    made = client.post(
        "/users/me/tokens",
        json={
            "name": "ci",
            "scopes": ["profile", "users:read", "members:invite", "bucketlists:read"],
            "organization_id": org["id"],
        },
        headers=owner_headers,
    )
    token = bearer(made.get_json()["token"])
    other = make_org(client, owner_headers, name="Elsewhere")

    profile = client.get("/users/me", headers=token)
    directory = client.get("/users", headers=token)
    invitations = client.get(f"/orgs/{org['id']}/invitations", headers=token)
    members_list = client.get(f"/orgs/{org['id']}/members", headers=token)
    elsewhere = client.get(f"/orgs/{other['id']}", headers=token)
    personal_lists = client.get("/bucketlists", headers=token)

    assert made.status_code == 201
    assert made.get_json()["organization_id"] == org["id"]
    assert profile.status_code == 200
    assert directory.status_code == 403
    assert invitations.status_code == 200
    assert members_list.status_code == 200
    assert elsewhere.status_code == 404
    assert personal_lists.status_code == 403


def test_deleting_an_organization(app, client, owner, owner_headers, org, make_user, auth) -> None:
    member = make_user("mia")
    login = client.post("/login", json={"username": "mia", "password": member.password})
    join(app, client, owner_headers, org["id"], member, auth(member))
    scoped = client.post(
        "/refresh",
        json={"refresh_token": login.get_json()["refresh_token"], "organization_id": org["id"]},
    ).get_json()["access_token"]
    client.post(
        "/bucketlists",
        json={"name": "Offsite", "organization_id": org["id"]},
        headers=owner_headers,
    )

    by_member = client.delete(f"/orgs/{org['id']}", headers=auth(member))
    deleted = client.delete(f"/orgs/{org['id']}", headers=owner_headers)
    after = client.get("/users/me", headers=bearer(scoped))
    reused = client.post("/orgs", json={"name": "Acme", "slug": "acme-corp"}, headers=owner_headers)

    assert by_member.status_code == 403
    assert deleted.status_code == 204
    assert after.status_code == 401
    assert reused.status_code == 201
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Bucketlist)) == 0
        assert (
            db.session.scalar(select(func.count()).where(AuditEvent.organization_id == org["id"]))
            >= 3
        )


def test_the_last_owner_of_a_shared_organization_is_not_deleted(
    app, client, owner, owner_headers, org, make_user, auth
) -> None:
    member = make_user("mia")
    join(app, client, owner_headers, org["id"], member, auth(member))
    solo = make_org(client, auth(member), name="Solo")
    admin = auth(make_user("root", roles=("admin",)))

    refused = client.delete(f"/users/{owner.id}", headers=admin)
    member_deleted = client.delete(f"/users/{member.id}", headers=admin)

    assert refused.status_code == 409
    assert "last owner of the organization acme-corp" in refused.get_json()["message"]
    assert member_deleted.status_code == 204
    with app.app_context():
        assert db.session.get(Organization, solo["id"]) is None
        assert db.session.get(Organization, org["id"]).member_count == 1


def test_the_last_owner_does_not_delete_their_own_account_and_their_export_lists_memberships(
    app, client, owner, owner_headers, org, make_user, auth
) -> None:
    joined(app, client, owner_headers, org, make_user("mia"), auth)

    exported = client.get("/users/me/export", headers=owner_headers)
    refused = client.delete("/users/me", headers=owner_headers)
    still_there = client.get(f"/orgs/{org['id']}", headers=owner_headers)

    assert exported.status_code == 200
    assert [
        (membership["organization_id"], membership["roles"])
        for membership in exported.get_json()["memberships"]
    ] == [(org["id"], ["owner"])]
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "conflict"
    assert "last owner of the organization acme-corp" in refused.get_json()["message"]
    assert still_there.status_code == 200


def test_permission_checks_in_an_organization(
    app, client, owner, owner_headers, org, make_user, auth
) -> None:
    _member, member_headers = joined(app, client, owner_headers, org, make_user("mia"), auth)
    outsider = auth(make_user("oscar"))
    checks = [
        {"permission": "members:manage", "organization_id": org["id"]},
        {"permission": "bucketlists:read", "organization_id": org["id"]},
        {"permission": "members:manage", "organization_id": org["id"], "user_id": owner.id},
    ]

    asked_by_member = client.post("/authz/check", json={"checks": checks}, headers=member_headers)
    asked_by_outsider = client.post("/authz/check", json={"checks": checks[:2]}, headers=outsider)
    mine = client.get("/users/me/permissions", headers=member_headers)

    assert [r["allowed"] for r in asked_by_member.get_json()["results"]] == [False, True, True]
    assert [r["allowed"] for r in asked_by_outsider.get_json()["results"]] == [False, False]
    assert mine.get_json()["organizations"] == [
        {
            "id": org["id"],
            "slug": "acme-corp",
            "roles": ["member"],
            "permissions": ["bucketlists:read"],
        }
    ]


def test_support_staff_see_every_organization_and_are_audited(
    app, client, org, make_user, auth
) -> None:
    admin = auth(make_user("root", roles=("admin",)))

    shown = client.get(f"/orgs/{org['id']}", headers=admin)
    log = client.get(f"/orgs/{org['id']}/audit-events", headers=admin)

    assert shown.status_code == 200
    assert shown.get_json()["my_roles"] == []
    assert log.status_code == 200
    assert actions(app, org["id"]).count("org.staff_access") == 2


def test_a_staff_visit_is_logged_with_its_visitor_request_and_request_ids(
    client, owner_headers, org, make_user, auth
) -> None:
    staff = make_user("root", roles=("admin",))
    admin = auth(staff)

    shown = client.get(f"/orgs/{org['id']}", headers={**admin, "X-Request-ID": "ticket-42"})
    members = client.get(f"/orgs/{org['id']}/members", headers=admin)
    log = client.get(
        f"/orgs/{org['id']}/audit-events?action=org.staff_access", headers=owner_headers
    )

    assert shown.status_code == members.status_code == log.status_code == 200
    visits = [
        {key: event[key] for key in ("actor_id", "target_id", "organization_id", "changes")}
        for event in log.get_json()["items"]
    ]
    assert visits == [
        {
            "actor_id": staff.id,
            "target_id": None,
            "organization_id": org["id"],
            "changes": {"request": [None, f"GET /orgs/{org['id']}/members"]},
        },
        {
            "actor_id": staff.id,
            "target_id": None,
            "organization_id": org["id"],
            "changes": {"request": [None, f"GET /orgs/{org['id']}"]},
        },
    ]
    unlabelled, labelled = log.get_json()["items"]
    # Without an X-Request-ID of the client's, the response's id is the server's own.
    assert unlabelled["request_id"] == unlabelled["server_request_id"]
    assert unlabelled["server_request_id"] == members.headers["X-Request-ID"]
    assert labelled["request_id"] == "ticket-42"
    assert re.fullmatch(r"[0-9a-f]{32}", labelled["server_request_id"])
    assert labelled["server_request_id"] != unlabelled["server_request_id"]


def test_organization_bucketlists_are_changed_with_bucketlists_write_and_hidden_from_outsiders(
    app, client, owner_headers, org, make_user, auth
) -> None:
    _member, member_headers = joined(app, client, owner_headers, org, make_user("mia"), auth)
    outsider = auth(make_user("oscar"))
    made = client.post(
        "/bucketlists",
        json={"name": "Offsite", "organization_id": org["id"]},
        headers=owner_headers,
    )
    path = f"/bucketlists/{made.get_json()['id']}"

    renamed = client.patch(path, json={"name": "Retreat"}, headers=owner_headers)
    by_member = client.patch(path, json={"name": "Mine now"}, headers=member_headers)
    by_outsider = client.get(path, headers=outsider)
    outsider_writes = client.patch(path, json={"name": "Mine now"}, headers=outsider)

    assert made.status_code == 201
    assert renamed.status_code == 200
    assert (renamed.get_json()["name"], renamed.get_json()["organization_id"]) == (
        "Retreat",
        org["id"],
    )
    assert by_member.status_code == 403
    assert (by_member.get_json()["error"], by_member.get_json()["details"]) == (
        "forbidden",
        {"permissions": ["bucketlists:write"]},
    )
    for refused in (by_outsider, outsider_writes):
        assert refused.status_code == 404
        assert refused.get_json() == {
            "error": "not_found",
            "message": "No bucketlist has that id.",
            "status": 404,
            "request_id": refused.headers["X-Request-ID"],
        }
    with app.app_context():
        assert db.session.get(Bucketlist, made.get_json()["id"]).name == "Retreat"


def test_a_token_bound_to_an_organization_reaches_no_object_outside_it(
    app, client, owner_headers, org
) -> None:
    elsewhere = make_org(client, owner_headers, name="Elsewhere")
    personal = client.post("/bucketlists", json={"name": "Personal"}, headers=owner_headers)
    other_org = client.post(
        "/bucketlists",
        json={"name": "Other", "organization_id": elsewhere["id"]},
        headers=owner_headers,
    )
    in_org = client.post(
        "/bucketlists", json={"name": "Shared", "organization_id": org["id"]}, headers=owner_headers
    )
    made = bound_token(client, owner_headers, org["id"], ["bucketlists:read", "bucketlists:write"])
    token = bearer(made.get_json()["token"])

    # (The token's holder owns the first and may do anything in the other organization.)
    refused = [
        client.get(f"/bucketlists/{personal.get_json()['id']}", headers=token),
        client.get(f"/bucketlists/{other_org.get_json()['id']}", headers=token),
        client.patch(
            f"/bucketlists/{personal.get_json()['id']}", json={"name": "Moved"}, headers=token
        ),
    ]
    reached = client.get(f"/bucketlists/{in_org.get_json()['id']}", headers=token)

    for response in refused:
        assert response.status_code == 404
        assert without_request_id(response.get_json()) == {
            "error": "not_found",
            "message": "No bucketlist has that id.",
            "status": 404,
        }
    assert reached.status_code == 200
    assert reached.get_json()["name"] == "Shared"
    with app.app_context():
        assert db.session.get(Bucketlist, personal.get_json()["id"]).name == "Personal"


def test_a_token_bound_to_an_organization_is_told_to_name_it_for_bucketlists(
    app, client, owner_headers, org
) -> None:
    made = bound_token(client, owner_headers, org["id"], ["bucketlists:read", "bucketlists:write"])
    token = bearer(made.get_json()["token"])

    listed = client.get("/bucketlists", headers=token)
    created = client.post("/bucketlists", json={"name": "Personal"}, headers=token)
    in_org = client.post(
        "/bucketlists", json={"name": "Shared", "organization_id": org["id"]}, headers=token
    )

    assert made.status_code == 201
    for refused in (listed, created):
        assert refused.status_code == 403
        assert refused.get_json() == {
            "error": "insufficient_scope",
            "message": (
                f"This token reaches its organization only: give organization_id {org['id']}."
            ),
            "status": 403,
            "request_id": refused.headers["X-Request-ID"],
        }
    assert in_org.status_code == 201
    assert in_org.get_json()["organization_id"] == org["id"]
    with app.app_context():
        assert db.session.scalars(select(Bucketlist.name)).all() == ["Shared"]


def test_an_organization_nobody_may_see_answers_one_404_whoever_asks(
    client, owner_headers, org, make_user, auth
) -> None:
    """An outsider, a missing id and a token bound to another organization read the same
    answer: nothing tells an organization that exists from one that does not."""
    outsider = auth(make_user("oscar"))
    other = make_org(client, owner_headers, name="Elsewhere")
    made = client.post(
        "/users/me/tokens",
        json={"name": "ci", "scopes": ["bucketlists:read"], "organization_id": other["id"]},
        headers=owner_headers,
    )
    bound_elsewhere = bearer(made.get_json()["token"])

    hidden = client.get(f"/orgs/{org['id']}", headers=outsider)
    nowhere = client.get("/orgs/999999", headers=outsider)
    other_organization = client.get(f"/orgs/{org['id']}/bucketlists", headers=bound_elsewhere)

    assert made.status_code == 201
    for refused in (hidden, nowhere, other_organization):
        assert refused.status_code == 404
        assert without_request_id(refused.get_json()) == {
            "error": "not_found",
            "message": "No organization of yours has that id.",
            "status": 404,
        }


def test_a_role_a_pending_invitation_offers_is_not_deleted(
    app, client, owner_headers, org, make_user
) -> None:
    """Else the invitation would keep a name the organization no longer has, and a role made
    later under that name would grant itself to whoever accepts."""
    base = f"/orgs/{org['id']}/roles"
    made = client.post(
        base,
        json={"name": "auditor", "description": "Reads the log.", "permissions": ["audit:read"]},
        headers=owner_headers,
    )
    invited = invite(client, owner_headers, org["id"], make_user("ivy").email, ["auditor"])

    refused = client.delete(f"{base}/auditor", headers=owner_headers)
    revoked = client.delete(
        f"/orgs/{org['id']}/invitations/{invited.get_json()['id']}", headers=owner_headers
    )
    deleted = client.delete(f"{base}/auditor", headers=owner_headers)

    assert (made.status_code, invited.status_code) == (201, 201)
    assert refused.status_code == 409
    assert without_request_id(refused.get_json()) == {
        "error": "conflict",
        "message": "Pending invitations offer this role: revoke them first.",
        "status": 409,
    }
    assert (revoked.status_code, deleted.status_code) == (204, 204)
    assert client.get(f"{base}/auditor", headers=owner_headers).status_code == 404


def test_a_renamed_role_is_renamed_in_pending_invitations(
    app, client, owner_headers, org, make_user, auth
) -> None:
    invitee = make_user("ivy")
    headers = auth(invitee)
    base = f"/orgs/{org['id']}/roles"
    client.post(
        base,
        json={"name": "auditor", "description": "Reads the log.", "permissions": ["audit:read"]},
        headers=owner_headers,
    )
    assert invite(client, owner_headers, org["id"], invitee.email, ["auditor"]).status_code == 201

    renamed = client.patch(f"{base}/auditor", json={"name": "reviewer"}, headers=owner_headers)
    pending = client.get(f"/orgs/{org['id']}/invitations", headers=owner_headers)
    accepted = client.post(
        "/invitations/accept", json={"token": mailed_token(app)}, headers=headers
    )
    log = client.get(f"/orgs/{org['id']}/audit-events", headers=headers)

    assert (renamed.status_code, renamed.get_json()["name"]) == (200, "reviewer")
    assert pending.status_code == 200
    assert [item["roles"] for item in pending.get_json()["items"]] == [["reviewer"]]
    assert (accepted.status_code, accepted.get_json()["roles"]) == (200, ["reviewer"])
    # (audit:read, which the renamed role grants)
    assert log.status_code == 200
    assert {item["action"] for item in log.get_json()["items"]} >= {
        "role.updated",
        "invitation.accepted",
    }


def test_a_role_name_the_organization_no_longer_has_grants_nothing(
    app, client, owner_headers, org, make_user, auth
) -> None:
    """A member may still hold one (a role deleted while an invitation naming it was being
    accepted): it grants nothing, and breaks nothing."""
    member, headers = joined(app, client, owner_headers, org, make_user("ivy"), auth)
    with app.app_context():
        db.session.execute(
            update(Membership).where(Membership.user_id == member.id).values(roles=["auditor"])
        )
        db.session.commit()

    shown = client.get(f"/orgs/{org['id']}", headers=headers)
    log = client.get(f"/orgs/{org['id']}/audit-events", headers=headers)
    mine = client.get("/users/me/permissions", headers=headers)

    assert (shown.status_code, shown.get_json()["my_roles"]) == (200, ["auditor"])
    assert log.status_code == 403
    assert without_request_id(log.get_json()) == {
        "error": "forbidden",
        "message": "This needs the permission audit:read.",
        "status": 403,
        "details": {"permissions": ["audit:read"]},
    }
    assert mine.status_code == 200
    assert mine.get_json()["organizations"] == [
        {"id": org["id"], "slug": "acme-corp", "roles": ["auditor"], "permissions": []}
    ]


def test_an_owners_permissions_in_the_organization_read_no_role(
    app, client, owner_headers, org, make_user, auth, counted_statements
) -> None:
    """``owner`` grants everything whatever the organization's roles say: an owner's request
    reads none of them; a member's reads those it holds, in one statement."""
    _member, member_headers = joined(app, client, owner_headers, org, make_user("mia"), auth)
    path = f"/orgs/{org['id']}"
    # (The first request after a change of roles reloads what platform roles grant.)
    assert client.get(path, headers=owner_headers).status_code == 200

    with counted_statements() as by_owner:
        as_owner = client.get(path, headers=owner_headers)
    with counted_statements() as by_member:
        as_member = client.get(path, headers=member_headers)

    assert (as_owner.status_code, as_owner.get_json()["my_roles"]) == (200, ["owner"])
    assert (as_member.status_code, as_member.get_json()["my_roles"]) == (200, ["member"])
    assert [statement for statement in by_owner if "FROM roles" in statement] == []
    assert len([statement for statement in by_member if "FROM roles" in statement]) == 1
