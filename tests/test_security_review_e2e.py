"""Security review of the v3 features against real gunicorn processes: a provider sign-in bound
to the browser that started it, personal tokens of accounts whose roles require a second factor,
identities told to their holder, no-store on every answer that carries a secret, one IPv6 /64
counted as one client, and the settings a production process starts with or refuses. Each test
failed before its fix."""

import json
import subprocess
import time
import urllib.parse
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
import requests
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import AuditEvent, Identity, Ticket, User
from app.models.columns import utcnow
from tests.support.oidc_provider import ProviderBrowser, running_provider
from tests.support.passkey_device import Device
from tests.support.processes import FLASK, ROOT, Server, call, free_port, production_env

pytestmark = pytest.mark.e2e

PASSWORD = "review-e2e-passphrase"
SECRET = "gatehouse-review-client-secret-0123456789"


def from_address(address: str) -> dict[str, str]:
    """Headers of a client at ``address`` behind one proxy (the router appends the address)."""
    return {"X-Forwarded-For": address}


def no_store(headers: dict) -> bool:
    return headers.get("Cache-Control") == "no-store" and headers.get("Pragma") == "no-cache"


@pytest.fixture(scope="module")
def server(serve):
    """Production settings, one worker (its per-address counts in its memory), behind one proxy,
    with operators required to use a second factor."""
    return serve(
        WEB_CONCURRENCY="1",
        TRUSTED_PROXY_HOPS="1",
        RATELIMIT_ENABLED="true",
        RATELIMIT_LOGIN="8 per minute",
        LOGIN_MAX_FAILURES="3",
        MFA_REQUIRED_ROLES="operator",
        MAIL_BACKEND="locmem",
    )


def test_an_ipv6_64_is_one_client_for_the_login_limit(server, app) -> None:
    statuses = [
        call(
            server.base_url,
            "POST",
            "/login",
            {"username": f"ghost{number}", "password": PASSWORD},
            headers=from_address(f"2001:db8:f:1::{number:x}"),
        )[0]
        for number in range(1, 10)
    ]
    elsewhere, _, body = call(
        server.base_url,
        "POST",
        "/login",
        {"username": "ghost10", "password": PASSWORD},
        headers=from_address("2001:db8:f:2::1"),
    )

    assert statuses == [401] * 8 + [429]
    assert (elsewhere, body["error"]) == (401, "invalid_credentials")


def test_an_ipv6_64_is_one_client_for_the_lockout(server, make_user) -> None:
    account = make_user("v6target", password=PASSWORD)
    wrong = [
        call(
            server.base_url,
            "POST",
            "/login",
            {"username": account.username, "password": "not the password at all"},
            headers=from_address(f"2001:db8:a:b:{number}::1"),
        )
        for number in range(1, 5)
    ]
    owner, _, tokens = call(
        server.base_url,
        "POST",
        "/login",
        {"username": account.username, "password": PASSWORD},
        headers=from_address("2001:db8:a:c::1"),
    )

    assert [status for status, _, _ in wrong] == [401, 401, 401, 429]
    assert wrong[3][2]["error"] == "rate_limited"
    assert int(wrong[3][1]["Retry-After"]) > 0
    assert owner == 200
    assert tokens["token_type"] == "Bearer"


def enrol_by_ticket(base: str, username: str, address: str) -> dict:
    """Sign in as an account that must enrol: enrol with its ticket; the session's answer."""
    headers = from_address(address)
    status, _, refused = call(
        base, "POST", "/login", {"username": username, "password": PASSWORD}, headers=headers
    )
    assert (status, refused["error"]) == (403, "mfa_enrollment_required")
    ticket = refused["details"]["enrollment_token"]
    status, _, enrolment = call(
        base, "POST", "/login/mfa/enroll", {"enrollment_token": ticket}, headers=headers
    )
    assert status == 200
    code = pyotp.TOTP(enrolment["secret"]).now()
    status, answer_headers, answer = call(
        base,
        "POST",
        "/login/mfa/enroll/confirm",
        {"enrollment_token": ticket, "code": code},
        headers=headers,
    )
    assert status == 200, answer
    assert no_store(answer_headers)
    return answer


