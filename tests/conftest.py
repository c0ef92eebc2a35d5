"""Fixtures: a real PostgreSQL for the whole session, a fresh app and empty tables per test, and
the one way to run the app as a real server (``serve``).

Markers (registered in pyproject.toml): ``e2e`` for tests that start real server processes,
``slow`` for the others that take long; ``invoke test --fast`` leaves both out."""

import copy
import os
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from passlib.hash import pbkdf2_sha512
from sqlalchemy import text, update

from app import create_app
from app.access.sessions import start_session
from app.cli import init_db
from app.database import recorded_statements
from app.embedded_db import start_embedded_postgres
from app.extensions import db, guard, limiter
from app.models import User, UserSession
from app.models.columns import utcnow
from app.tokens import access, emailed, keys
from tests.support.database import database_of_this_process
from tests.support.processes import ROOT, Server, production_env

EMAILED_KINDS = {"reset": emailed.RESET, "registration": emailed.REGISTRATION}

DEFAULT_PASSWORD = "correct-horse-battery"
# Rows the migrations write (the permission catalog, the built-in roles): each test starts with
# them as migrated, under a new authorization version (so no process keeps what an earlier
# test's roles granted).
MIGRATED_TABLES = ("permissions", "roles", "role_permissions", "authorization_version")
MIGRATED_ROWS: dict[str, list[dict]] = {}
_hash_cache: dict[str, str] = {}


@dataclass
class Account:
    """A user created for a test, with the plain password the test may log in with."""

    id: int
    username: str
    email: str
    password: str
    roles: list[str] = field(default_factory=list)


def pytest_collection_modifyitems(items) -> None:
    """A test that starts a server (through ``serve``) must be marked ``e2e``: ``--fast`` relies
    on the marker to leave every server out."""
    unmarked = [
        item.nodeid
        for item in items
        if "serve" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("e2e")
    ]
    if unmarked:
        raise pytest.UsageError("start servers but are not marked e2e: " + ", ".join(unmarked))


_skipped: list[str] = []


def pytest_runtest_logreport(report) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus) -> None:
    """A skipped test fails the run: the suite installs what it needs or fails (``invoke test``
    installs the tools; a test that lacks one fails naming the command that installs it), it
    never passes by leaving tests out."""
    if _skipped and exitstatus == 0:
        session.exitstatus = 1
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_sep("!", f"{len(_skipped)} skipped, which fails the run")
        reporter.write_line(", ".join(_skipped))


