"""How the app uses PostgreSQL: exact counts kept by triggers, safe requests read without a
transaction, pooled connections checked without a round trip, one connection per request."""

import psycopg2
import pytest
from psycopg2.extensions import TRANSACTION_STATUS_IDLE, TRANSACTION_STATUS_INTRANS
from sqlalchemy import event, func, select, text

from app.database import discard_dead_connections
from app.extensions import db
from app.models import RowCount, User


@pytest.fixture
def member_headers(member, auth) -> dict[str, str]:
    return auth(member)


def counts(table: str = "users") -> dict[str, int]:
    """The table's counters that are not zero, by facet."""
    rows = db.session.execute(
        select(RowCount.facet, RowCount.row_count).where(RowCount.table_name == table)
    )
    return {facet: count for facet, count in rows if count}


def real_counts() -> dict[str, int]:
    """The same counts, counted."""
    found: dict[str, int] = {}
    for user in db.session.scalars(select(User)):
        active = f"is_active={'true' if user.is_active else 'false'}"
        for facet in ["", active] + [
            facet for role in user.rolenames for facet in (f"role={role}", f"role={role}&{active}")
        ]:
            found[facet] = found.get(facet, 0) + 1
    return found


def test_the_users_counters_follow_inserts_updates_deletes_and_truncates(app, make_user) -> None:
    with app.app_context():
        assert counts() == {}
    make_user("boss", roles=("admin", "user"))
    make_user("sleeper", is_active=False)
    make_user("plain")
    with app.app_context():
        assert counts() == real_counts()
        assert counts()["role=user&is_active=true"] == 2
        db.session.execute(
            text(
                "INSERT INTO users (username, email, password, roles) "
                "SELECT 'bulk' || n, 'bulk' || n || '@example.com', 'x', 'operator' "
                "FROM generate_series(1, 250) AS n"
            )
        )
        db.session.execute(text("DELETE FROM users WHERE username LIKE 'bulk1%'"))
        db.session.execute(
            text("UPDATE users SET is_active = false, roles = 'user' WHERE username LIKE 'bulk2%'")
        )
        db.session.execute(text("UPDATE users SET last_login_at = now()"))
        db.session.commit()
        assert counts() == real_counts()
        assert counts()[""] == 3 + 250 - 111  # bulk1, bulk10-19, bulk100-199
        assert counts()["is_active=false"] == 1 + 1 + 10 + 51  # sleeper, bulk2, bulk2x, bulk2xx

        db.session.execute(text("TRUNCATE users CASCADE"))
        db.session.commit()
        assert counts() == {}


def test_a_rolled_back_insert_leaves_the_counters_alone(app, make_user) -> None:
    make_user("kept")
    with app.app_context():
        db.session.execute(
            text("INSERT INTO users (username, email, password) VALUES ('gone', 'g@x.org', 'x')")
        )
        assert counts()["role=user"] == 2  # the writer sees its own insert
        db.session.rollback()
        assert counts() == {
            "": 1,
            "is_active=true": 1,
            "role=user": 1,
            "role=user&is_active=true": 1,
        }


def test_only_the_users_are_counted(app, client, member, auth) -> None:
    """Counters exist where a list reads them: the user directory's totals. Bucketlists and
    audit events are counted by their lists' own statements."""
    headers = auth(member)
    for name in ("one", "two"):
        assert client.post("/bucketlists", json={"name": name}, headers=headers).status_code == 201
    with app.app_context():
        assert counts("bucketlists") == {}
        assert counts("audit_events") == {}
        assert counts("users")[""] == 1
        triggers = db.session.scalars(
            text(
                "SELECT DISTINCT event_object_table FROM information_schema.triggers "
                "WHERE event_object_table NOT LIKE 'procrastinate%'"
            )
        ).all()
    assert triggers == ["users"]


@pytest.mark.parametrize(
    ("query", "total", "counter"),
    [
        ("", 5, ""),
        ("role=admin", 1, "role=admin"),
        ("role=user&is_active=false", 1, "role=user&is_active=false"),
        ("is_active=true", 4, "is_active=true"),
    ],
)
def test_lists_filtered_by_role_and_status_read_their_counter(
    app, client, admin, make_user, auth, counted_statements, query, total, counter
) -> None:
    for number in range(3):
        make_user(f"listed{number}")
    make_user("dormant", is_active=False)
    headers = auth(admin)
    with counted_statements() as statements:
        counted = client.get(f"/users/admin-only?per_page=2&{query}", headers=headers)
    # A counter put out of step by hand shows where the total comes from: the counter.
    with app.app_context():
        db.session.execute(
            text(
                "UPDATE row_counts SET row_count = row_count + 1000"
                " WHERE table_name = 'users' AND facet = :facet"
            ),
            {"facet": counter},
        )
        db.session.commit()
    off_step = client.get(f"/users/admin-only?per_page=2&{query}", headers=headers)

    assert counted.status_code == off_step.status_code == 200
    assert counted.get_json()["_meta"]["total_items"] == total
    assert off_step.get_json()["_meta"]["total_items"] == total + 1000
    assert off_step.get_json()["items"] == counted.get_json()["items"]
    # The token, then the page with its counter; a filtered list reads its counter first (to
    # choose how to find so few users), then its page.
    assert len(statements) == (3 if query else 2)


