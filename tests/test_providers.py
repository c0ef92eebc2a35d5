"""Sign-in through a provider, the answers that need no provider running: a redirect address off
the allowlist, an unknown provider, the exchange's method, and what the exchange refuses. The
provider's own ceremonies run against a real one in test_oidc.py."""

import pytest

from tests.support.processes import free_port

CLIENT_PAGE = "https://client.example/signed-in"


@pytest.fixture
def client(make_app):
    # The issuer is an address where nothing listens: none of these answers may reach it.
    issuer = f"http://127.0.0.1:{free_port()}"
    provider = {"name": "test", "issuer": issuer, "client_id": "gatehouse", "client_secret": "s"}
    return make_app(OIDC_PROVIDERS=[provider], OIDC_REDIRECT_ALLOWLIST=[CLIENT_PAGE]).test_client()


def test_a_redirect_uri_off_the_allowlist_is_refused(client) -> None:
    response = client.get("/login/oidc/test?redirect_uri=https://evil.example/")

    assert response.status_code == 422
    assert "redirect_uri" in response.get_json()["details"]


def test_an_unknown_provider_is_a_404(client) -> None:
    response = client.get("/login/oidc/nobody")

    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_the_exchange_is_no_providers_sign_in(client) -> None:
    """``/login/oidc/exchange`` is the exchange only (POST): a GET is not read as a sign-in with
    a provider called "exchange", and OPTIONS names only the exchange's method."""
    response = client.get("/login/oidc/exchange")
    options = client.options("/login/oidc/exchange")

    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    assert options.status_code == 200
    assert set(options.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    assert options.get_data() == b""
