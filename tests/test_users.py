"""User representations per audience, and the pagination envelope."""

import json
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import PersonalToken, RecoveryCode, RefreshToken, User
from tests.support.signin import bearer
from tests.support.totp import Authenticator

PUBLIC_FIELDS = {"id", "username", "created_at", "_links"}
SELF_FIELDS = PUBLIC_FIELDS | {
    "email",
    "roles",
    "is_active",
    "email_confirmed",
    "last_login_at",
    "mfa_enabled",
}
ADMIN_FIELDS = SELF_FIELDS | {
    "failed_login_count",
    "locked_until",
    "password_changed_at",
    "updated_at",
}
UTC_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")


def test_me_is_the_self_view(client, member, auth) -> None:
    response = client.get("/users/me", headers=auth(member))

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == SELF_FIELDS
    assert body["id"] == member.id
    assert body["email"] == member.email
    assert body["roles"] == ["user"]
    assert body["is_active"] is True
    assert body["_links"] == {"self": f"/users/{member.id}"}
    assert UTC_SECONDS.fullmatch(body["created_at"])


def test_users_list_shows_public_views_only(client, member, admin, auth) -> None:
    response = client.get("/users", headers=auth(member))

    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [item["username"] for item in items] == ["member", "admin"]
    assert all(set(item) == PUBLIC_FIELDS for item in items)


def test_admin_only_list_shows_admin_views(client, member, operator, auth) -> None:
    response = client.get("/users/admin-only", headers=auth(operator))

    assert response.status_code == 200
    items = response.get_json()["items"]
    assert all(set(item) == ADMIN_FIELDS for item in items)
    assert items[0]["failed_login_count"] == 0


@pytest.mark.parametrize(
    ("viewer", "target", "fields"),
    [
        ("member", "admin", PUBLIC_FIELDS),
        ("member", "member", SELF_FIELDS),
        ("operator", "member", ADMIN_FIELDS),
        ("admin", "member", ADMIN_FIELDS),
        ("admin", "admin", ADMIN_FIELDS),
    ],
)
def test_user_by_id_shows_what_the_viewer_may_see(
    client, member, admin, operator, auth, viewer, target, fields
) -> None:
    accounts = {"member": member, "admin": admin, "operator": operator}

    response = client.get(f"/users/{accounts[target].id}", headers=auth(accounts[viewer]))

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == fields
    assert body["username"] == target


def test_unknown_user_id_is_404(client, member, auth) -> None:
    response = client.get("/users/987654", headers=auth(member))

    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_no_response_ever_contains_the_password_hash(app, client, admin, member, auth) -> None:
    with app.app_context():
        hashes = [user.password for user in db.session.scalars(db.select(User))]
    login = client.post("/login", json={"username": "admin", "password": admin.password})
    responses = [login] + [
        client.get(path, headers=auth(admin))
        for path in ["/", "/users", "/users/me", "/users/admin-only", f"/users/{member.id}"]
    ]

    for response in responses:
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert "argon2" not in text
        assert 'password"' not in text
        assert "token_version" not in text
        assert not any(stored in text for stored in hashes)


def test_pagination_envelope(client, make_user, admin, auth) -> None:
    for number in range(4):
        make_user(f"extra{number}")

    response = client.get("/users?per_page=2&page=2", headers=auth(admin))

    assert response.status_code == 200
    body = response.get_json()
    assert [item["username"] for item in body["items"]] == ["extra1", "extra2"]
    assert body["_meta"] == {"page": 2, "per_page": 2, "total_pages": 3, "total_items": 5}
    links = body["_links"]
    assert links["self"] == "/users?page=2&per_page=2"
    assert links["prev"] == "/users?page=1&per_page=2"
    assert links["first"] == "/users?page=1&per_page=2"
    # Links further on carry a cursor (and the page number they lead to).
    assert links["next"].startswith("/users?page=3&per_page=2&cursor=")
    assert links["last"].startswith("/users?page=3&per_page=2&cursor=")
    following = client.get(links["next"], headers=auth(admin))
    assert following.status_code == 200
    assert [item["username"] for item in following.get_json()["items"]] == ["extra3"]


def test_pagination_defaults_and_links_keep_other_parameters(client, admin, auth) -> None:
    response = client.get("/users?q=adm&sort=username", headers=auth(admin))

    assert response.status_code == 200
    body = response.get_json()
    assert body["_meta"] == {"page": 1, "per_page": 20, "total_pages": 1, "total_items": 1}
    assert body["_links"]["self"] == "/users?page=1&per_page=20&q=adm&sort=username"
    assert body["_links"]["next"] is None
    assert body["_links"]["prev"] is None


