"""Sign-in through an OpenID Connect provider (contract v3), against a real certified provider
(panva's oidc-provider under node, tests/oidc/provider.mjs): a first sign-in makes an account, a
return finds it, an equal e-mail address (verified or not) never takes an account over, a
signed-in account links the provider, and a forged state, a replayed code, a wrong nonce, an ID
token for another client and a provider that is down are refused with nothing half-made."""

import urllib.parse
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select, update

from app.errors import ApiError
from app.extensions import db
from app.models import AuditEvent, Identity, Ticket, User
from app.models.columns import utcnow
from app.signin import oidc as providers
from tests.support.oidc_provider import ProviderBrowser, running_provider
from tests.support.processes import free_port
from tests.support.signin import bearer

SECRET = "gatehouse-test-client-secret-0123456789"
CALLBACK = "http://127.0.0.1:5000/login/oidc/{}/callback"
CLIENT_PAGE = "https://client.example/signed-in"

pytestmark = pytest.mark.e2e


def client_entry(client_id: str, name: str) -> dict:
    return {
        "client_id": client_id,
        "client_secret": SECRET,
        "redirect_uris": [CALLBACK.format(name)],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }


@pytest.fixture(scope="module")
def issuer(tmp_path_factory):
    clients = [client_entry("gatehouse", "test"), client_entry("other-app", "other")]
    with running_provider(clients, tmp_path_factory.mktemp("oidc") / "provider.log") as url:
        yield url


def provider_config(name: str, issuer: str, client_id: str = "gatehouse") -> dict:
    return {"name": name, "issuer": issuer, "client_id": client_id, "client_secret": SECRET}


@pytest.fixture
def oidc_app(make_app, issuer):
    def build(**overrides):
        settings = {
            "OIDC_PROVIDERS": [
                provider_config("test", issuer),
                provider_config("other", issuer, "other-app"),
            ],
            "OIDC_REDIRECT_ALLOWLIST": [CLIENT_PAGE],
        }
        return make_app(**{**settings, **overrides})

    return build


@pytest.fixture
def client(oidc_app):
    return oidc_app().test_client()


def start(client, path: str = "/login/oidc/test", headers=None) -> str:
    response = client.get(path, headers=headers)
    assert response.status_code == 302, response.get_json()
    return response.headers["Location"]


def callback(client, params: dict, name: str = "test"):
    return client.get(f"/login/oidc/{name}/callback?{urllib.parse.urlencode(params)}")


def returned(response) -> dict[str, str]:
    """The client page the callback sent the browser to, and its query parameters."""
    assert response.status_code == 302, response.get_json()
    location = urllib.parse.urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CLIENT_PAGE
    assert response.headers["Cache-Control"] == "no-store"
    return dict(urllib.parse.parse_qsl(location.query))


def sign_in(client, issuer: str, account: str) -> dict:
    """A whole provider sign-in as ``account``: the exchange's answer."""
    params = ProviderBrowser(issuer).sign_in(start(client), account)
    code = returned(callback(client, params))["code"]
    response = client.post("/login/oidc/exchange", json={"code": code})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def counts(app) -> tuple[int, int]:
    with app.app_context():
        users = db.session.scalar(select(func.count()).select_from(User))
        identities = db.session.scalar(select(func.count()).select_from(Identity))
        return users, identities


def test_the_configured_providers_are_listed(client) -> None:
    response = client.get("/providers")

    body = response.get_json()
    assert response.status_code == 200
    assert body["items"] == [
        {"name": "test", "login_url": "/login/oidc/test"},
        {"name": "other", "login_url": "/login/oidc/other"},
    ]
    assert body["_meta"]["total_items"] == 2


def test_a_sign_in_starts_with_pkce_state_and_nonce_kept_server_side(client, issuer) -> None:
    location = urllib.parse.urlsplit(start(client))
    query = dict(urllib.parse.parse_qsl(location.query))

    assert f"{location.scheme}://{location.netloc}" == issuer
    assert query["client_id"] == "gatehouse"
    assert query["redirect_uri"] == CALLBACK.format("test")
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["state"]
    assert query["nonce"]
    assert "openid" in query["scope"].split()
    with client.application.app_context():
        ticket = db.session.scalars(select(Ticket).where(Ticket.kind == "oidc-state")).one()
        assert ticket.data["nonce"] == query["nonce"]
        assert query["state"] not in str(ticket.data)


