"""Fresh authentication (ASVS 7.5, RFC 9470): "auth, fresh" routes need the session's last
password check to be at most REAUTH_WINDOW seconds old; /reauthenticate renews it."""

import time

from tests.support.errors import without_request_id
from tests.support.processes import free_port
from tests.support.signin import bearer, login
from tests.support.totp import enrol

CHALLENGE = (
    'Bearer error="insufficient_user_authentication", '
    'error_description="A recent password check is required", max_age=300'
)


def change_email(client, headers, email="moved@example.com"):
    return client.patch("/users/me", json={"email": email}, headers=headers)


def test_a_recent_login_may_change_the_email(client, member, auth) -> None:
    response = change_email(client, auth(member))

    assert response.status_code == 200
    assert response.get_json()["email"] == "moved@example.com"


def test_a_stale_session_must_reauthenticate(client, member, auth, age_sessions) -> None:
    headers = auth(member)
    age_sessions(301)

    response = change_email(client, headers)

    assert response.status_code == 401
    body = response.get_json()
    assert body["error"] == "reauthentication_required"
    assert "/reauthenticate" in body["message"]
    assert response.headers["WWW-Authenticate"] == CHALLENGE


def test_reauthenticating_renews_the_window(client, member, auth, age_sessions) -> None:
    headers = auth(member)
    age_sessions(301)

    wrong = client.post("/reauthenticate", json={"password": "wrong-password-x"}, headers=headers)
    right = client.post("/reauthenticate", json={"password": member.password}, headers=headers)
    changed = change_email(client, headers)

    assert wrong.status_code == 401
    assert wrong.get_json()["error"] == "invalid_credentials"
    assert wrong.get_json()["details"] == {"password": ["The password is incorrect."]}
    assert right.status_code == 204
    assert right.get_data() == b""
    assert changed.status_code == 200
    assert changed.get_json()["email"] == "moved@example.com"


def test_reauthenticating_renews_only_its_own_session(client, member, auth, age_sessions) -> None:
    first, second = auth(member), auth(member)
    age_sessions(301)

    reauthenticated = client.post(
        "/reauthenticate", json={"password": member.password}, headers=first
    )
    other = change_email(client, second)
    own = change_email(client, first, "renewed@example.com")

    assert reauthenticated.status_code == 204
    assert reauthenticated.get_data() == b""
    assert other.status_code == 401
    assert other.get_json()["error"] == "reauthentication_required"
    assert own.status_code == 200
    assert own.get_json()["email"] == "renewed@example.com"


def test_wrong_passwords_at_reauthenticate_count_towards_the_lockout(client, member, auth) -> None:
    headers = auth(member)

    wrong = [
        client.post("/reauthenticate", json={"password": "nope-nope-nope"}, headers=headers)
        for _ in range(5)
    ]
    right = client.post("/reauthenticate", json={"password": member.password}, headers=headers)

    assert [response.status_code for response in wrong] == [401] * 5
    assert right.status_code == 429
    assert right.get_json()["error"] == "rate_limited"


def test_the_window_comes_from_the_config(make_app, member, token_for, age_sessions) -> None:
    client = make_app(REAUTH_WINDOW=60).test_client()
    headers = {"Authorization": f"Bearer {token_for(member)}"}
    age_sessions(61)

    response = change_email(client, headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].endswith("max_age=60")


def test_reauthenticate_needs_a_token(client) -> None:
    response = client.post("/reauthenticate", json={"password": "whatever-password"})

    assert response.status_code == 401
    assert response.get_json()["error"] == "missing_token"


def test_exactly_the_fresh_routes_say_so_in_the_document(client) -> None:
    spec = client.get("/openapi.json").get_json()

    fresh = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if method != "parameters"
        and "reauthentication_required"
        in operation.get("responses", {}).get("401", {}).get("description", "")
    }

    assert fresh == {
        ("PATCH", "/users/me"),
        ("POST", "/users/me/passkeys/options"),
        ("DELETE", "/users/me/passkeys/{passkey_id}"),
        ("POST", "/users/me/identities/{provider}"),
        ("DELETE", "/users/me/identities/{identity_id}"),
        ("POST", "/users/me/mfa/totp"),
        ("POST", "/users/me/tokens"),
        ("POST", "/users/me/mfa/recovery-codes"),
        ("POST", "/users/me/mfa/disable"),
        ("DELETE", "/orgs/{org_id}"),
        ("GET", "/users/me/export"),
        ("DELETE", "/users/me"),
        ("POST", "/webhooks/{endpoint_id}/rotate-secret"),
    }
    assert "204" in spec["paths"]["/reauthenticate"]["post"]["responses"]


def test_a_copied_token_does_not_become_fresh_when_its_owner_reauthenticates(
    client, member, age_sessions
) -> None:
    """Freshness belongs to the token: the owner's password check makes fresh the token that
    made it and those minted after, never a copy taken before (ASVS 7.5)."""
    signed_in = login(client, member)
    copied = signed_in["access_token"]
    age_sessions(301)
    refused = change_email(client, bearer(copied))
    time.sleep(1.1)  # (token times are whole seconds)
    renewed = client.post("/refresh", json={"refresh_token": signed_in["refresh_token"]})
    owners = renewed.get_json()
    reauthenticated = client.post(
        "/reauthenticate",
        json={"password": member.password},
        headers=bearer(owners["access_token"]),
    )

    still_stale = change_email(client, bearer(copied), "thief@example.com")
    owner_fresh = change_email(client, bearer(owners["access_token"]))

    assert refused.status_code == 401
    assert reauthenticated.status_code == 204
    assert still_stale.status_code == 401
    assert still_stale.get_json()["error"] == "reauthentication_required"
    assert owner_fresh.status_code == 200
    assert owner_fresh.get_json()["email"] == "moved@example.com"


