"""The example resource server (examples/resource_server.py) against a real Gatehouse gunicorn:
knowing only Gatehouse's address, it accepts a live token, refuses a tampered one, goes on
accepting tokens across a rotation of the signing keys (the old key's and the new key's), and
refuses a token once its key was retired; it reads an organization-scoped token's ``org_id`` and
``org_roles``. Rotation is the production one: SIGNING_KEYS changes
and the dynos restart."""

import os
import sys

import pytest

from app.tokens.key_material import generate, thumbprint, to_pem
from tests.support.processes import call, free_port, wait_until
from tests.support.signin import tokens_over_http

PASSWORD = "resource-server-password"
KEY_A, KEY_B = generate(), generate()

pytestmark = pytest.mark.e2e


@pytest.fixture
def gatehouse(serve):
    """Start Gatehouse with the given SIGNING_KEYS (restarting it on the same address)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    running = []

    def start(signing_keys: str):
        if running:
            running.pop().stop()
        running.append(serve(port=port, SIGNING_KEYS=signing_keys, PUBLIC_BASE_URL=base_url))
        return base_url

    return start


@pytest.fixture
def resource_server(serve):
    """The example resource server, told only Gatehouse's address."""

    def start(gatehouse_url: str) -> str:
        port = free_port()
        flask = [sys.executable, "-m", "flask", "--app", "examples/resource_server.py"]
        running = serve(
            env={**os.environ, "GATEHOUSE_URL": gatehouse_url, "JWKS_LIFESPAN": "1"},
            port=port,
            command=[*flask, "run", "--port", str(port)],
            ready=("/whoami", 401),
        )
        return running.base_url

    return start


def _token(base_url: str, username: str) -> str:
    return tokens_over_http(base_url, username, PASSWORD)["access_token"]


def _whoami(resource: str, token: str):
    status, _, body = call(resource, "GET", "/whoami", token=token)
    return status, body


def test_a_service_verifies_tokens_with_the_published_keys_across_a_rotation(
    gatehouse, resource_server, make_user
) -> None:
    account = make_user("reader", roles=("user", "operator"), password=PASSWORD)
    base = gatehouse(to_pem(KEY_A))
    resource = resource_server(base)
    token_a = _token(base, account.username)
    header, payload, signature = token_a.split(".")
    tampered = f"{header}.{payload[:-4]}AAAA.{signature}"

    assert _whoami(resource, token_a) == (
        200,
        {"user_id": str(account.id), "roles": ["user", "operator"]},
    )
    status, body = _whoami(resource, tampered)
    assert status == 401
    assert body["error"] == "invalid_token"

    # Rotation, first step: B signs, A still verifies (and is published).
    gatehouse(to_pem(KEY_B) + to_pem(KEY_A))
    token_b = _token(base, account.username)
    me = {"user_id": str(account.id), "roles": ["user", "operator"]}
    assert _whoami(resource, token_b) == (200, me)
    assert _whoami(resource, token_a) == (200, me)
    status, _, body = call(base, "GET", "/users/me", token=token_a)
    assert (status, body["username"]) == (200, account.username)

    # Second step, once A's last token has expired: A leaves the setting.
    gatehouse(to_pem(KEY_B))
    # Once the service's cached key set (JWKS_LIFESPAN=1) goes stale and is fetched again.
    status, body = wait_until(
        lambda: (answer := _whoami(resource, token_a))[0] == 401 and answer,
        what="the service refusing the retired key's token",
    )
    assert status == 401
    assert body["error"] == "invalid_token"
    assert _whoami(resource, token_b) == (200, me)
    refused = call(base, "GET", "/users/me", token=token_a)
    assert refused[0] == 401
    assert refused[2]["error"] == "invalid_token"
    kids = [key["kid"] for key in call(base, "GET", "/.well-known/jwks.json")[2]["keys"]]
    assert kids == [thumbprint(KEY_B)]


def test_a_service_reads_the_organization_of_an_organization_scoped_token(
    gatehouse, resource_server, make_user
) -> None:
    account = make_user("teamlead", password=PASSWORD)
    base = gatehouse(to_pem(KEY_A))
    resource = resource_server(base)
    signed_in = tokens_over_http(base, account.username, PASSWORD)
    status, _, organization = call(
        base, "POST", "/orgs", {"name": "Team"}, token=signed_in["access_token"]
    )
    assert status == 201, organization
    status, _, scoped = call(
        base,
        "POST",
        "/refresh",
        {"refresh_token": signed_in["refresh_token"], "organization_id": organization["id"]},
    )
    assert status == 200, scoped

    assert _whoami(resource, scoped["access_token"]) == (
        200,
        {
            "user_id": str(account.id),
            "roles": ["user"],
            "organization": {"id": organization["id"], "roles": ["owner"]},
        },
    )
    assert "organization" not in _whoami(resource, signed_in["access_token"])[1]
