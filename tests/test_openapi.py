"""The OpenAPI document is built from the code and covers every route."""

import re

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


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
        if rule.endpoint != "api-docs.openapi_json"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }

    assert served == documented


def test_protected_operations_declare_bearer_security_and_roles(client) -> None:
    spec = _spec(client)

    admin_only = spec["paths"]["/users/admin-only"]["get"]
    assert admin_only["security"] == [{"bearerAuth": []}]
    assert "admin, operator" in admin_only["description"]
    assert spec["paths"]["/users/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in spec["paths"]["/login"]["post"]