def test_tokens_minted_after_a_reauthentication_are_fresh(client, member, age_sessions) -> None:
    signed_in = login(client, member)
    age_sessions(301)
    reauthenticated = client.post(
        "/reauthenticate",
        json={"password": member.password},
        headers=bearer(signed_in["access_token"]),
    )
    renewed = client.post("/refresh", json={"refresh_token": signed_in["refresh_token"]})

    response = change_email(client, bearer(renewed.get_json()["access_token"]))

    assert reauthenticated.status_code == 204
    assert response.status_code == 200
    assert response.get_json()["email"] == "moved@example.com"


def test_a_copied_token_does_not_survive_its_owners_password_change(client, member) -> None:
    signed_in = login(client, member)
    copied = signed_in["access_token"]
    time.sleep(1.1)
    changed = client.put(
        "/users/me/password",
        json={"current_password": member.password, "new_password": "a-brand-new-passphrase"},
        headers=bearer(signed_in["access_token"]),
    )

    me = client.get("/users/me", headers=bearer(copied))
    moved = change_email(client, bearer(copied), "thief@example.com")

    assert changed.status_code == 200
    for response in (me, moved):
        assert response.status_code == 401
        assert response.get_json()["error"] == "token_revoked"
    assert change_email(client, bearer(changed.get_json()["access_token"])).status_code == 200


# A body each fresh route would accept, so that only the freshness rule can refuse it.
FRESH_BODIES = {
    ("PATCH", "/users/me"): {"email": "stale@example.com"},
    ("POST", "/users/me/tokens"): {"name": "stale", "scopes": ["profile"]},
    ("POST", "/users/me/mfa/recovery-codes"): {"code": "123456"},
    ("POST", "/users/me/mfa/disable"): {"code": "123456"},
    ("POST", "/users/me/identities/{provider}"): {},
}


def test_every_route_the_document_calls_fresh_enforces_it(
    make_app, make_user, token_for, age_sessions
) -> None:
    """Not only documented: each operation whose 401 names reauthentication_required refuses a
    stale session's token with it (an admin's: freshness is checked after the permission)."""
    member = make_user("keeper", roles=("admin",))
    provider = {
        "name": "test",
        "issuer": f"http://127.0.0.1:{free_port()}",
        "client_id": "gatehouse",
        "client_secret": "s",
    }
    client = make_app(OIDC_PROVIDERS=[provider]).test_client()
    spec = client.get("/openapi.json").get_json()
    headers = bearer(token_for(member))
    # The member owns an organization (deleting one is fresh, after membership and permission).
    org_id = client.post("/orgs", json={"name": "Stale"}, headers=headers).get_json()["id"]
    age_sessions(301)
    checked = 0

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            description = operation.get("responses", {}).get("401", {}).get("description", "")
            if "reauthentication_required" not in description:
                continue
            url = path.format(
                passkey_id=1, identity_id=1, provider="test", org_id=org_id, endpoint_id=1
            )
            body = FRESH_BODIES.get((method.upper(), path))

            response = client.open(url, method=method.upper(), json=body, headers=headers)

            assert response.status_code == 401, (method, path, response.get_json())
            assert response.get_json()["error"] == "reauthentication_required", (method, path)
            checked += 1

    assert checked == 13


def test_with_mfa_on_reauthenticating_needs_a_second_factor_and_takes_a_recovery_code_as_code(
    client, member, auth
) -> None:
    headers = auth(member)
    authenticator = enrol(client, headers)
    confirmed = client.post(
        "/users/me/mfa/totp/confirm", json={"code": authenticator.code()}, headers=headers
    )
    recovery_code = confirmed.get_json()["recovery_codes"][0]

    without = client.post("/reauthenticate", json={"password": member.password}, headers=headers)
    with_recovery_code = client.post(
        "/reauthenticate",
        json={"password": member.password, "code": recovery_code},
        headers=headers,
    )
    again = client.post(
        "/reauthenticate",
        json={"password": member.password, "code": recovery_code},
        headers=headers,
    )

    assert confirmed.status_code == 200
    assert without.status_code == 422
    assert without_request_id(without.get_json()) == {
        "error": "validation_error",
        "message": "The request failed validation.",
        "status": 422,
        "details": {
            "code": ["A second factor is required: a code, or a passkey's answer (credential)."]
        },
    }
    assert with_recovery_code.status_code == 204
    assert with_recovery_code.get_data() == b""
    # Used up by the reauthentication it made.
    assert again.status_code == 401
    assert without_request_id(again.get_json()) == {
        "error": "invalid_credentials",
        "message": "The code is incorrect.",
        "status": 401,
        "details": {"code": ["The code is incorrect."]},
    }
