"""Findings of a security review, each pinned: oversized JSON integers, paths with "//" or
digits of other scripts, and Authorization headers that are not exactly "Bearer <token>"."""

import pytest

ANONYMOUS_BODIES = [
    "/login",
    "/register",
    "/password/forgot",
    "/password/reset",
    "/register/confirm",
]


@pytest.mark.parametrize("path", ANONYMOUS_BODIES)
def test_an_integer_past_pythons_digit_limit_is_400_not_500(client, path) -> None:
    response = client.post(path, data='{"x": ' + "1" * 4301 + "}", content_type="application/json")

    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "bad_request"
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_double_slash_is_a_json_404_not_a_redirect_built_from_host(client, admin, auth) -> None:
    response = client.get("/users//1", headers={**auth(admin), "Host": "evil.example"})

    assert response.status_code == 404
    assert response.content_type == "application/json"
    assert "Location" not in response.headers
    assert response.get_json()["error"] == "not_found"


@pytest.mark.parametrize("digit", ["%EF%BC%91", "%D9%A3", "%E0%A5%A7"])
def test_only_ascii_digits_name_a_row(client, admin, make_user, auth, digit) -> None:
    for number in range(3):
        make_user(f"numbered{number}")

    response = client.get(f"/users/{digit}", headers=auth(admin))

    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
    assert client.get("/users/1", headers=auth(admin)).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Bearer{token}",
        "Bearer  {token}",
        "Bearer {token}!!junk",
        "Bearer {token}, Bearer {token}",
        "Bearer {token} ",
        "bearer {token}",
        "Token {token}",
        "Bearer",
    ],
)
def test_authorization_must_be_exactly_bearer_and_the_token(
    client, member, token_for, header
) -> None:
    token = token_for(member)

    response = client.get("/users/me", headers={"Authorization": header.format(token=token)})

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    exact = client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert exact.status_code == 200
    assert exact.get_json()["username"] == member.username


def test_a_body_of_many_unknown_fields_gets_one_short_answer(client) -> None:
    """70,000 unknown keys (760 KB) once made a 2 MB answer: now one sentence."""
    body = "{" + ",".join(f'"k{number}": 1' for number in range(70_000)) + "}"

    response = client.post("/password/reset", data=body, content_type="application/json")

    assert response.status_code == 422
    assert response.get_json()["details"] == {"_schema": ["Too many fields: this request takes 3."]}
    assert len(response.get_data()) < 1024


def test_a_few_unknown_fields_are_still_named(client) -> None:
    response = client.post(
        "/password/reset", json={"token": "t", "password": "p" * 12, "extra": 1, "more": 2}
    )

    assert response.status_code == 422
    assert set(response.get_json()["details"]) >= {"extra", "more"}


@pytest.mark.parametrize("path", ["/password/reset", "/register/confirm"])
def test_the_emailed_token_routes_are_limited_per_address(make_app, path) -> None:
    client = make_app(RATELIMIT_ENABLED=True, RATELIMIT_EMAILED_TOKENS="2 per minute").test_client()
    body = {"token": "not-a-token"} | ({"password": "a-long-password-1"} if "reset" in path else {})
    for _ in range(2):
        assert client.post(path, json=body).status_code == 401

    refused = client.post(path, json=body)

    assert refused.status_code == 429
    assert refused.get_json()["error"] == "rate_limited"
    assert "Retry-After" in refused.headers


def test_a_client_request_id_never_files_an_audit_event_alone(app, client, admin, auth) -> None:
    """Two requests sent with one X-Request-ID: each event keeps the server's own id beside it."""
    headers = {**auth(admin), "X-Request-ID": "deadbeef-req-1"}
    for name in ("first", "second"):
        created = client.post(
            "/users",
            json={"username": name, "email": f"{name}@example.com", "password": "long-passw0rd!"},
            headers=headers,
        )
        assert created.status_code == 201
        assert created.headers["X-Request-ID"] == "deadbeef-req-1"

    events = client.get("/audit-events?action=user.created", headers=auth(admin)).get_json()
    pair = events["items"][:2]
    assert [event["request_id"] for event in pair] == ["deadbeef-req-1"] * 2
    assert len({event["server_request_id"] for event in pair}) == 2
    assert all(len(event["server_request_id"]) == 32 for event in pair)


