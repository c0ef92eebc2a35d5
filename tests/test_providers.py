"""Sign-in through a provider, the answers that need no provider running: a redirect address off
the allowlist, an unknown provider, the exchange's method, and what the exchange refuses. The
provider's own ceremonies run against a real one in test_oidc.py."""

import pytest

from app.extensions import db
from app.models import Identity
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


def test_another_users_identity_is_not_found(app, client, member, make_user, auth) -> None:
    """An identity id of another account is 404, as if it did not exist, and stays linked."""
    other = make_user("other")
    with app.app_context():
        theirs = Identity(
            user_id=other.id, provider="test", issuer="https://idp.example", subject="their-sub"
        )
        db.session.add(theirs)
        db.session.commit()
        their_id = theirs.id

    response = client.delete(f"/users/me/identities/{their_id}", headers=auth(member))
    listed = client.get("/users/me/identities", headers=auth(other))

    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
    assert listed.status_code == 200
    assert [item["id"] for item in listed.get_json()["items"]] == [their_id]
