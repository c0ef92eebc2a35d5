"""Sessions against a real gunicorn with several workers: concurrent refreshes of one token leave
one live token, a reuse after the grace ends the session in every worker at once, and an ended
session's tokens are refused by every worker on the very next request."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import RefreshToken
from tests.support.processes import call
from tests.support.signin import tokens_over_http

PASSWORD = "sessions-e2e-password"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(serve):
    # No grace: a retired token presented again is a reuse at once.
    return serve(WEB_CONCURRENCY="4", REFRESH_REUSE_GRACE="0")


@pytest.fixture
def signed_in(server, make_user):
    account = make_user("traveller", password=PASSWORD)
    return lambda: tokens_over_http(server.base_url, account.username, PASSWORD)


def _every_worker_answers(base: str, token: str, times: int = 12) -> set[tuple[int, str]]:
    """What a dozen requests with ``token`` get: with four workers, several of them answer."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(lambda _: call(base, "GET", "/users/me", token=token), range(times))
        )
    return {(status, (body or {}).get("error", "ok")) for status, _, body in results}


def test_concurrent_refreshes_of_one_token_leave_one_live_token(app, server, signed_in) -> None:
    body = signed_in()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(
                lambda _: call(
                    server.base_url, "POST", "/refresh", {"refresh_token": body["refresh_token"]}
                ),
                range(8),
            )
        )

    statuses = sorted(status for status, _, _ in results)
    # One rotation; with no grace, every other refresh of the same token is a reuse, which
    # ends the session: never two live tokens.
    assert statuses.count(200) == 1
    assert set(statuses) <= {200, 401}
    assert all(answer["error"] == "token_revoked" for status, _, answer in results if status == 401)
    with app.app_context():
        live = db.session.scalar(
            select(func.count()).select_from(RefreshToken).where(RefreshToken.used_at.is_(None))
        )
    # The one token the rotation issued, in a session the reuses then ended.
    assert live == 1
    [rotated] = [answer for status, _, answer in results if status == 200]
    status, _, answer = call(
        server.base_url, "POST", "/refresh", {"refresh_token": rotated["refresh_token"]}
    )
    assert (status, answer["error"]) == (401, "token_revoked")


def test_a_reuse_ends_the_session_in_every_worker_at_once(server, signed_in) -> None:
    first = signed_in()
    status, _, second = call(
        server.base_url, "POST", "/refresh", {"refresh_token": first["refresh_token"]}
    )
    assert status == 200
    assert _every_worker_answers(server.base_url, second["access_token"]) == {(200, "ok")}

    status, _, answer = call(
        server.base_url, "POST", "/refresh", {"refresh_token": first["refresh_token"]}
    )

    assert (status, answer["error"]) == (401, "token_revoked")
    for token in (first["access_token"], second["access_token"]):
        assert _every_worker_answers(server.base_url, token) == {(401, "token_revoked")}
    status, _, answer = call(
        server.base_url, "POST", "/refresh", {"refresh_token": second["refresh_token"]}
    )
    assert (status, answer["error"]) == (401, "token_revoked")


def test_a_logout_is_refused_by_every_worker_on_the_next_request(server, signed_in) -> None:
    ended, kept = signed_in(), signed_in()

    status, _, body = call(server.base_url, "POST", "/logout", token=ended["access_token"])

    assert status == 204
    assert body is None
    assert _every_worker_answers(server.base_url, ended["access_token"]) == {(401, "token_revoked")}
    assert _every_worker_answers(server.base_url, kept["access_token"]) == {(200, "ok")}


@pytest.fixture(scope="module")
def graceful_server(serve):
    """The default grace: a retry of the previous refresh token within 10 s is answered."""
    return serve(WEB_CONCURRENCY="4")


def _race(base: str, session: dict, old: str, new: str) -> tuple[tuple, list[tuple]]:
    """A password change and eight refreshes of its session, 10 ms apart, at once."""

    def change():
        body = {"current_password": old, "new_password": new}
        return call(base, "PUT", "/users/me/password", body, token=session["access_token"])

    def refresh(delay: float):
        time.sleep(delay)
        return call(base, "POST", "/refresh", {"refresh_token": session["refresh_token"]})

    with ThreadPoolExecutor(max_workers=9) as pool:
        changed = pool.submit(change)
        refreshed = list(pool.map(refresh, [0.01 * step for step in range(8)]))
    return changed.result(), refreshed


def test_a_password_change_racing_refreshes_of_its_session_is_served_in_turn(
    graceful_server, make_user
) -> None:
    """The change and the refreshes lock the session in one order: each is served after the
    other, never a 409 (two live refresh tokens) or a deadlock's 503. The refreshes (retries of
    one token, within the grace) are spread over the time the change spends hashing, so some
    meet it while it retires the session's tokens."""
    base = graceful_server.base_url
    account = make_user("racer", password=PASSWORD)
    passwords = [PASSWORD, "a-new-pass-phrase-0"]
    refreshed_statuses = []
    for trial in range(10):
        old, new = passwords[trial % 2], passwords[(trial + 1) % 2]
        session = tokens_over_http(base, account.username, old)

        changed, refreshed = _race(base, session, old, new)

        assert changed[0] == 200, changed
        assert changed[2]["token_type"] == "Bearer"
        for status, _, answer in refreshed:
            assert status == 200 or (status, answer["error"]) == (401, "token_revoked"), answer
            if status == 200:
                assert answer["token_type"] == "Bearer"
        refreshed_statuses += [status for status, _, _ in refreshed]
    assert 200 in refreshed_statuses
