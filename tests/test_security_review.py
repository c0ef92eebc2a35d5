"""Security review of the v3 features, in-process: passkey answers that cannot be kept, tickets
burnt before the rest of a step is checked, the cap on unfinished ceremonies, a password reset
that removes recently added ways in, identities told to their holder, personal tokens and the
roles that require a second factor, and the settings production refuses. Each test failed
before its fix. (Tests that depend on a real server are in test_security_review_e2e.py.)"""

import json
from datetime import timedelta

import cbor2
import pytest
from sqlalchemy import func, select, update

from app.addresses import client_key
from app.config import ConfigError, load_config
from app.extensions import db
from app.models import AuditEvent, Identity, Passkey, PersonalToken, Ticket, User
from app.models.columns import utcnow
from app.tokens import emailed
from tests.support.errors import without_request_id
from tests.support.passkey_device import Device, b64url


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def outbox(app) -> list:
    return getattr(app.extensions["mailman"], "outbox", [])


def count(app, model, *conditions) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*conditions))


def registration_options(client, headers) -> dict:
    response = client.post("/users/me/passkeys/options", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


class HostileDevice(Device):
    """An authenticator whose registration answers carry what a browser would never send."""

    def __init__(self, cose_key: bytes | None = None, credential_id: bytes | None = None):
        super().__init__()
        self.hostile_key = cose_key
        if credential_id is not None:
            self.credential_id = credential_id

    def _cose_key(self) -> bytes:
        return self.hostile_key if self.hostile_key is not None else super()._cose_key()


def ec2_key(x, y) -> bytes:
    return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: x, -3: y})


def refused_registration(client, headers, answer: dict) -> dict:
    response = client.post("/users/me/passkeys", json={"credential": answer}, headers=headers)
    body = response.get_json()
    assert response.status_code in (401, 422), body
    assert body["status"] == response.status_code
    assert "credential" in body["details"]
    return body


@pytest.mark.parametrize(
    ("what", "device"),
    [
        ("a COSE key written as a CBOR array", HostileDevice(cose_key=cbor2.dumps([2, -7, 1]))),
        ("text coordinates", HostileDevice(cose_key=ec2_key("x" * 32, "y" * 32))),
        ("a point off the curve", HostileDevice(cose_key=ec2_key(b"\x01" * 32, b"\x02" * 32))),
        ("a 4,000-byte credential id", HostileDevice(credential_id=b"\x07" * 4000)),
    ],
)
def test_a_passkey_that_could_not_be_used_is_refused_and_not_kept(
    app, client, member, auth, what, device
) -> None:
    headers = auth(member)
    answer = device.register(registration_options(client, headers))

    body = refused_registration(client, headers, answer)

    assert body["error"] in ("validation_error", "invalid_credentials"), what
    assert count(app, Passkey) == 0


def test_transports_that_are_not_a_list_of_strings_are_refused(app, client, member, auth) -> None:
    headers = auth(member)
    answer = Device().register(registration_options(client, headers))
    answer["response"]["transports"] = "usb"

    body = refused_registration(client, headers, answer)

    assert body["error"] == "validation_error"
    assert body["details"]["credential"] == ["transports must be a list of strings."]
    assert count(app, Passkey) == 0


def test_an_id_over_1023_bytes_names_the_limit(app, client, member, auth) -> None:
    headers = auth(member)
    device = HostileDevice(credential_id=b"\x07" * 1024)
    answer = device.register(registration_options(client, headers))

    body = refused_registration(client, headers, answer)

    assert body["details"]["credential"] == ["The credential id is longer than 1023 bytes."]


def nested_client_data(depth: int) -> str:
    return b64url(b"[" * depth + b"]" * depth)


@pytest.mark.parametrize("depth", [100_000, 2_000])
def test_deeply_nested_client_data_is_a_refused_passkey_not_an_error(
    client, member, auth, depth
) -> None:
    device = Device()
    answer = device.sign_in({"challenge": "x", "rpId": "localhost"})
    answer["response"]["clientDataJSON"] = nested_client_data(depth)

    signed_out = client.post("/login/passkey", json={"credential": answer})
    reauthenticated = client.post(
        "/reauthenticate", json={"credential": answer}, headers=auth(member)
    )

    for response in (signed_out, reauthenticated):
        assert response.status_code == 401, response.get_json()
        assert response.get_json()["error"] == "invalid_credentials"


