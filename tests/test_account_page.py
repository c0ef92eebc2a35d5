"""The account page in a real browser (Debian's chromium, headless, through the DevTools
protocol) against gunicorn in browser mode, with Chromium's virtual authenticator as the
person's passkey: sign in with a password, add a passkey, sign out, sign in with the passkey
and no username, use it as the second step of a password sign-in, turn on the authenticator
app from its QR code, see the sessions, change the password, remove the passkey; a reload keeps
the session (the refresh cookie); the console shows no policy violation and no error."""

import pyotp
import pytest

from tests.support.browser import Browser
from tests.support.processes import call, free_port
from tests.support.signin import tokens_over_http

PASSWORD = "correct-horse-battery-staple-9"
NEW_PASSWORD = "another-long-passphrase-42"
VIOLATION = "Content Security Policy"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(serve):
    port = free_port()
    origin = f"http://localhost:{port}"
    running = serve(
        port=port,
        WEB_CONCURRENCY="1",
        REFRESH_COOKIE="true",
        PUBLIC_BASE_URL=origin,
        WEBAUTHN_RP_ID="localhost",
        WEBAUTHN_ORIGINS=origin,
    )
    running.origin = origin
    return running


@pytest.fixture
def browser(tmp_path):
    opened = Browser(tmp_path / "profile")
    yield opened
    opened.close()


def text(browser: Browser, element: str) -> str:
    return browser.evaluate(f"document.getElementById('{element}').textContent")


def visible(browser: Browser, element: str) -> bool:
    return browser.evaluate(f"!document.getElementById('{element}').hidden")


def wait_for_status(browser: Browser, expected: str) -> None:
    browser.wait_for(f"document.getElementById('status').textContent.includes({expected!r})")


def list_texts(browser: Browser, element: str) -> list[str]:
    return browser.evaluate(
        f"[...document.querySelectorAll('#{element} li')].map((li) => li.firstChild.textContent)"
    )


def test_a_person_signs_in_adds_a_passkey_and_signs_in_with_it(server, browser, make_user) -> None:
    account = make_user("walker", password=PASSWORD)
    authenticator = browser.add_virtual_authenticator()
    browser.open(server.origin + "/account")
    browser.wait_for("!document.getElementById('signin').hidden")

    # A password sign-in.
    browser.fill("password-form", username="walker", password=PASSWORD)
    wait_for_status(browser, "Signed in.")
    assert text(browser, "username") == account.username
    assert list_texts(browser, "passkeys") == []

    # A passkey, made by the authenticator and registered.
    browser.fill("passkey-add", name="Test laptop")
    wait_for_status(browser, "Passkey Test laptop added.")
    assert list_texts(browser, "passkeys")[0].startswith("Test laptop (added ")
    stored = browser.credentials(authenticator)
    assert len(stored) == 1
    assert stored[0]["isResidentCredential"] is True

    # A reload keeps the session: the refresh token is in the HttpOnly cookie.
    browser.open(server.origin + "/account")
    wait_for_status(browser, "Signed in.")
    assert text(browser, "username") == "walker"
    assert browser.evaluate("document.cookie") == ""

    # Signed out, then in with the passkey alone: no username typed.
    browser.click("signout")
    wait_for_status(browser, "Signed out.")
    assert visible(browser, "signin")
    browser.click("passkey-signin")
    wait_for_status(browser, "Signed in.")
    assert text(browser, "username") == "walker"

    # A password sign-in now asks for the passkey as its second step.
    browser.click("signout")
    wait_for_status(browser, "Signed out.")
    browser.fill("password-form", username="walker", password=PASSWORD)
    wait_for_status(browser, "One more step.")
    assert visible(browser, "second-step")
    assert visible(browser, "passkey-second")
    browser.click("passkey-second")
    wait_for_status(browser, "Signed in.")
    assert any(line.startswith("This session") for line in list_texts(browser, "sessions"))

    # The authenticator app, from the QR code's secret.
    browser.click("totp-start")
    wait_for_status(browser, "Scan the code")
    assert browser.evaluate("document.getElementById('totp-qr').src").startswith(
        "data:image/svg+xml"
    )
    assert browser.wait_for("document.getElementById('totp-qr').naturalWidth > 0")
    secret = text(browser, "totp-secret")
    browser.fill("totp-confirm", code=pyotp.TOTP(secret).now())
    wait_for_status(browser, "Two-step sign-in is on.")
    assert len(list_texts(browser, "recovery-codes")) == 10
    assert text(browser, "totp-state").startswith("On")

    # The password.
    browser.fill("password-change", current_password=PASSWORD, new_password=NEW_PASSWORD)
    wait_for_status(browser, "Password changed")

    # The passkey goes, and no longer signs in.
    browser.evaluate("document.querySelector('#passkeys li button').click()")
    wait_for_status(browser, "Passkey Test laptop removed.")
    assert list_texts(browser, "passkeys") == []
    browser.click("signout")
    wait_for_status(browser, "Signed out.")
    browser.click("passkey-signin")
    browser.wait_for("document.getElementById('status').className === 'error'")
    assert visible(browser, "signin")

    assert [line for line in browser.log if VIOLATION in line] == []
    assert [line for line in browser.log if line.startswith("exception")] == []


