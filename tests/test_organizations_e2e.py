"""Organizations against a real gunicorn: isolation as a property of every route of an
organization (taken from the OpenAPI document, so a new route is covered as it comes): to
anyone who is not a member 404, to a member lacking the route's permission 403, for every
method; and the last-owner rule when two owners demote or remove each other at the same moment.
"""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete, select

from app.extensions import db
from app.models import Membership, Organization
from tests.support.processes import call
from tests.support.signin import tokens_over_http

pytestmark = pytest.mark.e2e

PASSWORD = "orgs-e2e-passphrase"
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def server(serve):
    return serve(WEB_CONCURRENCY="2")


def token(server, account) -> str:
    return tokens_over_http(server.base_url, account.username, PASSWORD)["access_token"]


def make_org(server, owner_token: str, name: str) -> int:
    status, _, body = call(server.base_url, "POST", "/orgs", {"name": name}, token=owner_token)
    assert status == 201, body
    return body["id"]


def add_member(app, organization_id: int, account, roles: list[str]) -> None:
    """A membership written as an accepted invitation leaves it (the invitation flow has its
    own tests)."""
    with app.app_context():
        db.session.add(Membership(organization_id=organization_id, user_id=account.id, roles=roles))
        organization = db.session.get(Organization, organization_id)
        organization.member_count += 1
        db.session.commit()


def organization_operations(server) -> list[tuple[str, str, str | None]]:
    """(method, path template, the organization permission it names) of every documented
    operation under /orgs/{org_id}."""
    spec = call(server.base_url, "GET", "/openapi.json")[2]
    found = []
    for path, item in spec["paths"].items():
        if not path.startswith("/orgs/{org_id}"):
            continue
        for method in METHODS:
            if method in item:
                found.append((method, path, item[method].get("x-organization-permission")))
    return found


def test_every_route_of_an_organization_is_404_to_outsiders_and_403_without_permission(
    app, server, make_user
) -> None:
    owner = make_user("owner1", password=PASSWORD)
    member = make_user("member1", password=PASSWORD)
    outsider = make_user("outsider1", password=PASSWORD)
    organization_id = make_org(server, token(server, owner), "Isolated")
    add_member(app, organization_id, member, ["member"])
    member_token, outsider_token = token(server, member), token(server, outsider)
    operations = organization_operations(server)
    refused_members = 0

    for method, path, permission in operations:
        concrete = re.sub(
            r"\{(\w+)\}",
            lambda m: {"org_id": str(organization_id), "user_id": str(owner.id)}.get(
                m.group(1), "1" if m.group(1).endswith("_id") else "owner"
            ),
            path,
        )
        body = {} if method in ("post", "put", "patch") else None
        by_outsider = call(server.base_url, method.upper(), concrete, body, token=outsider_token)
        assert (method, path, by_outsider[0], by_outsider[2]["error"]) == (
            method,
            path,
            404,
            "not_found",
        )
        if permission is not None and permission != "bucketlists:read":
            by_member = call(server.base_url, method.upper(), concrete, body, token=member_token)
            assert (method, path, by_member[0]) == (method, path, 403)
            assert by_member[2]["details"] == {"permissions": [permission]}
            refused_members += 1

    assert len(operations) >= 14
    assert refused_members >= 10


def test_two_owners_removing_each_other_at_once_leave_one(app, server, make_user) -> None:
    first = make_user("owner-a", password=PASSWORD)
    second = make_user("owner-b", password=PASSWORD)
    first_token, second_token = token(server, first), token(server, second)
    organization_id = make_org(server, first_token, "Race")
    add_member(app, organization_id, second, ["owner"])
    base = f"/orgs/{organization_id}/members"

    outcomes = []
    for round_number in range(20):
        demote = round_number % 2 == 0

        def act(pair, demote=demote):
            actor_token, target = pair
            return call(
                server.base_url,
                "PATCH" if demote else "DELETE",
                f"{base}/{target.id}",
                {"roles": ["member"]} if demote else None,
                token=actor_token,
            )[0]

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(act, [(first_token, second), (second_token, first)]))
        outcomes.append(sorted(results))
        owners = owners_of(app, organization_id)
        assert len(owners) == 1, (round_number, results)
        # Put the other owner back for the next round.
        restore_second_owner(app, organization_id, owners[0], first, second)

    # Exactly one of the two succeeds; the other is refused: 409 (it saw the last owner), or,
    # served after the first committed, 403 (no longer an owner) or 404 (no longer a member).
    for number, (success, refusal) in enumerate(outcomes):
        assert success == (200 if number % 2 == 0 else 204), outcomes
        assert refusal in (403, 404, 409), outcomes


def owners_of(app, organization_id: int) -> list[int]:
    with app.app_context():
        return db.session.scalars(
            select(Membership.user_id).where(
                Membership.organization_id == organization_id,
                Membership.roles.contains(["owner"]),
            )
        ).all()


def restore_second_owner(app, organization_id: int, remaining: int, first, second) -> None:
    other = second if remaining == first.id else first
    with app.app_context():
        db.session.execute(
            delete(Membership).where(
                Membership.organization_id == organization_id,
                Membership.user_id == other.id,
            )
        )
        db.session.add(
            Membership(organization_id=organization_id, user_id=other.id, roles=["owner"])
        )
        db.session.commit()