@pytest.fixture(scope="session")
def database_template():
    """The migrated database ``invoke mutate`` builds once, with the code as it is, on the server
    TEST_DATABASE_SERVER_URL names (TEST_DATABASE_TEMPLATE): each run of the tests for a mutant
    starts from a copy of it instead of migrating again. None otherwise."""
    if os.environ.get("TEST_DATABASE_URL") or not os.environ.get("TEST_DATABASE_SERVER_URL"):
        return None
    return os.environ.get("TEST_DATABASE_TEMPLATE") or None


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, database_template):
    """TEST_DATABASE_URL when given (its tables are dropped!); else a database of this run's own
    on the server TEST_DATABASE_SERVER_URL names (``invoke mutate`` runs the tests once per
    mutant, two at a time: a server of their own would take longer than most of those runs),
    copied from ``database_template`` when there is one; else a throwaway embedded server.

    The URL goes into the environment for the apps the tests build, and out again after the
    session: mutmut runs pytest several times in one process, and a later run must not find
    the URL of a database that is gone."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    server_url = os.environ.get("TEST_DATABASE_SERVER_URL")
    with ExitStack() as stack:
        if server_url:
            url = stack.enter_context(database_of_this_process(server_url, database_template))
        else:
            server = start_embedded_postgres(
                tmp_path_factory.mktemp("postgres") / "data", delete_on_exit=True
            )
            stack.callback(server.cleanup)
            url = server.url()
        os.environ["TEST_DATABASE_URL"] = url
        stack.callback(os.environ.pop, "TEST_DATABASE_URL", None)
        yield url


@pytest.fixture(scope="session")
def migrated_database(database_url, database_template):
    """The schema built by the project's migrations, from nothing (or copied from a template
    they built: ``database_template``)."""
    app = create_app("testing")
    with app.app_context():
        if database_template is None:
            init_db(drop=True)
        MIGRATED_ROWS.update(
            {
                table: [
                    dict(row._mapping)
                    for row in db.session.execute(db.metadata.tables[table].select())
                ]
                for table in MIGRATED_TABLES
            }
        )
        db.engine.dispose()
    return database_url


@dataclass(frozen=True)
class Emptying:
    """How the tables are emptied before each test: the tables that hold rows are found in one
    statement and their rows deleted (children first), then every sequence starts again. On
    tables this small that is several times quicker than a TRUNCATE of them all, which makes
    new files for each table. (row_counts keeps its rows: the counted tables' row triggers
    keep it right through the deletions.)"""

    probe: str
    tables: tuple[str, ...]
    restart: str

    def run(self) -> None:
        holding = set(db.session.execute(text(self.probe)).scalars())
        # Table and sequence names come from the models' metadata, never from input.
        deletions = "".join(
            f"DELETE FROM {table};"  # noqa: S608 (names of our tables)
            for table in self.tables
            if table in holding
        )
        counts = "UPDATE row_counts SET row_count = 0 WHERE row_count <> 0;"
        db.session.execute(text(deletions + counts + self.restart))
        db.session.commit()


@pytest.fixture(scope="session")
def emptying(migrated_database) -> Emptying:
    app = create_app("testing")
    with app.app_context():
        tables = tuple(
            table.name
            for table in reversed(db.metadata.sorted_tables)
            if table.name != "row_counts"
        )
        sequences = db.session.scalars(
            text(
                "SELECT pg_get_serial_sequence(table_name, column_name)"
                " FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = ANY(:tables)"
                " AND pg_get_serial_sequence(table_name, column_name) IS NOT NULL"
            ),
            {"tables": list(tables)},
        ).all()
        db.engine.dispose()
    probe = " UNION ALL ".join(
        f"SELECT '{table}' WHERE EXISTS (SELECT FROM {table})"  # noqa: S608 (names of our tables)
        for table in tables
    )
    restart = "".join(f"ALTER SEQUENCE {sequence} RESTART;" for sequence in sequences)
    return Emptying(probe, tables, restart)


@pytest.fixture(scope="session")
def shared_app(emptying):
    """One testing app for the session (building one takes longer than most tests: the OpenAPI
    document is made from every route), and its settings as built."""
    app = create_app("testing")
    return app, copy.deepcopy(dict(app.config))


@pytest.fixture
def app(shared_app, emptying):
    """The testing app over empty tables, with its settings as built and a new key ring; a
    test may change ``app.config``, which is put back after it. (A test that adds routes, or
    needs settings read when the extensions start, builds its own with ``make_app``.)"""
    app, settings = shared_app
    # The rate limiter is one object for every app: an app built by make_app may have left it
    # enabled (init_app again only reads this app's settings; its hooks are in place).
    limiter.init_app(app)
    with app.app_context():
        emptying.run()
        restore_migrated_rows()
        db.session.commit()
        keys.init_app(app)
        # The first signing key is made (and read) now, not inside the test's first login.
        keys.current_ring()
    yield app
    app.config.clear()
    app.config.update(copy.deepcopy(settings))
    mail = app.extensions["mailman"]
    if hasattr(mail, "outbox"):
        del mail.outbox
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def restore_migrated_rows() -> None:
    for table in MIGRATED_TABLES:
        rows = MIGRATED_ROWS[table]
        if table == "authorization_version":
            rows = [{**row, "version": time.time_ns()} for row in rows]
        if rows:
            db.session.execute(db.metadata.tables[table].insert(), rows)
    db.session.execute(text("SELECT setval(pg_get_serial_sequence('roles', 'id'), 100)"))


@pytest.fixture
def make_app(app):
    """Another testing app on the same (emptied) database, with settings that only take effect
    when the extensions are initialized (rate limits, say)."""
    made = []

    def build(**overrides):
        made.append(create_app("testing", overrides))
        return made[-1]

    yield build
    for other in made:
        with other.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def serve(migrated_database, tmp_path_factory):
    """``serve(**settings)`` -> a ``Server``: gunicorn serving the app as in production, on the
    test database (or ``database_url``) with ``settings`` added to its environment (or the whole
    ``env`` given), on a free port (or ``port``), of this project (or the copy in ``cwd``); with
    ``command`` instead of gunicorn if given,
    up once ``GET ready[0]`` answers ``ready[1]``. Every server a module started stops when its
    tests end (``Server.stop`` stops one sooner). Only tests marked ``e2e`` may use it (see
    ``pytest_collection_modifyitems``)."""
    started: list[Server] = []

    def start(
        database_url=None,
        *,
        env=None,
        port=None,
        command=None,
        cwd=ROOT,
        ready=("/health", 200),
        **settings,
    ) -> Server:
        env = env or production_env(database_url or migrated_database, **settings)
        log_path = tmp_path_factory.mktemp("server") / "web.log"
        started.append(Server(env, log_path, port=port, command=command, cwd=cwd))
        started[-1].wait_until_up(path=ready[0], status=ready[1])
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def password_hash(password: str) -> str:
    """argon2id hashes are slow by design: hash each test password once per session."""
    if password not in _hash_cache:
        _hash_cache[password] = guard.hash_password(password)
    return _hash_cache[password]


@pytest.fixture
def make_user(app):
    """Create a user in the database; returns an ``Account``."""
    counter = iter(range(1, 10_000))

    def make(username=None, roles=("user",), password=DEFAULT_PASSWORD, **columns) -> Account:
        username = username or f"member{next(counter)}"
        email = columns.pop("email", f"{username.lower()}@example.com")
        with app.app_context():
            user = User(
                username=username,
                email=email,
                password=password_hash(password),
                roles=",".join(roles),
                **columns,
            )
            db.session.add(user)
            db.session.commit()
            return Account(user.user_id, username, email, password, list(roles))

    return make


@pytest.fixture
def veteran(app, make_user) -> tuple[Account, str]:
    """An account whose hash was made by flask-praetorian's default scheme, pbkdf2_sha512: the
    account and that legacy hash."""
    account = make_user("veteran")
    legacy_hash = pbkdf2_sha512.hash(account.password)
    with app.app_context():
        db.session.get(User, account.id).password = legacy_hash
        db.session.commit()
    return account, legacy_hash


@pytest.fixture
def token_for(app):
    """A real access token for an account, of a session started for it as /login starts one
    (``lifespan`` in seconds); with ``kind`` ("reset" or "registration"), the e-mailed token of
    that kind instead."""

    def issue(account: Account, lifespan: int = 900, kind: str | None = None) -> str:
        with app.test_request_context(method="POST"):
            user = db.session.get(User, account.id)
            if kind is not None:
                return emailed.mint(user, EMAILED_KINDS[kind])
            session, _ = start_session(user, "password")
            db.session.commit()
            return access.mint(user, session, lifespan)

    return issue


@pytest.fixture
def auth(token_for):
    """``auth(account)`` -> the Authorization header of a fresh token for that account."""

    def headers(account: Account) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(account)}"}

    return headers


@pytest.fixture
def admin(make_user):
    return make_user("admin", roles=("admin",))


@pytest.fixture
def operator(make_user):
    return make_user("operator", roles=("operator",))


@pytest.fixture
def member(make_user):
    return make_user("member", roles=("user",))


@pytest.fixture
def age_sessions(app):
    """``age_sessions(seconds)``: move every session's last password check ``seconds`` into the
    past (the clock moved in the database, not mocked)."""

    def age(seconds: int) -> None:
        with app.app_context():
            db.session.execute(
                update(UserSession).values(authenticated_at=utcnow() - timedelta(seconds=seconds))
            )
            db.session.commit()

    return age


@pytest.fixture
def counted_statements(app):
    """``with counted_statements() as statements:`` lists the SQL the block sends (prepared
    reads included)."""

    @contextmanager
    def count():
        with app.app_context():
            engine = db.engine
        with recorded_statements(engine) as statements:
            yield statements

    return count
