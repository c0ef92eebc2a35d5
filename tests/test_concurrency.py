"""Real concurrent requests against a multi-worker gunicorn: invariants hold, nothing is lost,
duplicates are 409 (never 500), and the last active admin stays."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import BucketlistItem, User, UserSession
from tests.support.processes import call
from tests.support.signin import tokens_over_http

PASSWORD = "concurrent-password"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(serve):
    return serve(WEB_CONCURRENCY="4")


def _all(calls) -> list:
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(lambda args: call(*args), calls))


def _register(base, username, email):
    return (base, "POST", "/register", {"username": username, "email": email, "password": PASSWORD})


def test_parallel_registrations_of_one_username_make_one_account(app, server) -> None:
    base = server.base_url
    results = _all([_register(base, "Contested", f"c{n}@example.com") for n in range(24)])

    statuses = sorted(status for status, _, _ in results)
    assert statuses.count(201) == 1
    assert statuses.count(409) == 23
    assert all(body["error"] == "conflict" for status, _, body in results if status == 409)
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(User)
                .where(func.lower(User.username) == "contested")
            )
            == 1
        )


def test_parallel_registrations_of_one_email_make_one_account(app, server) -> None:
    base = server.base_url
    results = _all([_register(base, f"name{n}", "Same@Example.com") for n in range(24)])

    assert sorted(status for status, _, _ in results) == [201] + [409] * 23
    assert all(body["error"] == "conflict" for status, _, body in results if status == 409)
    [created] = [body for status, _, body in results if status == 201]
    assert created["email"].lower() == "same@example.com"


def test_parallel_distinct_registrations_all_succeed(app, server) -> None:
    base = server.base_url
    results = _all([_register(base, f"crowd{n}", f"crowd{n}@example.com") for n in range(40)])

    assert {status for status, _, _ in results} == {201}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 40


def test_parallel_admin_writes_are_all_kept(app, make_user, server) -> None:
    base = server.base_url
    make_user("boss", roles=("admin",), password=PASSWORD)
    targets = [make_user(f"staff{n}") for n in range(30)]
    token = tokens_over_http(base, "boss", PASSWORD)["access_token"]

    results = _all(
        [
            (base, "PATCH", f"/users/{target.id}", {"email": f"new{target.id}@example.com"}, token)
            for target in targets
        ]
    )

    assert {status for status, _, _ in results} == {200}
    with app.app_context():
        emails = dict(db.session.execute(select(User.user_id, User.email)).all())
    assert all(emails[target.id] == f"new{target.id}@example.com" for target in targets)


def test_parallel_logins_of_one_account_keep_to_the_session_cap(app, make_user, server) -> None:
    """SESSIONS_PER_USER (10 here) holds when 24 logins of one account arrive at once: each
    waits for the one before it to count the live sessions, so exactly 10 stay live."""
    user = make_user("traveller", password=PASSWORD)
    base = server.base_url
    results = _all([(base, "POST", "/login", {"username": "traveller", "password": PASSWORD})] * 24)

    assert {status for status, _, _ in results} == {200}
    assert all(body["token_type"] == "Bearer" for _, _, body in results)
    with app.app_context():
        live = db.session.scalar(
            select(func.count())
            .select_from(UserSession)
            .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        )
    assert live == 10
    answers = [call(base, "GET", "/users/me", token=body["access_token"]) for *_, body in results]
    assert sorted(status for status, _, _ in answers) == [200] * 10 + [401] * 14


def test_parallel_item_creation_loses_nothing(app, make_user, server) -> None:
    base = server.base_url
    make_user("writer", password=PASSWORD)
    token = tokens_over_http(base, "writer", PASSWORD)["access_token"]
    list_id = call(base, "POST", "/bucketlists", {"name": "Busy"}, token)[2]["id"]

    results = _all(
        [
            (base, "POST", f"/bucketlists/{list_id}/items", {"title": f"t{n}"}, token)
            for n in range(60)
        ]
    )

    assert {status for status, _, _ in results} == {201}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BucketlistItem)) == 60


@pytest.mark.parametrize("round_number", range(3))
def test_admins_demoting_each_other_at_once_leave_an_admin(
    app, make_user, server, round_number
) -> None:
    base = server.base_url
    admins = [make_user(f"admin{n}", roles=("admin",), password=PASSWORD) for n in range(4)]
    tokens = [
        tokens_over_http(base, account.username, PASSWORD)["access_token"] for account in admins
    ]

    results = _all(
        [
            (base, "PATCH", f"/users/{admins[(n + 1) % 4].id}", {"roles": ["user"]}, tokens[n])
            for n in range(4)
        ]
        + [(base, "DELETE", f"/users/{admins[(n + 2) % 4].id}", None, tokens[n]) for n in range(4)]
    )

    # Each change is made, or refused for a reason of its own: its admin was demoted or deleted
    # first (their sessions ended), its target is gone, or it would remove the last admin.
    refusals = {401: "token_revoked", 404: "not_found", 409: "conflict"}
    demotions, deletions = results[:4], results[4:]
    for status, _, body in demotions:
        assert status in {200, *refusals}, (status, body)
        assert body["roles"] == ["user"] if status == 200 else body["error"] == refusals[status]
    for status, _, body in deletions:
        assert status in {204, *refusals}, (status, body)
        assert body is None if status == 204 else body["error"] == refusals[status]
    made = [status for status, _, _ in results if status in (200, 204)]
    assert made, results
    with app.app_context():
        remaining = db.session.scalars(
            select(User.user_id).where(User.is_active, User.has_role("admin"))
        ).all()
        present = set(db.session.scalars(select(User.user_id)).all())
    assert len(remaining) >= 1
    for n, (status, _, _) in enumerate(deletions):
        if status == 204:
            assert admins[(n + 2) % 4].id not in present