def test_a_sign_in_challenge_is_burnt_by_a_failed_answer(app, client, member, auth) -> None:
    device = Device()
    headers = auth(member)
    options = registration_options(client, headers)
    added = client.post(
        "/users/me/passkeys", json={"credential": device.register(options)}, headers=headers
    )
    assert added.status_code == 201
    sign_in = client.post("/login/passkey/options").get_json()
    forged = device.sign_in(sign_in)
    forged["response"]["signature"] = b64url(b"\x30\x06\x02\x01\x01\x02\x01\x01")

    first = client.post("/login/passkey", json={"credential": forged})
    retried = client.post("/login/passkey", json={"credential": device.sign_in(sign_in)})

    assert first.status_code == 401
    assert first.get_json()["error"] == "invalid_credentials"
    assert retried.status_code == 401
    assert retried.get_json()["error"] == "invalid_credentials"
    assert count(app, Ticket, Ticket.kind == "passkey-sign-in") == 0


def test_a_registration_challenge_cannot_be_burnt_by_another_account(
    app, client, member, auth, make_user
) -> None:
    headers = auth(member)
    answer = Device().register(registration_options(client, headers))

    stolen = client.post(
        "/users/me/passkeys", json={"credential": answer}, headers=auth(make_user("other"))
    )
    mine = client.post("/users/me/passkeys", json={"credential": answer}, headers=headers)

    assert stolen.status_code == 401
    assert stolen.get_json()["error"] == "invalid_credentials"
    assert mine.status_code == 201, mine.get_json()
    assert mine.get_json()["name"] == "Passkey 1"


def test_unfinished_ceremonies_are_capped_per_client(make_app) -> None:
    app = make_app(
        RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="100 per minute", CEREMONIES_PER_CLIENT=3
    )
    client = app.test_client()
    here = {"REMOTE_ADDR": "2001:db8:5:6::1"}
    same_64 = {"REMOTE_ADDR": "2001:db8:5:6:ffff::9"}
    elsewhere = {"REMOTE_ADDR": "2001:db8:5:7::1"}

    started = [client.post("/login/passkey/options", environ_base=here) for _ in range(3)]
    refused = client.post("/login/passkey/options", environ_base=same_64)
    other = client.post("/login/passkey/options", environ_base=elsewhere)

    assert [response.status_code for response in started] == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "rate_limited"
    assert 290 <= int(refused.headers["Retry-After"]) <= 300
    assert other.status_code == 200
    assert other.get_json()["challenge"]
    assert count(app, Ticket, Ticket.issued_to == "2001:db8:5:6::/64") == 3


def test_a_client_past_the_ceremony_cap_is_told_why(make_app) -> None:
    app = make_app(
        RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="100 per minute", CEREMONIES_PER_CLIENT=2
    )
    client = app.test_client()

    started = [client.post("/login/passkey/options") for _ in range(2)]
    refused = client.post("/login/passkey/options")

    assert [response.status_code for response in started] == [200, 200]
    assert refused.status_code == 429
    assert without_request_id(refused.get_json()) == {
        "error": "rate_limited",
        "message": "Too many sign-ins started from here and not finished: finish one, or wait.",
        "status": 429,
    }
    assert 290 <= int(refused.headers["Retry-After"]) <= 300


def test_expired_ceremonies_no_longer_count_towards_the_cap(make_app) -> None:
    app = make_app(
        RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="100 per minute", CEREMONIES_PER_CLIENT=2
    )
    client = app.test_client()
    started = [client.post("/login/passkey/options") for _ in range(2)]
    with app.app_context():
        db.session.execute(update(Ticket).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()

    again = client.post("/login/passkey/options")

    assert [response.status_code for response in started] == [200, 200]
    assert again.status_code == 200
    assert again.get_json()["challenge"]
    assert count(app, Ticket, Ticket.expires_at > utcnow()) == 1


def test_a_signed_in_accounts_ceremony_does_not_count_towards_the_cap(
    make_app, make_user, token_for
) -> None:
    """Only ceremonies started without signing in count towards a client's cap: a client at
    the cap still starts a passkey registration for its account (the account's ticket, counted
    against no client)."""
    app = make_app(
        RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="100 per minute", CEREMONIES_PER_CLIENT=2
    )
    client = app.test_client()
    starter = make_user("starter")
    started = [client.post("/login/passkey/options") for _ in range(2)]

    registration = client.post("/users/me/passkeys/options", headers=bearer(token_for(starter)))

    assert [response.status_code for response in started] == [200, 200]
    assert registration.status_code == 200, registration.get_json()
    assert registration.get_json()["challenge"]
    assert count(app, Ticket, Ticket.issued_to.is_not(None)) == 2
    assert (
        count(
            app,
            Ticket,
            Ticket.kind == "passkey-registration",
            Ticket.user_id == starter.id,
            Ticket.issued_to.is_(None),
        )
        == 1
    )


def test_signed_in_ceremonies_are_limited_per_account(make_app, make_user, token_for) -> None:
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_CEREMONIES="2 per minute")
    client = app.test_client()
    headers = bearer(token_for(make_user("starter")))
    other = bearer(token_for(make_user("neighbour")))

    answers = [client.post("/users/me/passkeys/options", headers=headers) for _ in range(3)]
    neighbour = client.post("/users/me/passkeys/options", headers=other)

    assert [response.status_code for response in answers] == [200, 200, 429]
    assert answers[2].get_json()["error"] == "rate_limited"
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert neighbour.status_code == 200


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:0db8:0001:0002::ffff", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.4", "198.51.100.4"),
        ("fe80::1%eth0", "fe80::/64"),
    ],
)
def test_a_client_is_keyed_by_its_address_or_its_ipv6_64(address, key) -> None:
    assert client_key(address) == key


