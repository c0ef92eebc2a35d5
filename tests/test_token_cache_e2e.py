"""Each worker keeps the access tokens it has verified (``app.tokens.verified``), and yet every
revocation is obeyed on the very next request by every worker: against a real gunicorn with two
workers, each token is first used a dozen times at once (so that both workers hold it), then
revoked, and refused from then on. An expired token is not kept alive by the cache, a token
whose key left SIGNING_KEYS is refused after the restart, and a payload changed under a kept
token's signature is refused."""

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest

from app.tokens.key_material import generate, to_pem
from tests.support.processes import call, wait_until
from tests.support.signin import tokens_over_http

PASSWORD = "cache-e2e-passphrase"
NEW_PASSWORD = "umbrella-quartz-fjord-72"
KEY_A, KEY_B = to_pem(generate()), to_pem(generate())

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(serve):
    return serve(WEB_CONCURRENCY="2")


@pytest.fixture
def accounts(make_user):
    """An admin's and a member's accounts."""
    return (
        make_user("warden", roles=("admin",), password=PASSWORD),
        make_user("traveller", password=PASSWORD),
    )


def _sign_in(base: str, username: str) -> dict:
    return tokens_over_http(base, username, PASSWORD)


def _answers(base: str, token: str, times: int = 12) -> set[tuple[int, str]]:
    """What ``times`` requests at once with ``token`` get from the server's workers: the status
    and the username, or the error."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(lambda _: call(base, "GET", "/users/me", token=token), range(times))
        )
    return {(status, body.get("username", body.get("error"))) for status, _, body in results}


def _warm(base: str, token: str, username: str) -> None:
    """Both workers have verified ``token`` (and keep it)."""
    assert _answers(base, token) == {(200, username)}


def _next(base: str, token: str) -> tuple[int, str]:
    status, _, body = call(base, "GET", "/users/me", token=token)
    return status, body.get("username", body.get("error"))


def test_an_ended_session_is_refused_on_the_next_request(server, accounts) -> None:
    kept, ended = _sign_in(server.base_url, "traveller"), _sign_in(server.base_url, "traveller")
    _warm(server.base_url, ended["access_token"], "traveller")
    status, _, sessions = call(
        server.base_url, "GET", "/users/me/sessions", token=kept["access_token"]
    )
    [other] = [item["id"] for item in sessions["items"] if not item["current"]]

    status, _, body = call(
        server.base_url, "DELETE", f"/users/me/sessions/{other}", token=kept["access_token"]
    )

    assert (status, body) == (204, None)
    assert _next(server.base_url, ended["access_token"]) == (401, "token_revoked")
    assert _answers(server.base_url, ended["access_token"]) == {(401, "token_revoked")}
    assert _answers(server.base_url, kept["access_token"]) == {(200, "traveller")}


def test_a_logout_is_refused_on_the_next_request(server, accounts) -> None:
    tokens = _sign_in(server.base_url, "traveller")
    _warm(server.base_url, tokens["access_token"], "traveller")

    status, _, body = call(server.base_url, "POST", "/logout", token=tokens["access_token"])

    assert (status, body) == (204, None)
    assert _next(server.base_url, tokens["access_token"]) == (401, "token_revoked")
    assert _answers(server.base_url, tokens["access_token"]) == {(401, "token_revoked")}


def test_a_password_change_is_obeyed_on_the_next_request(server, accounts) -> None:
    changing, other = _sign_in(server.base_url, "traveller"), _sign_in(server.base_url, "traveller")
    for tokens in (changing, other):
        _warm(server.base_url, tokens["access_token"], "traveller")

    status, _, renewed = call(
        server.base_url,
        "PUT",
        "/users/me/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        token=changing["access_token"],
    )

    assert status == 200
    assert renewed["token_type"] == "Bearer"
    assert _next(server.base_url, other["access_token"]) == (401, "token_revoked")
    # The changing session's tokens minted before the change stop too; its new one works.
    assert _next(server.base_url, changing["access_token"]) == (401, "token_revoked")
    for token in (other["access_token"], changing["access_token"]):
        assert _answers(server.base_url, token) == {(401, "token_revoked")}
    assert _answers(server.base_url, renewed["access_token"]) == {(200, "traveller")}


@pytest.mark.parametrize(
    ("method", "change"),
    [("PATCH", {"roles": ["operator"]}), ("PATCH", {"is_active": False}), ("DELETE", None)],
    ids=["role change", "deactivation", "deletion"],
)
def test_an_admins_change_is_obeyed_on_the_next_request(server, accounts, method, change) -> None:
    _, member = accounts
    admin_token = _sign_in(server.base_url, "warden")["access_token"]
    tokens = _sign_in(server.base_url, "traveller")
    _warm(server.base_url, tokens["access_token"], "traveller")

    status, _, body = call(
        server.base_url, method, f"/users/{member.id}", change, token=admin_token
    )

    if method == "DELETE":
        assert (status, body) == (204, None)
    else:
        assert status == 200
        assert body["id"] == member.id
    assert _next(server.base_url, tokens["access_token"]) == (401, "token_revoked")
    assert _answers(server.base_url, tokens["access_token"]) == {(401, "token_revoked")}
    assert _answers(server.base_url, admin_token) == {(200, "warden")}


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_payload_changed_under_a_kept_tokens_signature_is_refused(server, accounts) -> None:
    admin, _ = accounts
    token = _sign_in(server.base_url, "traveller")["access_token"]
    _warm(server.base_url, token, "traveller")
    header, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    as_admin = claims | {"id": admin.id, "sub": str(admin.id), "rls": "admin"}
    tampered = f"{header}.{_b64(as_admin)}.{signature}"

    assert _next(server.base_url, tampered) == (401, "invalid_token")
    assert _answers(server.base_url, tampered) == {(401, "invalid_token")}
    assert _answers(server.base_url, token) == {(200, "traveller")}


def test_an_expired_token_is_refused_though_both_workers_kept_it(serve, accounts) -> None:
    short_lived = serve(WEB_CONCURRENCY="2", JWT_ACCESS_LIFESPAN="3")
    token = _sign_in(short_lived.base_url, "traveller")["access_token"]
    _warm(short_lived.base_url, token, "traveller")
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]

    wait_until(lambda: time.time() >= expires, seconds=10, what="the token's exp")

    assert _next(short_lived.base_url, token) == (401, "token_expired")
    assert _answers(short_lived.base_url, token) == {(401, "token_expired")}
    fresh = _sign_in(short_lived.base_url, "traveller")["access_token"]
    assert _next(short_lived.base_url, fresh) == (200, "traveller")


def test_a_key_removed_from_signing_keys_at_restart_is_refused(serve, accounts) -> None:
    first = serve(WEB_CONCURRENCY="2", SIGNING_KEYS=KEY_A)
    token = _sign_in(first.base_url, "traveller")["access_token"]
    _warm(first.base_url, token, "traveller")
    first.stop()
    # A rotation: B signs, A still verifies.
    rotated = serve(WEB_CONCURRENCY="2", SIGNING_KEYS=KEY_B + KEY_A)
    _warm(rotated.base_url, token, "traveller")
    rotated.stop()

    retired = serve(WEB_CONCURRENCY="2", SIGNING_KEYS=KEY_B)

    assert _next(retired.base_url, token) == (401, "invalid_token")
    assert _answers(retired.base_url, token) == {(401, "invalid_token")}
    fresh = _sign_in(retired.base_url, "traveller")["access_token"]
    assert _answers(retired.base_url, fresh) == {(200, "traveller")}
