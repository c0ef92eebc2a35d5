"""The cheap database paths: exact row counts kept by triggers, reads outside transactions, and
pooled connections checked without a round trip."""

import psycopg2
import pytest
from psycopg2.extensions import TRANSACTION_STATUS_IDLE
from sqlalchemy import bindparam, event, func, literal, select, text, update
from sqlalchemy.exc import DataError, DBAPIError

from app.database import PreparedRead, discard_dead_connections, execute_alone, read_rows
from app.extensions import db
from app.models import RowCount, User


@pytest.fixture
def member_headers(member, auth) -> dict[str, str]:
    return auth(member)


def users_counter() -> int:
    return db.session.scalar(select(RowCount.row_count).where(RowCount.table_name == "users"))


def test_the_users_counter_follows_inserts_deletes_and_truncates(app, make_user) -> None:
    with app.app_context():
        assert users_counter() == 0
    for number in range(3):
        make_user(f"counted{number}")
    with app.app_context():
        db.session.execute(
            text(
                "INSERT INTO users (username, email, password) "
                "SELECT 'bulk' || n, 'bulk' || n || '@example.com', 'x' "
                "FROM generate_series(1, 250) AS n"
            )
        )
        db.session.execute(text("DELETE FROM users WHERE username LIKE 'bulk1%'"))
        db.session.commit()
        real = db.session.scalar(select(func.count()).select_from(User))
        assert real == 3 + 250 - 111  # bulk1, bulk10-19, bulk100-199
        assert users_counter() == real

        db.session.execute(text("TRUNCATE users CASCADE"))
        db.session.commit()
        assert users_counter() == 0


def test_a_rolled_back_insert_leaves_the_counter_alone(app, make_user) -> None:
    make_user("kept")
    with app.app_context():
        db.session.execute(
            text("INSERT INTO users (username, email, password) VALUES ('gone', 'g@x.org', 'x')")
        )
        assert users_counter() == 2  # the writer sees its own insert
        db.session.rollback()
        assert users_counter() == 1


def test_the_unfiltered_list_reads_the_counter_and_a_filtered_one_counts(
    client, admin, make_user, auth, counted_statements
) -> None:
    for number in range(4):
        make_user(f"listed{number}")
    headers = auth(admin)

    with counted_statements() as statements:
        everyone = client.get("/users?per_page=2", headers=headers)
    assert everyone.status_code == 200
    assert everyone.get_json()["_meta"]["total_items"] == 5
    assert len(statements) == 2
    assert "row_counts" in statements[1]
    assert "count(" not in statements[1]
    # Both reads every client makes are prepared statements: the token check and the page.
    assert all(statement.startswith("EXECUTE gatehouse_read_") for statement in statements)

    with counted_statements() as statements:
        some = client.get("/users?per_page=2&q=listed", headers=headers)
    assert some.status_code == 200
    assert some.get_json()["_meta"]["total_items"] == 4
    assert len(statements) == 2
    assert "count(" in statements[1]
    assert not statements[1].startswith("EXECUTE")


@pytest.mark.parametrize(
    ("path", "expected_statements"),
    [
        # The token, the empty page, then the total alone.
        ("/users/admin-only?page=9&per_page=10", 3),
        ("/users/admin-only?page=9&per_page=10&q=adm", 3),
        # The public list's page statement answers its total even when the page is empty.
        ("/users?page=9&per_page=10", 2),
        ("/users?page=9&per_page=10&q=adm", 2),
    ],
)
def test_a_page_past_the_end_still_knows_the_total(
    client, admin, auth, counted_statements, path, expected_statements
) -> None:
    headers = auth(admin)
    with counted_statements() as statements:
        response = client.get(path, headers=headers)

    assert response.status_code == 200
    body = response.get_json()
    assert body["items"] == []
    assert body["_meta"] == {"page": 9, "per_page": 10, "total_pages": 1, "total_items": 1}
    assert len(statements) == expected_statements


IN_ITS_OWN_TRANSACTION = text("SELECT transaction_timestamp() = statement_timestamp()")


def test_a_read_outside_a_transaction_is_its_own_statement(app) -> None:
    with app.test_request_context():
        # No BEGIN went first: the statement's transaction started with it.
        assert read_rows(IN_ITS_OWN_TRANSACTION)[0][0] is True
        assert not db.session().in_transaction()