def test_a_personal_token_works_only_while_a_required_second_factor_is_there(
    server, make_user
) -> None:
    base = server.base_url
    operator = make_user("oper", roles=("operator",), password=PASSWORD)
    boss = make_user("boss", roles=("admin",), password=PASSWORD)
    session = enrol_by_ticket(base, operator.username, "198.51.100.21")
    status, headers, made = call(
        base,
        "POST",
        "/users/me/tokens",
        {"name": "ci", "scopes": ["profile"]},
        token=session["access_token"],
    )
    assert status == 201, made
    assert no_store(headers)
    before = call(base, "GET", "/users/me", token=made["token"])
    _, _, admin = call(
        base,
        "POST",
        "/login",
        {"username": boss.username, "password": PASSWORD},
        headers=from_address("198.51.100.22"),
    )

    reset = call(base, "DELETE", f"/users/{operator.id}/mfa", token=admin["access_token"])
    after_reset = call(base, "GET", "/users/me", token=made["token"])
    enrol_by_ticket(base, operator.username, "198.51.100.23")
    after_enrolling = call(base, "GET", "/users/me", token=made["token"])

    assert (before[0], before[2]["username"]) == (200, "oper")
    assert reset[0] == 204
    assert after_reset[0] == 403
    assert after_reset[2]["error"] == "mfa_enrollment_required"
    assert (after_enrolling[0], after_enrolling[2]["username"]) == (200, "oper")


def test_every_answer_with_a_secret_is_kept_by_no_cache(server, make_user) -> None:
    base = server.base_url
    make_user("cachy", password=PASSWORD)
    here = from_address("198.51.100.31")
    seen = {}

    def ask(name, method, path, body=None, token=None, status=200):
        got, headers, answer = call(base, method, path, body, token=token, headers=here)
        assert got == status, (name, answer)
        seen[name] = headers
        return answer

    login = ask("login", "POST", "/login", {"username": "cachy", "password": PASSWORD})
    refreshed = ask("refresh", "POST", "/refresh", {"refresh_token": login["refresh_token"]})
    token = refreshed["access_token"]
    ask(
        "personal token",
        "POST",
        "/users/me/tokens",
        {"name": "t", "scopes": ["profile"]},
        token,
        201,
    )
    device = Device()
    options = ask("passkey options", "POST", "/users/me/passkeys/options", token=token)
    ask(
        "passkey",
        "POST",
        "/users/me/passkeys",
        {"credential": device.register(options)},
        token,
        201,
    )
    sign_in = ask("passkey sign-in options", "POST", "/login/passkey/options")
    ask("passkey sign-in", "POST", "/login/passkey", {"credential": device.sign_in(sign_in)})
    secret = ask("totp secret", "POST", "/users/me/mfa/totp", token=token)["secret"]
    totp = pyotp.TOTP(secret)
    ask("recovery codes", "POST", "/users/me/mfa/totp/confirm", {"code": totp.now()}, token)
    later = totp.at(time.time() + totp.interval)
    renewed = ask(
        "new recovery codes", "POST", "/users/me/mfa/recovery-codes", {"code": later}, token
    )
    first = ask("second step", "POST", "/login", {"username": "cachy", "password": PASSWORD})
    with_code = {"mfa_token": first["mfa_token"], "recovery_code": renewed["recovery_codes"][0]}
    ask("second step's tokens", "POST", "/login/mfa", with_code)
    jwks = call(base, "GET", "/.well-known/jwks.json")

    assert {name: no_store(headers) for name, headers in seen.items()} == dict.fromkeys(seen, True)
    assert jwks[0] == 200
    assert jwks[1]["Cache-Control"].startswith("public, max-age=")
    assert "Pragma" not in jwks[1]