def test_a_first_sign_in_makes_an_account_and_a_return_finds_it(app, client, issuer) -> None:
    first = sign_in(client, issuer, "carol")
    again = sign_in(client, issuer, "carol")

    assert first["token_type"] == again["token_type"] == "Bearer"
    me = client.get("/users/me", headers=bearer(again["access_token"])).get_json()
    assert (me["username"], me["email"]) == ("carol", "carol@example.com")
    with app.app_context():
        user = db.session.scalars(select(User)).one()
        assert user.password_set is False
        identity = db.session.scalars(select(Identity)).one()
        assert (identity.provider, identity.subject) == ("test", "carol")
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["user.created", "identity.linked"]


def test_an_exchange_code_works_once(client, issuer) -> None:
    params = ProviderBrowser(issuer).sign_in(start(client), "dave")
    code = returned(callback(client, params))["code"]

    first = client.post("/login/oidc/exchange", json={"code": code})
    again = client.post("/login/oidc/exchange", json={"code": code})

    assert first.status_code == 200
    assert first.get_json()["token_type"] == "Bearer"
    assert again.status_code == 401
    assert again.get_json()["error"] == "invalid_token"


@pytest.mark.parametrize("account", ["bob", "alice"])
def test_an_equal_address_verified_or_not_never_takes_an_account_over(
    app, client, issuer, make_user, account
) -> None:
    make_user(f"{account}-here", email=f"{account}@example.com")
    before = counts(app)

    response = callback(client, ProviderBrowser(issuer).sign_in(start(client), account))

    assert response.status_code == 409
    assert "/users/me/identities/test" in response.get_json()["message"]
    assert counts(app) == before


def start_link(client, headers) -> str:
    linking = client.post(
        "/users/me/identities/test", json={"redirect_uri": CLIENT_PAGE}, headers=headers
    )
    assert linking.status_code == 200, linking.get_json()
    return linking.get_json()["authorization_url"]


def test_a_signed_in_account_links_the_provider_then_signs_in_with_it(
    app, client, issuer, make_user, auth
) -> None:
    account = make_user("alice-here", email="alice@example.com")
    headers = auth(account)

    back = returned(
        callback(client, ProviderBrowser(issuer).sign_in(start_link(client, headers), "alice"))
    )
    confirmed = client.post(
        "/users/me/identities/test/confirm", json={"link_code": back["link_code"]}, headers=headers
    )
    again = client.post(
        "/users/me/identities/test/confirm", json={"link_code": back["link_code"]}, headers=headers
    )
    answer = sign_in(client, issuer, "alice")

    assert back["provider"] == "test"
    assert confirmed.status_code == 201
    assert (confirmed.get_json()["provider"], confirmed.get_json()["email"]) == (
        "test",
        "alice@example.com",
    )
    assert again.status_code == 401
    identities = client.get("/users/me/identities", headers=headers).get_json()["items"]
    assert [item["id"] for item in identities] == [confirmed.get_json()["id"]]
    me = client.get("/users/me", headers=bearer(answer["access_token"])).get_json()
    assert me["username"] == "alice-here"


def test_a_link_finished_in_someone_elses_browser_is_not_made(
    app, client, issuer, make_user, auth
) -> None:
    """A stranger sends you the address of his own link: you sign in at the provider, and your
    client (signed in as you) is handed his link code. It is refused, and nothing is linked."""
    stranger = auth(make_user("stranger"))
    victim = auth(make_user("victim", email="carol@example.com"))

    back = returned(
        callback(client, ProviderBrowser(issuer).sign_in(start_link(client, stranger), "carol"))
    )
    refused = client.post(
        "/users/me/identities/test/confirm", json={"link_code": back["link_code"]}, headers=victim
    )

    assert refused.status_code == 403
    assert refused.get_json()["error"] == "forbidden"
    assert counts(app)[1] == 0


def test_an_identity_of_another_account_is_not_linked(client, issuer, make_user, auth) -> None:
    sign_in(client, issuer, "erin")
    other = make_user("someone")
    response = callback(
        client, ProviderBrowser(issuer).sign_in(start_link(client, auth(other)), "erin")
    )

    assert response.status_code == 409
    assert response.get_json()["error"] == "conflict"