def test_a_list_filtered_by_text_counts_its_matches(
    app, client, admin, make_user, auth, counted_statements
) -> None:
    for number in range(3):
        make_user(f"listed{number}")
    headers = auth(admin)
    # No counter can answer for free text: one put out of step changes nothing.
    with app.app_context():
        db.session.execute(
            text("UPDATE row_counts SET row_count = row_count + 1000 WHERE table_name = 'users'")
        )
        db.session.commit()
    with counted_statements() as statements:
        response = client.get("/users?per_page=2&q=listed", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["_meta"] == {
        "page": 1,
        "per_page": 2,
        "total_pages": 2,
        "total_items": 3,
    }
    assert len(statements) == 2


IN_A_TRANSACTION = text("SELECT transaction_timestamp() <> statement_timestamp()")


@pytest.mark.parametrize(
    ("method", "status"), [("GET", TRANSACTION_STATUS_IDLE), ("POST", TRANSACTION_STATUS_INTRANS)]
)
def test_safe_requests_read_without_a_transaction(app, method, status) -> None:
    with app.test_request_context(method=method):
        in_transaction = db.session.scalar(IN_A_TRANSACTION)
        dbapi_connection = db.session.connection().connection.dbapi_connection
        assert dbapi_connection.info.transaction_status == status
        assert in_transaction is (method == "POST")
        db.session.remove()
        # The pooled connection goes back to transactions for its next user.
        assert dbapi_connection.autocommit is False
    with app.app_context():
        assert db.session.scalar(IN_A_TRANSACTION) is True
        db.session.rollback()


def test_without_the_fast_path_safe_requests_read_in_a_transaction(make_app) -> None:
    app = make_app(FAST_PATHS={"sql_dump"})
    with app.test_request_context(method="GET"):
        assert db.session.scalar(IN_A_TRANSACTION) is True
        dbapi_connection = db.session.connection().connection.dbapi_connection
        assert dbapi_connection.info.transaction_status == TRANSACTION_STATUS_INTRANS
        db.session.remove()


def test_a_safe_request_that_writes_is_refused_before_writing(make_app, member) -> None:
    # Its own app: a route added to the shared one would outlive the test.
    app = make_app()
    client = app.test_client()

    def sneaky_write():
        db.session.get(User, member.id).email = "changed@example.com"
        db.session.commit()

    app.add_url_rule("/sneaky", view_func=sneaky_write)

    response = client.get("/sneaky")

    assert response.status_code == 500
    assert response.get_json()["error"] == "internal_error"
    with app.app_context():
        assert db.session.get(User, member.id).email == member.email


def backend_pid(app) -> int:
    with app.app_context():
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.remove()
    return pid


def terminate(database_url: str, pid: int) -> None:
    connection = psycopg2.connect(database_url.replace("postgresql+psycopg2", "postgresql"))
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        assert cursor.fetchone()[0] is True
    connection.close()


def test_a_pooled_connection_the_server_closed_is_replaced_before_use(
    make_app, migrated_database, member_headers
) -> None:
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "pool_pre_ping": False})
    client = app.test_client()
    pid = backend_pid(app)
    terminate(migrated_database, pid)

    response = client.get("/users/me", headers=member_headers)

    assert response.status_code == 200
    assert response.get_json()["username"] == "member"
    assert backend_pid(app) != pid


def test_without_the_check_the_same_request_fails(
    make_app, migrated_database, member_headers
) -> None:
    """The control for the test above: the check is what saves the request."""
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "pool_pre_ping": False})
    with app.app_context():
        event.remove(db.engine, "checkout", discard_dead_connections)
    client = app.test_client()
    terminate(migrated_database, backend_pid(app))

    response = client.get("/users/me", headers=member_headers)

    assert response.status_code == 503
    assert response.get_json()["error"] == "service_unavailable"


@pytest.mark.parametrize(
    "path", ["/users?per_page=5", "/users?per_page=5&q=mem", "/users?per_page=5&page=3"]
)
def test_a_pool_of_one_connection_serves_every_kind_of_request(
    make_app, member, auth, path
) -> None:
    """A request never holds two connections: the token check, the count and the page, and a
    write after a read, share the session's one."""
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 1})
    client = app.test_client()
    headers = auth(member)
    response = client.patch("/users/me", json={"email": "new@example.com"}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["email"] == "new@example.com"
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["_meta"]["total_items"] == 1


def test_the_counter_is_what_count_says(app, make_user) -> None:
    for number in range(4):
        make_user(f"counted{number}", roles=("operator",) if number % 2 else ("user",))
    with app.app_context():
        for role in ("user", "operator", "admin"):
            counted = db.session.scalar(
                select(func.count()).select_from(User).where(User.has_role(role))
            )
            assert db.session.scalar(select(User.count_of(role=role))) == counted
        assert db.session.scalar(select(User.count_of())) == 4
        assert db.session.scalar(select(User.count_of(is_active=False))) == 0
