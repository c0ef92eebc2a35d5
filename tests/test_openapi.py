"""The OpenAPI document is built from the code and covers every route."""

import re

import pytest

from app.api.docs import SWAGGER_UI_ASSETS

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
# The documentation itself: the OpenAPI document, Swagger UI and its assets.
# Pages for people, not operations of the API.
DOCUMENTATION_ENDPOINTS = ("api-docs.", "docs_assets.", "account_page.")


def _spec(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_openapi_document_is_3_1_with_the_envelope_and_bearer_scheme(client) -> None:
    spec = _spec(client)

    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["title"] == "Gatehouse"
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert set(spec["components"]["schemas"]["Error"]["properties"]) == {
        "error",
        "message",
        "status",
        "details",
        "request_id",
    }


def test_every_route_of_the_app_is_documented(app, client) -> None:
    spec = _spec(client)
    documented = {
        (re.sub(r"\{(\w+)\}", r"<\1>", path), method.upper())
        for path, operations in spec["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if not rule.endpoint.startswith(DOCUMENTATION_ENDPOINTS)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }

    assert served == documented


def test_protected_operations_declare_bearer_security_and_roles(client) -> None:
    spec = _spec(client)

    admin_only = spec["paths"]["/users/admin-only"]["get"]
    assert admin_only["security"] == [{"bearerAuth": ["users:inspect"]}]
    assert "whose token may use users:inspect" in admin_only["description"]
    user_sessions = spec["paths"]["/users/{user_id}/sessions"]["delete"]
    assert user_sessions["security"] == [{"bearerAuth": ["users:write", "session"]}]
    assert spec["paths"]["/users/me"]["get"]["security"] == [{"bearerAuth": ["profile"]}]
    assert spec["paths"]["/users/me/sessions"]["get"]["security"] == [{"bearerAuth": ["session"]}]
    assert "security" not in spec["paths"]["/login"]["post"]


def test_every_protected_operation_documents_its_error_envelopes(client) -> None:
    spec = _spec(client)

    protected = queried = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation["responses"]
            if "security" in operation:
                protected += 1
                for status in ("401", "403"):
                    content = responses[status]["content"]["application/json"]
                    assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (
                        path,
                        method,
                    )
            if any(parameter["in"] == "query" for parameter in operation.get("parameters", [])):
                queried += 1
                assert "400" in responses, (path, method)

    # The loop saw the document's operations, not an empty or unprotected one.
    assert protected >= 40
    assert queried >= 10


def test_docs_page_is_swagger_ui_served_from_the_app(client) -> None:
    page = client.get("/docs")

    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'data-spec-url="/openapi.json"' in html
    assert "http://" not in html
    assert "https://" not in html
    assets = re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', html)
    assert sorted(assets) == [
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
    ]
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200
        assert len(response.get_data()) > 1000
        response.close()


def test_swagger_ui_is_version_5_and_can_send_bearer_tokens(client) -> None:
    bundle = client.get("/docs/assets/swagger-ui-bundle.js")
    version = (SWAGGER_UI_ASSETS / "VERSION").read_text().strip()

    assert bundle.status_code == 200
    bundle.close()
    assert int(version.lstrip("v").split(".")[0]) >= 5  # 5 is the first to render OpenAPI 3.1
    assert _spec(client)["components"]["securitySchemes"]["bearerAuth"]["type"] == "http"


def test_missing_docs_asset_is_a_json_404(client) -> None:
    response = client.get("/docs/assets/../../app/config.py")

    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("path", "method", "status", "code"),
    [
        ("/users/me/password", "put", "401", "invalid_credentials"),
        ("/users/{user_id}", "get", "404", "not_found"),
        ("/users/{user_id}", "patch", "404", "not_found"),
        ("/users/{user_id}", "delete", "404", "not_found"),
        ("/users/{user_id}", "patch", "409", "last active admin"),
        ("/users/{user_id}", "delete", "409", "last active admin"),
        ("/users/{user_id}", "patch", "409", "e-mail is taken"),
        ("/users/me", "patch", "409", "taken"),
        ("/users", "post", "409", "taken"),
    ],
)
def test_user_operations_document_the_errors_they_answer(client, path, method, status, code):
    response = _spec(client)["paths"][path][method]["responses"][status]

    assert code in response["description"]
    assert response["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def _concrete(path: str) -> str:
    """The path with 1 for every id parameter (``{user_id}``, ``{note_id}``...) and a name for
    a provider's."""
    return re.sub(r"\{\w+\}", "1", path.replace("{provider}", "some-provider"))


def test_what_the_document_says_is_what_is_enforced(client, make_user, auth) -> None:
    """Every operation documented as needing a token refuses an anonymous caller with 401, and
    every one documented as needing a permission the ``user`` role does not grant refuses a
    plain user with 403 naming it (docs and checks come from one decorator, so a view cannot be
    documented as needing users:write and be open)."""
    headers = auth(make_user("plain"))
    user_grants = {"profile", "users:read", "bucketlists:read", "bucketlists:write", "session"}
    checked = refusals = 0
    for path, operations in _spec(client)["paths"].items():
        for method, operation in operations.items():
            if "security" not in operation:
                continue
            call = getattr(client, method)
            anonymous = call(_concrete(path), json={})
            assert anonymous.status_code == 401, (method, path)
            assert anonymous.get_json()["error"] == "missing_token"
            (needed,) = (set(requirement["bearerAuth"]) for requirement in operation["security"])
            if needed - user_grants:
                refused = call(_concrete(path), json={}, headers=headers)
                assert refused.status_code == 403, (method, path)
                assert refused.get_json()["error"] == "forbidden"
                assert refused.get_json()["details"]["permissions"] == sorted(needed - user_grants)
                refusals += 1
            checked += 1
    assert checked >= 20
    assert refusals >= 10