@pytest.mark.parametrize("sent", ["x" * 65, "has space", "tab\there", "colon:id", "é"])
def test_a_request_id_of_another_shape_is_replaced(client, sent) -> None:
    response = client.get("/health", headers={"X-Request-ID": sent})

    assert response.status_code == 200
    assert response.headers["X-Request-ID"] != sent
    assert len(response.headers["X-Request-ID"]) == 32


GOOD_PASSWORD = "a-long-enough-passphrase"


def register(client, username: str, email: str):
    return client.post(
        "/register", json={"username": username, "email": email, "password": GOOD_PASSWORD}
    )


def test_an_email_with_a_kelvin_sign_is_the_plain_address(client, member) -> None:
    first = register(client, "kate", "\u212aate@example.com")
    second = register(client, "kate2", "kate@example.com")

    assert first.status_code == 201
    assert first.get_json()["email"] == "kate@example.com"
    assert second.status_code == 409
    assert second.get_json()["details"] == {"email": ["That e-mail address is already registered."]}


def test_an_email_is_stored_in_canonical_form(client, admin, auth) -> None:
    response = register(client, "ada", "Ada.Lovelace@EXAMPLE.com")
    forgot = client.post("/password/forgot", json={"email": "ADA.lovelace@example.COM"})

    assert response.status_code == 201
    assert response.get_json()["email"] == "ada.lovelace@example.com"
    assert forgot.status_code == 202
    assert forgot.get_json()["message"].startswith("If an active account")


def test_a_full_width_username_is_stored_in_ascii(client) -> None:
    response = register(client, "\uff4b\uff41\uff54\uff45\uff11", "kate1@example.com")

    assert response.status_code == 201
    assert response.get_json()["username"] == "kate1"


@pytest.mark.parametrize("login_name", ["LOCKME1", "loc\u212ame1", "\uff4c\uff4f\uff43\uff4bme1"])
def test_a_login_name_is_compared_in_canonical_form(client, make_user, login_name) -> None:
    account = make_user("lockme1")

    response = client.post("/login", json={"username": login_name, "password": account.password})
    me = client.get(
        "/users/me", headers={"Authorization": f"Bearer {response.get_json()['access_token']}"}
    )

    assert response.status_code == 200
    assert me.get_json()["username"] == "lockme1"


@pytest.mark.parametrize(
    "username", ["admin.", "Adm1n", "_ADMIN_", "adrnin", "0perator", "op-erat0r"]
)
def test_a_username_that_passes_for_a_staff_account_is_refused(
    client, admin, operator, username
) -> None:
    response = register(client, username, "newcomer@example.com")

    assert response.status_code == 409
    assert response.get_json()["details"] == {
        "username": ["That username looks too much like a staff account's; choose another."]
    }


@pytest.mark.parametrize("username", ["administrator", "admin2", "member.", "operators"])
def test_names_that_only_contain_or_resemble_members_are_free(
    client, admin, operator, member, username
) -> None:
    response = register(client, username, f"new.{username.strip('.')}@example.com")

    assert response.status_code == 201
    assert response.get_json()["username"] == username


def test_an_admin_cannot_create_a_staff_look_alike_either(client, admin, auth) -> None:
    response = client.post(
        "/users",
        json={"username": "ADM1N", "email": "x@example.com", "password": GOOD_PASSWORD},
        headers=auth(admin),
    )

    assert response.status_code == 409
    assert list(response.get_json()["details"]) == ["username"]
