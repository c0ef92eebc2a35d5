"""Sign-in through a provider, the answers that need no provider running: a redirect address off
the allowlist, an unknown provider, the exchange's method, and what the exchange refuses; and
the tickets and the cookie its ceremonies keep their steps in. The provider's own ceremonies run
against a real one in test_oidc.py."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import Identity, Ticket, User, UserSession
from app.models.columns import utcnow
from app.tokens import tickets, transport
from app.tokens.opaque import digest, new_secret
from tests.support.errors import without_request_id
from tests.support.processes import free_port
from tests.support.signin import bearer

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


REDIRECT = "https://client.example/signed-in"


def _made(app, account, make) -> tuple[Ticket, timedelta, timedelta]:
    """The ticket ``make(user)`` issues, and its life from before and from after it was made."""
    with app.test_request_context(method="POST"):
        user = db.session.get(User, account.id)
        before = utcnow()
        secret = make(user)
        after = utcnow()
        db.session.commit()
        ticket = db.session.scalars(select(Ticket)).one()
        assert tickets.read(ticket.kind, secret) is not None
        db.session.expunge(ticket)
    return ticket, ticket.expires_at - before, ticket.expires_at - after


@pytest.mark.parametrize(
    ("make", "kind", "lifespan", "for_user", "data"),
    [
        (
            lambda user: tickets.provider_state("test", REDIRECT, "verifier", "nonce", None, "b"),
            tickets.OIDC_STATE,
            600,
            False,
            {
                "provider": "test",
                "verifier": "verifier",
                "nonce": "nonce",
                "redirect_uri": REDIRECT,
                "binding": "b",
            },
        ),
        (
            lambda user: tickets.provider_state("test", REDIRECT, "verifier", "nonce", user, None),
            tickets.OIDC_STATE,
            600,
            True,
            {
                "provider": "test",
                "verifier": "verifier",
                "nonce": "nonce",
                "redirect_uri": REDIRECT,
                "binding": None,
            },
        ),
        (
            lambda user: tickets.exchange_code(user, "b"),
            tickets.OIDC_EXCHANGE,
            60,
            True,
            {"binding": "b"},
        ),
        (
            lambda user: tickets.link_code(user, "test", "subject-1", "mia@example.com"),
            tickets.OIDC_LINK,
            60,
            True,
            {"provider": "test", "sub": "subject-1", "email": "mia@example.com"},
        ),
    ],
    ids=["state", "link-state", "exchange", "link"],
)
def test_each_ticket_of_a_provider_sign_in_keeps_what_its_step_needs_for_its_lifespan(
    app, member, make, kind, lifespan, for_user, data
) -> None:
    ticket, from_before, from_after = _made(app, member, make)

    assert ticket.kind == kind
    assert ticket.user_id == (member.id if for_user else None)
    assert ticket.data == data
    assert from_after <= timedelta(seconds=lifespan) <= from_before


def test_a_provider_sign_in_is_bound_to_its_browser_by_a_cookie_of_its_own(app) -> None:
    """Sent back on the provider's redirect (a top-level GET from another site: Lax) and on the
    exchange, under /login/oidc, to nothing else, for the sign-in's lifespan."""
    with app.test_request_context():
        response = transport.bind_to_browser(app.response_class(), "binding-secret", 600)
    with app.test_request_context(headers={"Cookie": "gatehouse_sign_in=binding-secret"}):
        presented = transport.browser_binding()
    with app.test_request_context():
        none_presented = transport.browser_binding()

    (cookie,) = response.headers.getlist("Set-Cookie")
    attributes = set(cookie.split("; "))
    assert "gatehouse_sign_in=binding-secret" in attributes
    assert {"Max-Age=600", "Path=/login/oidc", "Secure", "HttpOnly", "SameSite=Lax"} <= attributes
    assert (presented, none_presented) == ("binding-secret", None)


BINDING = "binding-secret"
UNKNOWN_CODE = {
    "error": "invalid_token",
    "message": "The code is unknown, expired or used.",
    "status": 401,
}


def _exchange_code(app, client, account) -> str:
    """The code a provider sign-in of ``account`` sent its client back with, bound to the
    browser ``client`` is (it holds the sign-in's cookie)."""
    client.set_cookie(transport.SIGN_IN_COOKIE_NAME, BINDING, path=transport.SIGN_IN_COOKIE_PATH)
    with app.app_context():
        code = tickets.exchange_code(db.session.get(User, account.id), digest(BINDING))
        db.session.commit()
    return code


def test_an_exchange_code_signs_its_account_in_from_the_browser_that_started_it(
    app, client, member
) -> None:
    code = _exchange_code(app, client, member)

    response = client.post("/login/oidc/exchange", json={"code": code})
    me = client.get("/users/me", headers=bearer(response.get_json()["access_token"]))

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["token_type"] == "Bearer"
    assert response.get_json()["refresh_token"]
    assert (me.status_code, me.get_json()["username"]) == (200, "member")
    with app.app_context():
        assert db.session.scalars(select(UserSession.method)).all() == ["oidc"]
        assert db.session.scalars(select(Ticket)).all() == []


def test_an_unknown_exchange_code_is_refused_and_uses_up_no_other(app, client, member) -> None:
    code = _exchange_code(app, client, member)

    refused = client.post("/login/oidc/exchange", json={"code": new_secret()})
    real = client.post("/login/oidc/exchange", json={"code": code})

    assert refused.status_code == 401
    assert without_request_id(refused.get_json()) == UNKNOWN_CODE
    assert real.status_code == 200, real.get_json()
    assert real.get_json()["token_type"] == "Bearer"


def test_an_expired_exchange_code_is_refused(app, client, member) -> None:
    code = _exchange_code(app, client, member)
    with app.app_context():
        db.session.execute(
            update(Ticket)
            .where(Ticket.digest == digest(code))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()

    response = client.post("/login/oidc/exchange", json={"code": code})

    assert response.status_code == 401
    assert without_request_id(response.get_json()) == UNKNOWN_CODE
    with app.app_context():
        assert db.session.scalars(select(UserSession)).all() == []


def test_a_ticket_of_another_kind_is_no_exchange_code_and_is_not_used_up(
    app, client, member
) -> None:
    """An ``mfa_token`` presented as an exchange code: refused as unknown, and still good for
    the second step it was issued for."""
    with app.app_context():
        mfa_token = tickets.second_step(db.session.get(User, member.id))
        db.session.commit()

    response = client.post("/login/oidc/exchange", json={"code": mfa_token})

    assert response.status_code == 401
    assert without_request_id(response.get_json()) == UNKNOWN_CODE
    with app.app_context():
        assert tickets.read(tickets.MFA, mfa_token) is not None