def test_a_forged_state_or_another_providers_is_refused(client, issuer) -> None:
    params = ProviderBrowser(issuer).sign_in(start(client), "carol")

    forged = callback(client, {**params, "state": "forged"})
    elsewhere = callback(client, params, name="other")

    for refused in (forged, elsewhere):
        assert refused.status_code == 400
        assert refused.get_json()["error"] == "bad_request"


def test_a_replayed_callback_or_code_is_refused(app, client, issuer) -> None:
    params = ProviderBrowser(issuer).sign_in(start(client), "carol")
    returned(callback(client, params))
    fresh_state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start(client)).query))["state"]
    before = counts(app)

    replayed = callback(client, params)
    old_code = callback(client, {"code": params["code"], "state": fresh_state})

    assert replayed.status_code == 400
    assert replayed.get_json()["error"] == "bad_request"
    assert old_code.status_code == 401
    assert old_code.get_json()["error"] == "invalid_token"
    assert counts(app) == before


def test_an_id_token_with_another_nonce_is_refused(app, client, issuer) -> None:
    authorization = start(client)
    with app.app_context():
        db.session.execute(
            update(Ticket)
            .where(Ticket.kind == "oidc-state")
            .values(data=Ticket.data.op("||")({"nonce": "not-the-one-sent"}))
        )
        db.session.commit()

    response = callback(client, ProviderBrowser(issuer).sign_in(authorization, "carol"))

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert counts(app) == (0, 0)


def test_an_id_token_for_another_client_is_refused(app, client, issuer) -> None:
    authorization = start(client, "/login/oidc/other")
    params = ProviderBrowser(issuer).sign_in(authorization, "carol")
    with app.app_context():
        ticket = db.session.scalars(select(Ticket).where(Ticket.kind == "oidc-state")).one()
        verifier, nonce = ticket.data["verifier"], ticket.data["nonce"]
    token = requests.post(
        f"{issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": CALLBACK.format("other"),
            "code_verifier": verifier,
        },
        auth=("other-app", SECRET),
        timeout=10,
    ).json()

    with client.application.test_request_context():
        ours = providers.provider_named("test")
        with pytest.raises(ApiError) as refused:
            providers.verified_claims(ours, token["id_token"], nonce)
        theirs = providers.verified_claims(
            providers.provider_named("other"), token["id_token"], nonce
        )

    assert refused.value.status == 401
    assert refused.value.error == "invalid_token"
    assert theirs["aud"] == "other-app"


def test_a_provider_that_is_down_is_a_503_with_nothing_made(
    app, oidc_app, tmp_path, make_user
) -> None:
    clients = [client_entry("gatehouse", "brief")]
    with running_provider(clients, tmp_path / "provider.log") as brief_issuer:
        brief = oidc_app(
            OIDC_PROVIDERS=[provider_config("brief", brief_issuer)],
        ).test_client()
        params = ProviderBrowser(brief_issuer).sign_in(start(brief, "/login/oidc/brief"), "carol")
    # (Another address: the one that went down has its documents kept an hour.)
    nowhere = f"http://127.0.0.1:{free_port()}"
    closed = oidc_app(OIDC_PROVIDERS=[provider_config("gone", nowhere)]).test_client()

    at_callback = callback(brief, params, name="brief")
    at_start = closed.get("/login/oidc/gone")

    for down in (at_callback, at_start):
        assert down.status_code == 503
        assert down.get_json()["error"] == "service_unavailable"
    assert counts(app) == (0, 0)


def test_mfa_required_roles_still_apply(oidc_app, issuer) -> None:
    client = oidc_app(MFA_REQUIRED_ROLES=["user"]).test_client()
    params = ProviderBrowser(issuer).sign_in(start(client), "carol")
    code = returned(callback(client, params))["code"]

    response = client.post("/login/oidc/exchange", json={"code": code})

    assert response.status_code == 403
    assert response.get_json()["error"] == "mfa_enrollment_required"


def test_the_last_way_in_is_not_unlinked(app, client, issuer, make_user, auth) -> None:
    answer = sign_in(client, issuer, "carol")
    headers = bearer(answer["access_token"])
    only = client.get("/users/me/identities", headers=headers).get_json()["items"][0]

    refused = client.delete(f"/users/me/identities/{only['id']}", headers=headers)

    assert refused.status_code == 409
    assert "only way in" in refused.get_json()["message"]
    with app.app_context():
        db.session.execute(update(User).values(password_set=True))
        db.session.commit()
    allowed = client.delete(f"/users/me/identities/{only['id']}", headers=headers)
    assert allowed.status_code == 204
    assert client.get("/users/me/identities", headers=headers).get_json()["items"] == []