def test_a_read_after_a_write_joins_the_transaction_and_sees_the_write(app) -> None:
    with app.test_request_context():
        db.session.execute(
            text("INSERT INTO users (username, email, password) VALUES ('new', 'n@x.org', 'x')")
        )
        assert read_rows(IN_ITS_OWN_TRANSACTION)[0][0] is False
        assert read_rows(select(User.username))[0].username == "new"
        db.session.rollback()


SYNCHRONOUS_COMMIT = func.current_setting("synchronous_commit")


@pytest.mark.parametrize(
    ("options", "setting"), [({}, "on"), ({"asynchronous_commit": True}, "off")]
)
def test_asynchronous_commit_holds_for_its_statement_alone(app, member, options, setting) -> None:
    """A statement run on its own with the option commits without waiting for the disk; the
    next statement on the same connection waits again."""
    touch = (
        update(User)
        .where(User.user_id == member.id)
        .values(failed_login_count=0)
        .returning(SYNCHRONOUS_COMMIT)
        .execution_options(**options)
    )
    with app.test_request_context():
        assert execute_alone(touch).scalar_one() == setting
        dbapi_connection = db.session.connection().connection.dbapi_connection
        assert dbapi_connection.info.transaction_status == TRANSACTION_STATUS_IDLE  # committed
        assert read_rows(select(SYNCHRONOUS_COMMIT))[0][0] == "on"


def test_asynchronous_commit_joining_a_transaction_holds_until_it_ends(app, member) -> None:
    with app.test_request_context():
        db.session.execute(text("SELECT 1"))
        db.session.execute(select(literal(1)).execution_options(asynchronous_commit=True))
        assert db.session.scalar(select(SYNCHRONOUS_COMMIT)) == "off"
        db.session.commit()
        assert db.session.scalar(select(SYNCHRONOUS_COMMIT)) == "on"
        db.session.rollback()


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


def prepared_plans(app) -> dict[str, tuple[int, int]]:
    """The statements the (one) pooled connection has prepared, with how often each ran on a
    generic plan and on a custom one (planned for that run's values)."""
    with app.app_context():
        connection = db.engine.raw_connection()
        try:
            with connection.dbapi_connection.cursor() as cursor:
                cursor.execute(
                    "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements"
                )
                plans = {name: (generic, custom) for name, generic, custom in cursor.fetchall()}
            connection.dbapi_connection.rollback()
        finally:
            connection.close()
    return plans


def prepared_runs(app) -> dict[str, int]:
    """The statements the (one) pooled connection has prepared, with how often each ran."""
    return {name: sum(plans) for name, plans in prepared_plans(app).items()}


def prepared_names(app) -> set[str]:
    return set(prepared_runs(app))


def test_the_token_check_is_prepared_once_per_connection_and_then_only_executed(
    make_app, member_headers
) -> None:
    from app.models.user import TOKEN_SUBJECT

    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "pool_pre_ping": False})
    client = app.test_client()
    assert TOKEN_SUBJECT.name not in prepared_names(app)

    for _ in range(3):
        response = client.get("/users/me", headers=member_headers)
        assert response.status_code == 200
        assert response.get_json()["username"] == "member"

    # One statement, run three times: prepared once, not again per request.
    assert prepared_runs(app)[TOKEN_SUBJECT.name] == 3
    with app.app_context():
        connection = db.engine.raw_connection()
        assert TOKEN_SUBJECT.name in connection.info["prepared_reads"]
        connection.close()


def test_list_pages_run_on_one_generic_plan(make_app, member_headers) -> None:
    """PostgreSQL would plan a page for each run's LIMIT and OFFSET (a parameterized LIMIT makes
    the generic plan look costlier than it is): each run would pay for planning again."""
    from app.api.users import unfiltered_page_query

    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "pool_pre_ping": False})
    client = app.test_client()

    for page in range(1, 9):
        response = client.get(f"/users?per_page=1&page={page}", headers=member_headers)
        assert response.status_code == 200
        assert response.get_json()["_meta"]["page"] == page

    page_statement = unfiltered_page_query("public", "created_at").page
    assert prepared_plans(app)[page_statement.name] == (8, 0)


