"""Browser mode (REFRESH_COOKIE=true), with a client that keeps cookies: the refresh token lives
in an HttpOnly, Secure, SameSite=Strict cookie scoped to /refresh and /logout, never in a body;
those routes need the custom header; CORS sends credentials to CORS_ORIGINS only."""

import pytest

from tests.support.errors import without_request_id
from tests.support.signin import login_response

ORIGIN = "https://app.example"
CSRF = {"X-Requested-With": "fetch"}


@pytest.fixture
def browser(make_app):
    app = make_app(REFRESH_COOKIE=True, CORS_ORIGINS=[ORIGIN])
    client = app.test_client()
    # The cookie is Secure: the client speaks https, as a browser would to a real deployment.
    client.environ_base["wsgi.url_scheme"] = "https"
    return client


def signed_in(browser, account):
    """The answer to a successful ``POST /login`` (the refresh token is in its cookie)."""
    response = login_response(browser, account.username, account.password)
    assert response.status_code == 200, response.get_json()
    return response


def _cookie(browser, path: str):
    return browser.get_cookie("gatehouse_refresh", path=path)


def test_login_sets_the_refresh_cookie_and_leaves_it_out_of_the_body(browser, member) -> None:
    response = signed_in(browser, member)

    body = response.get_json()
    assert "refresh_token" not in body
    assert body["access_token"]
    assert body["refresh_expires_in"] > 0
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 2
    for cookie, path in zip(sorted(cookies), ("/logout", "/refresh"), strict=True):
        assert cookie.startswith("gatehouse_refresh=")
        for attribute in ("HttpOnly", "Secure", "SameSite=Strict", f"Path={path}"):
            assert attribute in cookie
    assert _cookie(browser, "/refresh").value == _cookie(browser, "/logout").value
    # Scoped: no other route receives it.
    assert browser.get_cookie("gatehouse_refresh", path="/") is None


def test_refresh_reads_the_cookie_rotates_it_and_needs_the_custom_header(browser, member) -> None:
    signed_in(browser, member)
    first = _cookie(browser, "/refresh").value

    refused = browser.post("/refresh", json={})
    assert refused.status_code == 403
    assert without_request_id(refused.get_json()) == {
        "error": "forbidden",
        "message": "Send the X-Requested-With header with this request.",
        "status": 403,
    }

    refreshed = browser.post("/refresh", json={}, headers=CSRF)

    assert refreshed.status_code == 200, refreshed.get_json()
    assert "refresh_token" not in refreshed.get_json()
    second = _cookie(browser, "/refresh").value
    assert second != first
    assert (
        browser.get(
            "/users/me", headers={"Authorization": f"Bearer {refreshed.get_json()['access_token']}"}
        ).status_code
        == 200
    )


def test_a_stolen_cookie_value_presented_again_ends_the_session(browser, member, monkeypatch):
    signed_in(browser, member)
    stolen = _cookie(browser, "/refresh").value
    assert browser.post("/refresh", json={}, headers=CSRF).status_code == 200
    assert browser.post("/refresh", json={}, headers=CSRF).status_code == 200

    reused = browser.post("/refresh", json={"refresh_token": stolen}, headers=CSRF)

    assert reused.status_code == 401
    assert reused.get_json()["error"] == "token_revoked"
    # The session ended: the owner's cookie is refused too.
    owners = browser.post("/refresh", json={}, headers=CSRF)
    assert owners.status_code == 401
    assert owners.get_json()["error"] == "token_revoked"


def test_logout_ends_the_session_and_clears_the_cookie(browser, member) -> None:
    access = signed_in(browser, member).get_json()["access_token"]
    bearer = {"Authorization": f"Bearer {access}"}

    assert browser.post("/logout", headers=bearer).status_code == 403
    response = browser.post("/logout", headers=bearer | CSRF)

    assert response.status_code == 204
    cleared = response.headers.getlist("Set-Cookie")
    assert len(cleared) == 2
    assert all("Max-Age=0" in cookie or "Expires=Thu, 01 Jan 1970" in cookie for cookie in cleared)
    assert _cookie(browser, "/refresh") is None
    missing = browser.post("/refresh", json={}, headers=CSRF)
    assert missing.status_code == 401
    assert without_request_id(missing.get_json()) == {
        "error": "missing_token",
        "message": "Send the session's refresh token.",
        "status": 401,
    }


@pytest.mark.parametrize(("origin", "allowed"), [(ORIGIN, True), ("https://evil.example", False)])
def test_cors_sends_credentials_to_the_configured_origins_only(browser, origin, allowed) -> None:
    response = browser.options(
        "/refresh",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-requested-with",
        },
    )

    assert response.status_code == 200
    if allowed:
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        assert "x-requested-with" in response.headers["Access-Control-Allow-Headers"].lower()
    else:
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Credentials" not in response.headers


def test_without_browser_mode_no_cookie_is_set(client, member) -> None:
    response = client.post(
        "/login", json={"username": member.username, "password": member.password}
    )

    assert response.status_code == 200
    assert "refresh_token" in response.get_json()
    assert response.headers.getlist("Set-Cookie") == []


def test_logout_clears_the_cookie_with_the_attributes_it_was_set_with(browser, member) -> None:
    """Every Set-Cookie of the refresh cookie, its clearing too, is Secure, HttpOnly and
    SameSite=Strict, on the path it was set for (a scanner flags any that is not)."""
    access = signed_in(browser, member).get_json()["access_token"]

    response = browser.post("/logout", headers={"Authorization": f"Bearer {access}"} | CSRF)

    assert response.status_code == 204
    assert response.get_data() == b""
    cleared = sorted(response.headers.getlist("Set-Cookie"))
    assert len(cleared) == 2
    for cookie, path in zip(cleared, ("/logout", "/refresh"), strict=True):
        assert set(cookie.split("; ")) >= {
            "gatehouse_refresh=",
            "Max-Age=0",
            f"Path={path}",
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
        }


def test_the_refresh_cookie_lasts_as_long_as_the_session(browser, member) -> None:
    """The cookie is kept for the session's life, the answer's refresh_expires_in (not only
    until the browser closes), and for no longer."""
    response = signed_in(browser, member)

    left = response.get_json()["refresh_expires_in"]
    # (a week at sign-in: SESSION_IDLE_LIFESPAN)
    assert 7 * 24 * 3600 - 2 <= left <= 7 * 24 * 3600
    cookies = sorted(response.headers.getlist("Set-Cookie"))
    assert len(cookies) == 2
    for cookie, path in zip(cookies, ("/logout", "/refresh"), strict=True):
        assert set(cookie.split("; ")) >= {f"Max-Age={left}", f"Path={path}"}