def test_a_deactivated_account_gets_no_tokens_through_its_provider(
    client, issuer, admin, auth
) -> None:
    first = sign_in(client, issuer, "erin")
    me = client.get("/users/me", headers=bearer(first["access_token"])).get_json()
    deactivated = client.patch(f"/users/{me['id']}", json={"is_active": False}, headers=auth(admin))

    params = ProviderBrowser(issuer).sign_in(start(client), "erin")
    back = callback(client, params)
    answer = (
        client.post("/login/oidc/exchange", json={"code": returned(back)["code"]})
        if back.status_code == 302
        else back
    )

    assert deactivated.status_code == 200
    assert answer.status_code == 403
    assert answer.get_json()["error"] == "account_disabled"
    assert "access_token" not in answer.get_json()


@pytest.mark.parametrize(
    ("settings", "account", "reason"),
    [
        ({"REGISTRATION_ENABLED": False}, "carol", "New accounts are not open"),
        ({"EMAIL_CONFIRMATION": True}, "bob", "has not verified this e-mail address"),
        ({}, "frank", "gave no usable e-mail address"),
    ],
    ids=["registration closed", "unverified e-mail under confirmation", "no e-mail"],
)
def test_a_first_sign_in_that_may_not_make_an_account_makes_none(
    app, oidc_app, issuer, settings, account, reason
) -> None:
    client = oidc_app(**settings).test_client()

    response = callback(client, ProviderBrowser(issuer).sign_in(start(client), account))

    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"
    assert reason in response.get_json()["message"]
    assert counts(app) == (0, 0)


def test_a_provider_whose_document_names_another_issuer_is_refused(make_app, issuer) -> None:
    """Configured as http://localhost:PORT, the provider's document says http://127.0.0.1:PORT:
    its ID tokens would not be its own to sign."""
    elsewhere = issuer.replace("127.0.0.1", "localhost")
    client = make_app(
        OIDC_PROVIDERS=[provider_config("test", elsewhere)],
        OIDC_REDIRECT_ALLOWLIST=[CLIENT_PAGE],
    ).test_client()

    response = client.get("/login/oidc/test")

    assert response.status_code == 503
    assert response.get_json()["error"] == "service_unavailable"
    assert "another issuer" in response.get_json()["message"]


def test_an_exchange_code_lasts_sixty_seconds(app, client, issuer) -> None:
    code = returned(callback(client, ProviderBrowser(issuer).sign_in(start(client), "dave")))[
        "code"
    ]
    with app.app_context():
        expires_at = db.session.scalars(
            select(Ticket.expires_at).where(Ticket.kind == "oidc-exchange")
        ).one()
        left = expires_at - utcnow()
        # The clock moved in the database: the code's minute is over.
        db.session.execute(
            update(Ticket)
            .where(Ticket.kind == "oidc-exchange")
            .values(expires_at=func.now() - timedelta(seconds=1))
        )
        db.session.commit()

    response = client.post("/login/oidc/exchange", json={"code": code})

    assert timedelta(seconds=0) < left <= timedelta(seconds=60)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


def test_no_redirect_of_a_sign_in_or_a_link_carries_a_token(
    client, issuer, make_user, auth
) -> None:
    """Every URL the browser is sent to: to the provider, back to the client page with the
    exchange code, and back with a link code; none holds a token."""
    locations = []
    to_provider = start(client)
    params = ProviderBrowser(issuer).sign_in(to_provider, "dave")
    back = callback(client, params)
    locations += [to_provider, back.headers["Location"]]
    exchanged = client.post("/login/oidc/exchange", json={"code": returned(back)["code"]})
    headers = auth(make_user("linker", email="linker@example.com"))
    to_link = start_link(client, headers)
    linked = callback(client, ProviderBrowser(issuer).sign_in(to_link, "erin"))
    locations += [to_link, linked.headers["Location"]]
    tokens = exchanged.get_json()

    assert exchanged.status_code == 200
    assert set(returned(back)) == {"code"}
    assert set(returned(linked)) == {"link_code", "provider"}
    for location in locations:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        assert not {"access_token", "refresh_token", "id_token", "token"} & set(query), location
        assert "eyJ" not in location, location
        assert tokens["access_token"] not in location
        assert tokens["refresh_token"] not in location