def test_a_person_sees_their_organizations_and_accepts_or_declines_invitations(
    server, browser, make_user
) -> None:
    owner = make_user("founder", password=PASSWORD)
    make_user("joiner", password=PASSWORD)
    owner_token = tokens_over_http(server.origin, "founder", PASSWORD)["access_token"]
    invited = {}
    for name in ("Acme Rockets", "Umbrella"):
        status, _, organization = call(
            server.origin, "POST", "/orgs", {"name": name}, token=owner_token
        )
        assert status == 201, organization
        status, _, invitation = call(
            server.origin,
            "POST",
            f"/orgs/{organization['id']}/invitations",
            {"email": "Joiner@Example.com", "roles": ["member"]},
            token=owner_token,
        )
        assert status == 201, invitation
        invited[name] = organization

    browser.open(server.origin + "/account")
    browser.wait_for("!document.getElementById('signin').hidden")
    browser.fill("password-form", username="joiner", password=PASSWORD)
    wait_for_status(browser, "Signed in.")
    assert list_texts(browser, "organizations") == []
    pending = list_texts(browser, "invitations")
    assert sorted(line.split(",")[0] for line in pending) == [
        "Acme Rockets (acme-rockets)",
        "Umbrella (umbrella)",
    ]
    assert all(f"from {owner.username}, as member" in line for line in pending)
    assert not visible(browser, "no-invitations")

    # Accept one (no e-mailed token: the confirmed address is the proof), decline the other.
    browser.evaluate(
        "[...document.querySelectorAll('#invitations li')].find((li) => "
        "li.firstChild.textContent.startsWith('Acme')).querySelector('button').click()"
    )
    wait_for_status(browser, "You joined Acme Rockets.")
    assert list_texts(browser, "organizations") == ["Acme Rockets (acme-rockets): member"]
    browser.evaluate(
        "[...document.querySelector('#invitations li').querySelectorAll('button')]"
        ".find((b) => b.textContent === 'Decline').click()"
    )
    wait_for_status(browser, "Invitation to Umbrella declined.")
    assert list_texts(browser, "invitations") == []
    assert visible(browser, "no-invitations")

    # What the page did is what the API holds.
    status, _, members = call(
        server.origin, "GET", f"/orgs/{invited['Acme Rockets']['id']}/members", token=owner_token
    )
    assert status == 200
    assert sorted(member["username"] for member in members["items"]) == ["founder", "joiner"]
    status, _, pending_there = call(
        server.origin,
        "GET",
        f"/orgs/{invited['Umbrella']['id']}/invitations",
        token=owner_token,
    )
    assert (status, pending_there["items"]) == (200, [])

    # Leaving, from the page.
    browser.evaluate("document.querySelector('#organizations li button').click()")
    wait_for_status(browser, "You left Acme Rockets.")
    assert list_texts(browser, "organizations") == []
    assert [line for line in browser.log if VIOLATION in line] == []
    assert [line for line in browser.log if line.startswith("exception")] == []
