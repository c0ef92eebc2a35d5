"""The Postman collection covers every documented operation and is well formed."""

import json
import re
from pathlib import Path

POSTMAN = Path(__file__).resolve().parent.parent / "postman"
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _requests(items: list) -> list[dict]:
    found = []
    for item in items:
        found.extend(_requests(item["item"]) if "item" in item else [item])
    return found


def _collection() -> dict:
    return json.loads((POSTMAN / "gatehouse.postman_collection.json").read_text())


def test_every_documented_operation_has_a_request_in_the_collection(client) -> None:
    spec = client.get("/openapi.json").get_json()
    documented = {
        (method.upper(), re.sub(r"\{\w+\}", "{}", path))
        for path, operations in spec["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }
    in_collection = set()
    for request in _requests(_collection()["item"]):
        raw = request["request"]["url"]["raw"].removeprefix("{{baseUrl}}").split("?")[0]
        path = re.sub(r"\{\{\w+\}\}|(?<=/)\d+(?=/|$)", "{}", raw)
        in_collection.add((request["request"]["method"], path or "/"))

    assert documented - in_collection == set()


def test_every_request_asserts_its_status_and_body() -> None:
    """A literal status, and an expectation on the body that was read (an empty one for 204)."""
    checked = 0
    for request in _requests(_collection()["item"]):
        scripts = [
            line
            for event in request.get("event", [])
            if event["listen"] == "test"
            for line in event["script"]["exec"]
        ]
        source = "\n".join(scripts)
        statuses = re.findall(r"pm\.response\.to\.have\.status\((\d{3})\)", source)
        assert statuses, request["name"]
        assert "pm.expect(" in source, request["name"]
        if statuses == ["204"]:
            assert 'pm.expect(pm.response.text()).to.eql("")' in source, request["name"]
        else:
            assert re.search(r"pm\.response\.(json|text)\(\)", source), request["name"]
        checked += 1
    assert checked >= 100


def test_collection_is_v2_1_with_the_documented_variables() -> None:
    collection = _collection()
    environment = json.loads((POSTMAN / "gatehouse.postman_environment.json").read_text())

    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    assert {folder["name"] for folder in collection["item"]} >= {"Root", "Auth", "Users"}
    assert {value["key"] for value in environment["values"]} == {
        "baseUrl",
        "adminUsername",
        "adminPassword",
        "userUsername",
        "userPassword",
    }
