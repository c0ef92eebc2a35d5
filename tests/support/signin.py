"""Signing in, the one way every test does it: through the API's own /login, in process (the
Flask test client) or over HTTP (a running server)."""

from tests.support.processes import call


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of ``token``."""
    return {"Authorization": f"Bearer {token}"}


def login_response(client, username: str, password: str, address: str | None = None, **headers):
    """The answer to ``POST /login`` (whatever it is), from the client address ``address``."""
    from_address = {"environ_base": {"REMOTE_ADDR": address}} if address else {}
    return client.post(
        "/login", json={"username": username, "password": password}, headers=headers, **from_address
    )


def login(client, account, **headers: str) -> dict:
    """The body of a successful ``POST /login`` of ``account`` (an ``Account``): a new session's
    tokens, or the ``mfa_token`` of its first step."""
    response = login_response(client, account.username, account.password, **headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def login_over_http(base_url: str, username: str, password: str, headers=None) -> tuple:
    """``POST /login`` to a running server: (status, headers, body)."""
    return call(
        base_url, "POST", "/login", {"username": username, "password": password}, headers=headers
    )


def tokens_over_http(base_url: str, username: str, password: str, headers=None) -> dict:
    """The body of a successful ``POST /login`` to a running server."""
    status, _, body = login_over_http(base_url, username, password, headers)
    assert status == 200, body
    return body
