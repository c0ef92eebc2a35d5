"""Several instances on one database, through PgBouncer in transaction pooling mode (Debian's
1.18), with one Redis for the per-address limits, all real servers started here: what one
instance revokes the other refuses at once, lockouts and limits count requests to both, a mixed
load on both loses nothing, and the mail worker delivers through the pooler."""

import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.processes import PgBouncer, Redis, call, flask, production_env
from tests.support.signin import login_over_http

PASSWORD = "scale-out-passphrase"

pytestmark = pytest.mark.e2e
addresses = (f"198.51.100.{number}" for number in itertools.count(10))


@pytest.fixture(scope="module")
def services(migrated_database, tmp_path_factory):
    """PgBouncer and Redis, and the environment both instances share."""
    scratch = tmp_path_factory.mktemp("scale-out")
    pooler = PgBouncer(migrated_database)
    redis = Redis(scratch / "redis")
    env = production_env(
        pooler.url,
        WEB_CONCURRENCY="2",
        RATELIMIT_ENABLED="true",
        RATELIMIT_STORAGE_URI=redis.url,
        # Each test speaks from its own address (X-Forwarded-For, as Heroku's router sets it).
        TRUSTED_PROXY_HOPS="1",
        MAIL_BACKEND="file",
        MAIL_FILE_PATH=str(scratch / "mail"),
    )
    yield env
    redis.stop()
    pooler.stop()


@pytest.fixture(scope="module")
def instances(services, serve):
    return [serve(env=services).base_url, serve(env=services).base_url]


def from_address(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def login(base: str, username: str, address: str, password: str = PASSWORD):
    return login_over_http(base, username, password, headers=from_address(address))


def test_migrations_and_seeding_run_through_the_pooler(services) -> None:
    migrated = flask("init-db", env=services)
    seeded = flask("seed-db", env=services)

    assert migrated.returncode == 0, migrated.stderr
    assert "Database migrated." in migrated.stdout
    assert seeded.returncode == 0, seeded.stderr
    assert "admin:" in seeded.stdout


def test_what_one_instance_revokes_the_other_refuses_at_once(instances, make_user) -> None:
    first, second = instances
    roamer = make_user("roamer", password=PASSWORD)
    make_user("chief", roles=("admin",), password=PASSWORD)
    address = next(addresses)
    _, _, logged_out = login(first, "roamer", address)
    _, _, demoted = login(first, "roamer", address)
    _, _, chief = login(second, "chief", address)

    status, _, body = call(first, "POST", "/logout", token=logged_out["access_token"])
    after_logout = call(second, "GET", "/users/me", token=logged_out["access_token"])
    before_role_change = call(second, "GET", "/users/me", token=demoted["access_token"])
    assert before_role_change[0] == 200
    assert before_role_change[2]["roles"] == ["user"]
    changed = call(
        second,
        "PATCH",
        f"/users/{roamer.id}",
        {"roles": ["operator"]},
        token=chief["access_token"],
    )
    after_role_change = call(first, "GET", "/users/me", token=demoted["access_token"])

    assert status == 204
    assert body is None
    assert (after_logout[0], after_logout[2]["error"]) == (401, "token_revoked")
    assert changed[0] == 200
    assert changed[2]["roles"] == ["operator"]
    assert (after_role_change[0], after_role_change[2]["error"]) == (401, "token_revoked")


def test_a_lockout_counts_failures_on_both_instances(instances, make_user) -> None:
    first, second = instances
    make_user("target", password=PASSWORD)
    address = next(addresses)

    failures = [
        login(base, "target", address, "wrong-password-x")
        for base in (first, second, first, second, first)
    ]
    locked = [login(base, "target", address) for base in (first, second)]
    elsewhere = login(second, "target", next(addresses))

    assert [(status, body["error"]) for status, _, body in failures] == [
        (401, "invalid_credentials")
    ] * 5
    assert [(status, body["error"]) for status, _, body in locked] == [(429, "rate_limited")] * 2
    assert elsewhere[0] == 200
    assert elsewhere[2]["token_type"] == "Bearer"


def test_a_per_address_limit_holds_across_both_instances(instances) -> None:
    first, second = instances
    address = next(addresses)

    answers = [
        call(
            base,
            "POST",
            "/password/forgot",
            {"email": "nobody@example.com"},
            headers=from_address(address),
        )
        for base in (first, second, first, second, first, second)
    ]

    assert [status for status, _, _ in answers] == [202] * 5 + [429]
    assert len({str(body) for _, _, body in answers[:5]}) == 1
    _, headers, body = answers[-1]
    assert body["error"] == "rate_limited"
    assert int(headers["Retry-After"]) > 0


def test_a_mixed_load_on_both_instances_has_no_error_and_loses_no_write(
    instances, make_user
) -> None:
    make_user("worker1", password=PASSWORD)
    address = next(addresses)
    _, _, tokens = login(instances[0], "worker1", address)
    token = tokens["access_token"]
    status, _, bucketlist = call(
        instances[1], "POST", "/bucketlists", {"name": "Load"}, token=token
    )
    assert status == 201
    items = f"/bucketlists/{bucketlist['id']}/items"

    def work(number: int) -> int:
        base = instances[number % 2]
        if number % 3:
            return call(base, "POST", items, {"title": f"item {number}"}, token=token)[0]
        return call(base, "GET", items + "?per_page=100", token=token)[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(work, range(120)))
    _, _, page = call(instances[0], "GET", items + "?per_page=100", token=token)

    writes = sum(1 for number in range(120) if number % 3)
    assert sorted(set(statuses)) == [200, 201]
    assert statuses.count(201) == writes
    assert page["_meta"]["total_items"] == writes


def test_the_worker_delivers_mail_through_the_pooler(services, instances, make_user) -> None:
    account = make_user("mailee", password=PASSWORD)
    outbox = Path(services["MAIL_FILE_PATH"])

    status, _, body = call(
        instances[0],
        "POST",
        "/password/forgot",
        {"email": account.email},
        headers=from_address(next(addresses)),
    )
    worked = flask("mail-worker", "--until-empty", env=services)

    assert status == 202
    assert body["message"]
    assert worked.returncode == 0, worked.stderr
    sent = [path.read_text() for path in outbox.iterdir()]
    assert any(f"To: {account.email}" in message for message in sent)
