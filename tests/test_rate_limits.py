"""Per-address limits on every way in that the contract names (the login, registration and
password-forgot limits are in test_login_hardening.py): the limit's 429 with Retry-After for
one address, while another address is still answered."""

import pytest

from tests.support.processes import free_port

PROVIDER = "test"


@pytest.fixture
def limited(make_app):
    """An app with ``setting`` at 2 per minute (and a provider configured, whose issuer is an
    address where nothing listens)."""

    def build(setting: str):
        provider = {
            "name": PROVIDER,
            "issuer": f"http://127.0.0.1:{free_port()}",
            "client_id": "gatehouse",
            "client_secret": "s",
        }
        return make_app(
            RATELIMIT_ENABLED=True,
            OIDC_PROVIDERS=[provider],
            OIDC_REDIRECT_ALLOWLIST=["https://client.example/signed-in"],
            **{setting: "2 per minute"},
        ).test_client()

    return build


# (method, path, body, the limit's setting, the status and error it answers below the limit)
WAYS_IN = [
    ("POST", "/refresh", {"refresh_token": "x" * 43}, "RATELIMIT_REFRESH", (401, "invalid_token")),
    (
        "POST",
        "/login/mfa",
        {"mfa_token": "x" * 40, "code": "123456"},
        "RATELIMIT_LOGIN",
        (401, "invalid_token"),
    ),
    ("POST", "/login/passkey/options", None, "RATELIMIT_LOGIN", (200, None)),
    (
        "POST",
        "/login/passkey",
        {"credential": {"id": "x"}},
        "RATELIMIT_LOGIN",
        (401, "invalid_credentials"),
    ),
    (
        "POST",
        "/reauthenticate",
        {"password": "not-the-password"},
        "RATELIMIT_LOGIN",
        (401, "invalid_credentials"),
    ),
    ("GET", f"/login/oidc/{PROVIDER}", None, "RATELIMIT_LOGIN", (503, "service_unavailable")),
    (
        "GET",
        f"/login/oidc/{PROVIDER}/callback?state=x&code=y",
        None,
        "RATELIMIT_LOGIN",
        (400, "bad_request"),
    ),
    ("POST", "/login/oidc/exchange", {"code": "x" * 40}, "RATELIMIT_LOGIN", (401, "invalid_token")),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "setting", "answered"),
    WAYS_IN,
    ids=[f"{method} {path.split('?')[0]}" for method, path, *_ in WAYS_IN],
)
def test_each_way_in_is_limited_per_address(
    limited, member, auth, method, path, body, setting, answered
) -> None:
    client = limited(setting)
    headers = auth(member)

    def send(address: str):
        return client.open(
            path, method=method, json=body, headers=headers, environ_base={"REMOTE_ADDR": address}
        )

    below = [send("192.0.2.10") for _ in range(2)]
    over = send("192.0.2.10")
    elsewhere = send("192.0.2.11")

    for response in (*below, elsewhere):
        assert (response.status_code, response.get_json().get("error")) == answered
    assert over.status_code == 429
    assert over.get_json()["error"] == "rate_limited"
    assert 0 < int(over.headers["Retry-After"]) <= 60