def test_page_past_the_end_is_200_with_no_items(client, admin, auth) -> None:
    response = client.get("/users?page=9", headers=auth(admin))

    assert response.status_code == 200
    body = response.get_json()
    assert body["items"] == []
    assert body["_meta"]["total_items"] == 1
    # Back to the last page there is (the first, here).
    assert body["_links"]["prev"] == "/users?page=1&per_page=20"
    assert body["_links"]["next"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=x", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
    ],
)
def test_bad_pagination_parameters_are_400(client, admin, auth, query, field) -> None:
    response = client.get(f"/users?{query}", headers=auth(admin))

    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "bad_request"
    assert field in body["details"]


def test_root_links_to_every_top_level_resource(client) -> None:
    response = client.get("/")

    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "Gatehouse"
    assert body["version"] == "1.0.0"
    links = body["_links"]
    # What an anonymous GET of each link answers: open pages 200, POST-only 405, the rest 401.
    expected = {
        "self": 200,
        "health": 200,
        "openapi": 200,
        "docs": 200,
        "jwks": 200,
        "openid_configuration": 200,
        "login": 405,
        "register": 405,
        "users": 401,
        "me": 401,
        "admin_users": 401,
        "audit_events": 401,
        "bucketlists": 401,
        "roles": 401,
        "permissions": 401,
        "authz_check": 405,
        "orgs": 401,
        "webhooks": 401,
    }
    assert set(links) == set(expected)
    for name, path in links.items():
        assert client.get(path).status_code == expected[name], name


def test_health_reports_the_database(client) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_health_is_503_in_the_envelope_when_the_database_is_unreachable(
    migrated_database, monkeypatch
) -> None:
    from app import create_app

    monkeypatch.setenv("TEST_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    unreachable = create_app("testing")

    response = unreachable.test_client().get("/health")

    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "service_unavailable"
    assert body["details"] == {"database": "unavailable"}
    assert "127.0.0.1" not in json.dumps(body)


def test_an_absurdly_large_page_is_an_empty_page(client, admin, auth) -> None:
    response = client.get("/users?page=36889854935492907008&per_page=25", headers=auth(admin))

    assert response.status_code == 200
    body = response.get_json()
    assert body["items"] == []
    assert body["_meta"]["page"] == 36889854935492907008
    assert body["_links"]["prev"] == "/users?page=1&per_page=25"


def test_no_answer_of_any_kind_holds_a_secret(app, client, admin, member, auth) -> None:
    """Sessions, token lists, audit events, the second step of a sign-in, profiles: after the
    answer that issued it, no secret ever shows again, nor any digest or sealed form kept."""
    headers = auth(member)
    started = client.post("/users/me/mfa/totp", headers=headers)
    secret = started.get_json()["secret"]
    confirmed = client.post(
        "/users/me/mfa/totp/confirm", json={"code": Authenticator(secret).code()}, headers=headers
    )
    recovery_codes = confirmed.get_json()["recovery_codes"]
    created = client.post(
        "/users/me/tokens", json={"name": "ci", "scopes": ["profile"]}, headers=headers
    )
    personal = created.get_json()["token"]
    first = client.post("/login", json={"username": "member", "password": member.password})
    mfa_token = first.get_json()["mfa_token"]
    second = client.post(
        "/login/mfa", json={"mfa_token": mfa_token, "recovery_code": recovery_codes[0]}
    )
    issued = second.get_json()
    with app.app_context():
        user = db.session.get(User, member.id)
        kept = [user.password, user.totp_secret]
        kept += db.session.scalars(select(RefreshToken.token_hash)).all()
        kept += db.session.scalars(select(PersonalToken.digest)).all()
        kept += db.session.scalars(select(RecoveryCode.code_hash)).all()
    secrets = [secret, personal, mfa_token, issued["refresh_token"], *recovery_codes, *kept]

    later = [
        client.get(path, headers=bearer(issued["access_token"]))
        for path in ("/users/me", "/users/me/sessions", "/users/me/tokens", "/users/me/identities")
    ] + [
        client.get(path, headers=auth(admin))
        for path in (
            f"/users/{member.id}",
            f"/users/{member.id}/sessions",
            f"/users/{member.id}/tokens",
            "/users/admin-only",
            "/audit-events?per_page=100",
        )
    ]

    assert (started.status_code, confirmed.status_code, created.status_code) == (200, 200, 201)
    assert first.status_code == 200
    assert (second.status_code, issued["token_type"]) == (200, "Bearer")
    # The second step's own answer issues tokens, and holds no other secret.
    assert not any(
        found in second.get_data(as_text=True)
        for found in [secret, personal, mfa_token, *recovery_codes, *kept]
    )
    for response in later:
        assert response.status_code == 200, response.request.path
        text = response.get_data(as_text=True)
        assert response.get_json()
        leaked = [found for found in secrets if found and found in text]
        assert leaked == [], response.request.path
        assert "token_version" not in text
        assert "argon2" not in text