def test_the_worker_prunes_expired_tickets_on_its_schedule(app, migrated_database, tmp_path):
    with app.app_context():
        # A worker defers a scheduled job once per tick of its schedule, whichever worker does
        # it: forget the ticks earlier workers of this test run deferred.
        db.session.execute(text("DELETE FROM procrastinate_periodic_defers"))
        for digest, age in (("expired", -1), ("live", 300)):
            db.session.add(
                Ticket(
                    digest=digest,
                    kind="passkey-sign-in",
                    data={},
                    expires_at=utcnow() + timedelta(seconds=age),
                )
            )
        db.session.commit()
    env = production_env(migrated_database, SECRET_KEY=app.config["SECRET_KEY"])
    with (tmp_path / "worker.log").open("w") as log:
        worker = subprocess.Popen(
            [*FLASK, "mail-worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and remaining_tickets(app) != ["live"]:
                time.sleep(0.2)
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    assert remaining_tickets(app) == ["live"]
    with app.app_context():
        ran = db.session.execute(
            text("SELECT queue_name, status FROM procrastinate_jobs WHERE task_name = :name"),
            {"name": "prune_expired_tickets"},
        ).all()
    assert ("maintenance", "succeeded") in ran


def remaining_tickets(app) -> list[str]:
    with app.app_context():
        return db.session.scalars(select(Ticket.digest).order_by(Ticket.digest)).all()


def test_production_refuses_credentialed_cors_for_loose_origins(migrated_database, tmp_path):
    env = production_env(migrated_database, REFRESH_COOKIE="true", CORS_ORIGINS="*")
    log_path = tmp_path / "web.log"
    server = Server(env, log_path)

    with pytest.raises(RuntimeError, match="the server exited"):
        server.wait_until_up(seconds=20)

    assert server.process.wait(timeout=10) != 0
    assert "CORS_ORIGINS must list exact origins (scheme://host[:port])" in log_path.read_text()


def test_a_heroku_dyno_counts_each_client_not_the_router(migrated_database, serve) -> None:
    env = production_env(
        migrated_database,
        DYNO="web.1",
        WEB_CONCURRENCY="1",
        RATELIMIT_ENABLED="true",
        RATELIMIT_LOGIN="2 per minute",
    )
    env.pop("TRUSTED_PROXY_HOPS", None)
    running = serve(env=env)

    def login(address: str) -> int:
        body = {"username": "nobody-here", "password": PASSWORD}
        return call(running.base_url, "POST", "/login", body, headers=from_address(address))[0]

    first_client = [login("203.0.113.5") for _ in range(3)]
    second_client = login("203.0.113.6")
    running.stop()

    assert first_client == [401, 401, 429]
    assert second_client == 401
    assert "TRUSTED_PROXY_HOPS is not set: 1 on Heroku" in running.log_path.read_text()


class Browser:
    """A person's browser at Gatehouse: it keeps the cookies Gatehouse sets (Secure ones too:
    browsers treat 127.0.0.1 as a secure context) and sends each where its path says."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies: dict[str, tuple[str, str]] = {}

    def _send(self, method: str, path: str, **kwargs):
        cookies = {n: v for n, (v, p) in self.cookies.items() if path.startswith(p)}
        response = requests.request(
            method, self.base + path, cookies=cookies, allow_redirects=False, timeout=10, **kwargs
        )
        for cookie in response.cookies:
            self.cookies[cookie.name] = (cookie.value, cookie.path)
        return response

    def get(self, path: str):
        return self._send("GET", path)

    def post(self, path: str, body: dict, token: str | None = None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self._send("POST", path, json=body, headers=headers)

    def delete(self, path: str, token: str):
        return self._send("DELETE", path, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def provider_server(migrated_database, tmp_path_factory, serve):
    """A server with an OpenID provider (development settings: its issuer is http on this
    machine, which production refuses), e-mail written to files: (server, issuer, mail dir)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    directory = tmp_path_factory.mktemp("review-oidc")
    client = {
        "client_id": "gatehouse",
        "client_secret": SECRET,
        "redirect_uris": [f"{base}/login/oidc/test/callback"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }
    with running_provider([client], directory / "provider.log") as issuer:
        providers = [
            {"name": "test", "issuer": issuer, "client_id": "gatehouse", "client_secret": SECRET}
        ]
        env = production_env(
            migrated_database,
            APP_CONFIG="development",
            PUBLIC_BASE_URL=base,
            OIDC_PROVIDERS=json.dumps(providers),
            MAIL_QUEUE="false",
            MAIL_BACKEND="file",
            MAIL_FILE_PATH=str(directory / "mail"),
        )
        running = serve(env=env, port=port)
        yield running, issuer, directory / "mail"
        running.stop()


def provider_sign_in(browser: Browser, issuer: str, account: str) -> dict[str, str]:
    """Start a sign-in in ``browser`` and sign in at the provider: the callback's parameters."""
    started = browser.get("/login/oidc/test")
    assert started.status_code == 302, started.text
    return ProviderBrowser(issuer).sign_in(started.headers["Location"], account)


def callback(browser: Browser, parameters: dict[str, str]):
    return browser.get("/login/oidc/test/callback?" + urllib.parse.urlencode(parameters))


def returned_code(response) -> str:
    assert response.status_code == 302, response.text
    query = urllib.parse.urlsplit(response.headers["Location"]).query
    return dict(urllib.parse.parse_qsl(query))["code"]


def test_a_callback_in_another_browser_is_refused(provider_server) -> None:
    server, issuer, _ = provider_server
    attacker, victim = Browser(server.base_url), Browser(server.base_url)
    parameters = provider_sign_in(attacker, issuer, "alice")

    in_victims_browser = callback(victim, parameters)
    in_attackers_browser = callback(attacker, parameters)

    assert in_victims_browser.status_code == 403
    assert in_victims_browser.json()["error"] == "forbidden"
    assert "started in another browser" in in_victims_browser.json()["message"]
    assert "Location" not in in_victims_browser.headers
    assert in_attackers_browser.status_code == 400  # (the state was used up by the refusal)
    assert in_attackers_browser.json()["error"] == "bad_request"


def test_an_exchange_from_another_browser_is_refused_and_burns_the_code(provider_server) -> None:
    server, issuer, _ = provider_server
    attacker, victim = Browser(server.base_url), Browser(server.base_url)
    code = returned_code(callback(attacker, provider_sign_in(attacker, issuer, "alice")))

    by_victim = victim.post("/login/oidc/exchange", {"code": code})
    by_attacker = attacker.post("/login/oidc/exchange", {"code": code})

    assert by_victim.status_code == 403
    assert by_victim.json()["error"] == "forbidden"
    assert "access_token" not in by_victim.json()
    assert by_attacker.status_code == 401
    assert by_attacker.json()["error"] == "invalid_token"


def test_a_sign_in_finished_in_its_own_browser_gets_tokens_no_cache_keeps(
    provider_server,
) -> None:
    server, issuer, _ = provider_server
    browser = Browser(server.base_url)
    code = returned_code(callback(browser, provider_sign_in(browser, issuer, "carol")))

    answer = browser.post("/login/oidc/exchange", {"code": code})

    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "Bearer"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Pragma"] == "no-cache"
    me = requests.get(
        server.base_url + "/users/me",
        headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
        timeout=10,
    )
    assert me.json()["email"] == "carol@example.com"


def mail_subjects(directory: Path) -> list[str]:
    if not directory.exists():
        return []
    return [
        line.removeprefix("Subject: ")
        for path in sorted(directory.iterdir())
        for line in path.read_text().splitlines()
        if line.startswith("Subject: ")
    ]


def test_linking_and_unlinking_an_identity_is_told_and_audited(
    provider_server, make_user, app
) -> None:
    server, issuer, mail = provider_server
    account = make_user("linker", password=PASSWORD)
    browser = Browser(server.base_url)
    token = browser.post("/login", {"username": "linker", "password": PASSWORD}).json()[
        "access_token"
    ]
    started = browser.post("/users/me/identities/test", {}, token=token)
    assert started.status_code == 200, started.text
    parameters = ProviderBrowser(issuer).sign_in(started.json()["authorization_url"], "dave")
    back = callback(browser, parameters)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back.headers["Location"]).query))

    linked = browser.post(
        "/users/me/identities/test/confirm", {"link_code": query["link_code"]}, token=token
    )
    listed = requests.get(
        server.base_url + "/users/me/identities",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    unlinked = browser.delete(f"/users/me/identities/{linked.json()['id']}", token=token)

    assert linked.status_code == 201, linked.text
    assert [item["email"] for item in listed.json()["items"]] == ["dave@example.com"]
    assert unlinked.status_code == 204
    subjects = mail_subjects(mail)
    assert "test can now sign in to your account" in subjects
    assert "test no longer signs in to your account" in subjects
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target_id == account.id, AuditEvent.action.like("identity.%"))
            .order_by(AuditEvent.id)
        ).all()
    assert actions == ["identity.linked", "identity.removed"]