def test_a_prepared_read_survives_deallocate(make_app, member_headers) -> None:
    from app.models.user import TOKEN_SUBJECT

    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "pool_pre_ping": False})
    client = app.test_client()
    assert client.get("/users/me", headers=member_headers).status_code == 200
    with app.app_context():
        connection = db.engine.raw_connection()
        with connection.dbapi_connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")
        connection.dbapi_connection.commit()
        connection.close()
    assert TOKEN_SUBJECT.name not in prepared_names(app)

    response = client.get("/users/me", headers=member_headers)

    assert response.status_code == 200
    assert response.get_json()["username"] == "member"
    assert TOKEN_SUBJECT.name in prepared_names(app)


def test_a_prepared_read_takes_parameters_and_keeps_its_written_values(app) -> None:
    double = PreparedRead(
        select(
            (bindparam("number", type_=db.Integer) * 2).label("doubled"),
            literal("fixed").label("word"),
        )
    )
    with app.test_request_context():
        rows = read_rows(double, {"number": 21})
        assert rows == [(42, "fixed")]
        assert rows[0].doubled == 42
        assert rows[0].word == "fixed"


def test_a_failing_prepared_read_raises_sqlalchemys_error_and_frees_the_connection(app) -> None:
    divide = PreparedRead(select((literal(1) / bindparam("by", type_=db.Integer)).label("x")))
    with app.app_context():
        pool = db.engine.pool
    with app.test_request_context():
        with pytest.raises(DataError) as raised:
            read_rows(divide, {"by": 0})
        assert "division by zero" in str(raised.value.orig)
        assert read_rows(divide, {"by": 1})[0].x == 1
        assert pool.checkedout() == 1
    assert pool.checkedout() == 0


def test_a_requests_prepared_reads_share_one_checkout(app, member_headers) -> None:
    """A list's token check and page share one pooled connection, returned with the request
    (also when the request fails)."""
    with app.app_context():
        engine = db.engine
    checkouts = []
    event.listen(engine, "checkout", lambda *args: checkouts.append(args[0]))
    client = app.test_client()
    response = client.get("/users?per_page=5", headers=member_headers)
    assert response.status_code == 200
    assert response.get_json()["_meta"]["total_items"] == 1
    assert len(checkouts) == 1
    assert engine.pool.checkedout() == 0
    response = client.get("/users?per_page=5&page=0", headers=member_headers)
    assert response.status_code == 400
    assert "page" in response.get_json()["details"]
    assert len(checkouts) == 2
    assert engine.pool.checkedout() == 0


def test_a_lost_shared_connection_is_replaced_within_the_request(app) -> None:
    """A prepared read that loses its connection invalidates it; the request's next read
    checks out another."""
    one = PreparedRead(select(literal(1, db.Integer).label("x")))
    with app.test_request_context():
        read_rows(one)
        first = db.engine.pool.checkedout()
        (pid,) = read_rows(PreparedRead(select(func.pg_backend_pid().label("pid"))))[0]
        with app.app_context(), db.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError):
            read_rows(one)
        assert read_rows(one)[0].x == 1
        assert first == 1
        assert db.engine.pool.checkedout() == 1


def alter_username_length(app, length: int) -> None:
    with app.app_context():
        db.session.execute(text(f"ALTER TABLE users ALTER COLUMN username TYPE varchar({length})"))
        db.session.commit()


def test_a_prepared_read_survives_a_migration_that_changes_its_columns(
    make_app, member_headers
) -> None:
    """PostgreSQL refuses a prepared plan whose result columns changed type; the read prepares
    itself again (running instances keep working through a release's migration)."""
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "pool_pre_ping": False})
    client = app.test_client()
    assert client.get("/users/me", headers=member_headers).status_code == 200
    alter_username_length(app, 80)
    try:
        response = client.get("/users/me", headers=member_headers)
    finally:
        alter_username_length(app, 64)

    assert response.status_code == 200
    assert response.get_json()["username"] == "member"


def test_a_request_that_reads_then_writes_needs_one_connection(make_app, member, auth) -> None:
    """The prepared reads hand their connection back when the session begins: a pool of one
    connection serves a request that checks its token, then writes."""
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 1})
    client = app.test_client()
    headers = auth(member)
    response = client.patch("/users/me", json={"email": "new@example.com"}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["email"] == "new@example.com"
    response = client.get("/users?per_page=5", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["_meta"]["total_items"] == 1