def test_a_personal_token_defaults_to_the_maximum_when_that_is_shorter(make_app, make_user) -> None:
    app = make_app(PAT_MAX_LIFESPAN=3600)
    client = app.test_client()
    account = make_user("tokens1")
    login = client.post(
        "/login", json={"username": account.username, "password": account.password}
    ).get_json()

    response = client.post(
        "/users/me/tokens",
        json={"name": "ci", "scopes": ["profile"]},
        headers=bearer(login["access_token"]),
    )

    body = response.get_json()
    assert response.status_code == 201, body
    with app.app_context():
        token = db.session.get(PersonalToken, body["id"])
        lifespan = (token.expires_at - utcnow()).total_seconds()
    assert 3590 <= lifespan <= 3600


def link_identity(app, user_id: int, provider: str, age: timedelta = timedelta(0)) -> None:
    with app.app_context():
        db.session.add(
            Identity(
                user_id=user_id,
                provider=provider,
                issuer=f"https://{provider}.example",
                subject=f"{provider}-{user_id}",
                email=None,
                created_at=utcnow() - age,
            )
        )
        db.session.commit()


def add_stored_passkey(app, user_id: int, name: str, age: timedelta = timedelta(0)) -> None:
    with app.app_context():
        db.session.add(
            Passkey(
                user_id=user_id,
                credential_id=name.encode(),
                public_key=b"key",
                sign_count=0,
                transports=[],
                name=name,
                created_at=utcnow() - age,
            )
        )
        db.session.commit()


def reset_token(app, account) -> str:
    with app.test_request_context():
        return emailed.mint(db.session.get(User, account.id), emailed.RESET)


@pytest.mark.parametrize(
    ("choice", "kept_passkeys", "kept_identities"),
    [
        (None, ["old laptop"], ["old-idp"]),
        ("recent", ["old laptop"], ["old-idp"]),
        ("all", [], []),
        ("none", ["old laptop", "new phone"], ["old-idp", "new-idp"]),
    ],
)
def test_a_reset_removes_the_ways_in_added_recently(
    app, client, make_user, choice, kept_passkeys, kept_identities
) -> None:
    account = make_user("hacked")
    add_stored_passkey(app, account.id, "old laptop", timedelta(days=30))
    add_stored_passkey(app, account.id, "new phone", timedelta(hours=2))
    link_identity(app, account.id, "old-idp", timedelta(days=30))
    link_identity(app, account.id, "new-idp", timedelta(days=1))
    body = {"token": reset_token(app, account), "password": "a-new-and-long-passphrase"}
    if choice is not None:
        body["remove_ways_in"] = choice

    response = client.post("/password/reset", json=body)

    assert response.status_code == 204, response.get_json()
    assert response.data == b""
    with app.app_context():
        passkeys = db.session.scalars(select(Passkey.name).order_by(Passkey.id)).all()
        identities = db.session.scalars(select(Identity.provider).order_by(Identity.id)).all()
        removed = db.session.scalars(
            select(AuditEvent.changes).where(
                AuditEvent.action.in_(["passkey.removed", "identity.removed"])
            )
        ).all()
    assert passkeys == kept_passkeys
    assert identities == kept_identities
    assert len(removed) == 4 - len(kept_passkeys) - len(kept_identities)
    notice = outbox(app)[-1]
    assert notice.subject == "Your password was reset"
    if "new phone" in kept_passkeys:
        assert "Also removed" not in notice.body
    else:
        assert "Also removed: passkey" in notice.body
        assert "passkey 'new phone'" in notice.body
        assert "identity at new-idp" in notice.body