@pytest.mark.parametrize("account", ["long-mail", "nul-mail", "not-a-mail"])
def test_a_provider_address_we_cannot_keep_makes_no_account(provider_server, app, account) -> None:
    server, issuer, _ = provider_server
    browser = Browser(server.base_url)

    refused = callback(browser, provider_sign_in(browser, issuer, account))

    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    assert refused.json()["message"] == "The provider gave no usable e-mail address."
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
        assert db.session.scalar(select(func.count()).select_from(Identity)) == 0


def test_a_subject_longer_than_an_identity_keeps_is_refused(provider_server, app) -> None:
    server, issuer, _ = provider_server
    browser = Browser(server.base_url)

    refused = callback(browser, provider_sign_in(browser, issuer, "long-subject-" + "s" * 250))

    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    assert "not 1 to 255 characters" in refused.json()["message"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Identity)) == 0


def test_a_provider_address_is_kept_in_canonical_form(provider_server) -> None:
    server, issuer, _ = provider_server
    browser = Browser(server.base_url)
    code = returned_code(callback(browser, provider_sign_in(browser, issuer, "mixed-case")))

    answer = browser.post("/login/oidc/exchange", {"code": code})
    me = requests.get(
        server.base_url + "/users/me",
        headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
        timeout=10,
    )

    assert answer.status_code == 200, answer.text
    assert me.json()["email"] == "mixed.case@example.com"
