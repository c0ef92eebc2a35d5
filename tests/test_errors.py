"""Every error, whoever raises it, leaves as the JSON envelope with a request id."""

import io
import json

import pytest

from app.extensions import db
from app.models import Bucketlist, User

ENVELOPE_KEYS = {"error", "message", "status", "request_id"}


def _assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert ENVELOPE_KEYS <= set(body) <= ENVELOPE_KEYS | {"details"}
    assert body["error"] == code
    assert body["status"] == status
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def test_unknown_path_is_json_404(client) -> None:
    _assert_envelope(client.get("/no/such/thing"), 404, "not_found")


def test_wrong_method_is_json_405_with_allow_header(client) -> None:
    response = client.put("/login", json={})

    _assert_envelope(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_body_over_one_mebibyte_is_413(client) -> None:
    body = b'{"username": "' + b"a" * (1024 * 1024) + b'", "password": "x"}'

    response = client.post("/login", data=body, content_type="application/json")

    _assert_envelope(response, 413, "payload_too_large")


def chunked(body: bytes) -> dict:
    """A request body sent without Content-Length, as a chunked upload arrives from gunicorn
    (which ends the stream itself and says so in ``wsgi.input_terminated``)."""
    return {
        "input_stream": io.BytesIO(body),
        "environ_base": {"wsgi.input_terminated": True},
        "content_type": "application/json",
        "headers": {"Transfer-Encoding": "chunked"},
    }


def test_chunked_body_over_one_mebibyte_is_413(client) -> None:
    body = b'{"username": "' + b"a" * (2 * 1024 * 1024) + b'", "password": "x"}'

    _assert_envelope(client.post("/login", **chunked(body)), 413, "payload_too_large")


def test_chunked_body_within_the_limit_is_read_whole(client) -> None:
    body = json.dumps({"username": "nobody", "password": "p" * 200}).encode()

    response = client.post("/login", **chunked(body))

    _assert_envelope(response, 401, "invalid_credentials")


def test_malformed_json_is_400(client) -> None:
    response = client.post("/login", data='{"username": ', content_type="application/json")

    body = _assert_envelope(response, 400, "bad_request")
    assert body["message"] == "The request body is not valid JSON."


@pytest.mark.parametrize(
    ("data", "content_type"),
    [("username=a&password=b", "application/x-www-form-urlencoded"), ("hello", "text/plain")],
)
def test_non_json_body_is_415(client, data, content_type) -> None:
    response = client.post("/login", data=data, content_type=content_type)

    _assert_envelope(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("payload", ["[1, 2]", '"text"', "42", "null"])
def test_json_that_is_not_an_object_is_422(client, payload) -> None:
    response = client.post("/login", data=payload, content_type="application/json")

    body = _assert_envelope(response, 422, "validation_error")
    assert body["details"] == {"_schema": ["Invalid input type."]}


def test_request_id_is_echoed_when_sane(client) -> None:
    response = client.get("/nowhere", headers={"X-Request-ID": "abc-123.DEF_4"})

    assert response.headers["X-Request-ID"] == "abc-123.DEF_4"
    assert response.get_json()["request_id"] == "abc-123.DEF_4"


@pytest.mark.parametrize("hostile", ["a b", "x" * 200, "<script>", "id\u00e9"])
def test_request_id_is_replaced_when_not_sane(client, hostile) -> None:
    response = client.get("/health", headers={"X-Request-ID": hostile.encode().decode("latin-1")})

    assert response.status_code == 200
    assert response.headers["X-Request-ID"] != hostile
    assert len(response.headers["X-Request-ID"]) == 32


def test_successful_responses_carry_a_request_id_too(client) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert len(response.headers["X-Request-ID"]) == 32


def test_unexpected_exception_is_a_500_without_details(make_app, caplog) -> None:
    # Its own app: a route added to the shared one would outlive the test.
    app = make_app()
    client = app.test_client()

    def explode():
        raise RuntimeError("secret internals: SELECT password FROM users")

    app.add_url_rule("/explode", view_func=explode)

    response = client.get("/explode")

    body = _assert_envelope(response, 500, "internal_error")
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert body["message"] == "An unexpected error occurred; it has been logged."
    assert "secret internals" in caplog.text


@pytest.mark.parametrize(
    ("username", "email", "field"),
    [("MEMBER", "other@example.com", "username"), ("other", "Member@Example.com", "email")],
)
def test_unique_violation_is_409_naming_the_field(make_app, member, username, email, field):
    # Its own app: a route added to the shared one would outlive the test.
    app = make_app()
    client = app.test_client()

    def duplicate():
        db.session.add(User(username=username, email=email, password="x"))
        db.session.commit()

    app.add_url_rule("/duplicate", view_func=duplicate, methods=["POST"])

    response = client.post("/duplicate")

    _assert_envelope(response, 409, "conflict")
    assert list(response.get_json()["details"]) == [field]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 1


def test_a_foreign_key_failure_is_not_called_a_taken_username(make_app, member) -> None:
    """The owner was deleted meanwhile: a 409 that says so, not "the username is taken"."""
    # Its own app: a route added to the shared one would outlive the test.
    app = make_app()
    client = app.test_client()

    def orphan():
        db.session.add(Bucketlist(owner_id=member.id + 1000, name="nobody's"))
        db.session.commit()

    app.add_url_rule("/orphan", view_func=orphan, methods=["POST"])

    response = client.post("/orphan")

    _assert_envelope(response, 409, "conflict")
    body = response.get_json()
    assert "deleted meanwhile" in body["message"]
    assert "details" not in body


def test_any_other_constraint_failure_is_our_bug_500(make_app, member) -> None:
    # Its own app: a route added to the shared one would outlive the test.
    app = make_app()
    client = app.test_client()

    def null_name():
        db.session.add(Bucketlist(owner_id=member.id, name=None))
        db.session.commit()

    app.add_url_rule("/null", view_func=null_name, methods=["POST"])

    _assert_envelope(client.post("/null"), 500, "internal_error")


def test_a_row_deleted_by_a_concurrent_request_is_404_not_500(make_app, member) -> None:
    """Another request deletes the row between this request's read and its write."""
    # Its own app: a route added to the shared one would outlive the test.
    app = make_app()
    client = app.test_client()

    def update_vanished_user():
        user = db.session.get(User, member.id)
        with db.engine.connect() as other_request:
            other_request.execute(db.delete(User).where(User.user_id == member.id))
            other_request.commit()
        user.email = "late@example.com"
        db.session.commit()

    app.add_url_rule("/vanished", view_func=update_vanished_user, methods=["POST"])

    response = client.post("/vanished")

    body = _assert_envelope(response, 404, "not_found")
    assert body["message"] == "The resource was deleted while this request was being handled."


def test_protected_route_is_503_when_the_database_is_unreachable(
    migrated_database, member, token_for, monkeypatch
) -> None:
    from app import create_app

    token = token_for(member)
    monkeypatch.setenv("TEST_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    unreachable = create_app("testing")

    response = unreachable.test_client().get(
        "/users/me", headers={"Authorization": f"Bearer {token}"}
    )

    _assert_envelope(response, 503, "service_unavailable")