def test_a_reset_with_an_unknown_choice_changes_nothing(app, client, make_user) -> None:
    account = make_user("careful")
    add_stored_passkey(app, account.id, "phone")
    token = reset_token(app, account)

    response = client.post(
        "/password/reset",
        json={"token": token, "password": "a-new-and-long-passphrase", "remove_ways_in": "most"},
    )

    body = response.get_json()
    assert response.status_code == 422
    assert body["details"] == {"remove_ways_in": ["Must be one of: recent, all, none."]}
    assert count(app, Passkey) == 1


def test_unlinking_an_identity_is_told_and_audited(app, client, make_user, auth) -> None:
    account = make_user("linked")
    link_identity(app, account.id, "acme")
    with app.app_context():
        identity_id = db.session.scalar(select(Identity.id))

    response = client.delete(f"/users/me/identities/{identity_id}", headers=auth(account))

    assert response.status_code == 204
    assert response.data == b""
    assert outbox(app)[-1].subject == "acme no longer signs in to your account"
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "identity.removed")
        ).one()
    assert event.changes == {"identity": ["acme", None]}


def production_env(monkeypatch, **settings: str) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://gatehouse@127.0.0.1/gatehouse")
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("SIGNING_KEYS", "a signing key")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)


def providers_setting(issuer: str) -> str:
    return json.dumps(
        [{"name": "acme", "issuer": issuer, "client_id": "c", "client_secret": "s" * 20}]
    )


@pytest.mark.parametrize(
    ("config", "issuer", "refused"),
    [
        ("production", "http://idp.example", True),
        ("production", "http://localhost:8080", True),
        ("production", "https://idp.example", False),
        ("development", "http://127.0.0.1:9000", False),
        ("development", "http://idp.example", True),
        ("development", "ftp://idp.example", True),
    ],
)
def test_a_provider_issuer_must_be_https_outside_this_machine(
    monkeypatch, config, issuer, refused
) -> None:
    production_env(monkeypatch, OIDC_PROVIDERS=providers_setting(issuer))

    if refused:
        with pytest.raises(ConfigError, match="the issuer of acme must be an https:// URL"):
            load_config(config)
    else:
        assert load_config(config).OIDC_PROVIDERS[0]["issuer"] == issuer


@pytest.mark.parametrize(
    ("origins", "refused"),
    [
        ("*", True),
        ("https://*.example.com", True),
        ("https://app.example.com/", True),
        ("https://app\\.example\\.com", True),
        ("https://app.example.com,http://localhost:3000", False),
    ],
)
def test_credentialed_cors_needs_exact_origins_in_production(monkeypatch, origins, refused) -> None:
    production_env(monkeypatch, CORS_ORIGINS=origins, REFRESH_COOKIE="true")

    if refused:
        with pytest.raises(ConfigError, match="CORS_ORIGINS must list exact origins"):
            load_config("production")
    else:
        assert origins.split(",") == load_config("production").CORS_ORIGINS


def test_loose_origins_without_credentials_are_left_alone(monkeypatch) -> None:
    production_env(monkeypatch, CORS_ORIGINS="*", REFRESH_COOKIE="false")

    assert load_config("production").CORS_ORIGINS == ["*"]


@pytest.mark.parametrize(
    ("dyno", "hops", "expected", "from_platform"),
    [
        ("web.1", None, 1, True),
        ("web.1", "2", 2, False),
        ("web.1", "0", 0, False),
        (None, None, 0, False),
    ],
)
def test_heroku_dynos_trust_one_proxy_hop_unless_told_otherwise(
    monkeypatch, dyno, hops, expected, from_platform
) -> None:
    production_env(monkeypatch)
    monkeypatch.delenv("TRUSTED_PROXY_HOPS", raising=False)
    monkeypatch.delenv("DYNO", raising=False)
    if dyno:
        monkeypatch.setenv("DYNO", dyno)
    if hops is not None:
        monkeypatch.setenv("TRUSTED_PROXY_HOPS", hops)

    config = load_config("production")

    assert expected == config.TRUSTED_PROXY_HOPS
    assert config.PROXY_HOPS_FROM_PLATFORM is from_platform
