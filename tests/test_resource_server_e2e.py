"""The example resource server (examples/resource_server.py) against a real Gatehouse gunicorn:
knowing only Gatehouse's address, it accepts a live token, refuses a tampered one, goes on
accepting tokens across a rotation of the signing keys (the old key's and the new key's), and
refuses a token once its key was retired. Rotation is the production one: SIGNING_KEYS changes
and the dynos restart."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.tokens.key_material import generate, thumbprint, to_pem
from bench.harness import ROOT, call, free_port, production_env, serving

PASSWORD = "resource-server-password"
KEY_A, KEY_B = generate(), generate()


@pytest.fixture
def gatehouse(migrated_database, tmp_path):
    """Start Gatehouse with the given SIGNING_KEYS (restarting it on the same address)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    running = []

    def start(signing_keys: str):
        if running:
            running.pop().__exit__(None, None, None)
        env = production_env(migrated_database, SIGNING_KEYS=signing_keys, PUBLIC_BASE_URL=base_url)
        context = serving(env, tmp_path / f"web-{time.monotonic_ns()}.log", port=port)
        context.__enter__()
        running.append(context)
        return base_url

    yield start
    for context in running:
        context.__exit__(None, None, None)


@pytest.fixture
def resource_server(tmp_path):
    processes = []

    def start(gatehouse_url: str) -> str:
        port = free_port()
        env = {**os.environ, "GATEHOUSE_URL": gatehouse_url, "JWKS_LIFESPAN": "1"}
        with (tmp_path / "resource.log").open("w") as log:
            command = [sys.executable, "-m", "flask", "--app", "examples/resource_server.py"]
            process = subprocess.Popen(
                [*command, "run", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                call(base, "GET", "/whoami", timeout=1)
                return base
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(Path(tmp_path / "resource.log").read_text())

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def _token(base_url: str, username: str) -> str:
    status, _, body = call(base_url, "POST", "/login", {"username": username, "password": PASSWORD})
    assert status == 200, body
    return body["access_token"]


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
    assert _whoami(resource, token_b)[0] == 200
    assert _whoami(resource, token_a)[0] == 200
    assert call(base, "GET", "/users/me", token=token_a)[0] == 200

    # Second step, once A's last token has expired: A leaves the setting.
    gatehouse(to_pem(KEY_B))
    time.sleep(1.5)  # the service's cached key set (JWKS_LIFESPAN=1) goes stale
    status, body = _whoami(resource, token_a)
    assert status == 401
    assert body["error"] == "invalid_token"
    assert _whoami(resource, token_b)[0] == 200
    refused = call(base, "GET", "/users/me", token=token_a)
    assert refused[0] == 401
    assert refused[2]["error"] == "invalid_token"
    kids = [key["kid"] for key in call(base, "GET", "/.well-known/jwks.json")[2]["keys"]]
    assert kids == [thumbprint(KEY_B)]
