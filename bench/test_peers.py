"""The peers benchmark's own arithmetic and choices (bench/peers/): which rows run, the order of
a round, the ratios within rounds and their medians, the login limit, what a tampered token
and a stored hash's prefix are, and how each server is started. No server runs here."""

import pytest

from bench.peers import clients
from bench.peers.catalog import BASELINES, ROWS, SERVERS, Row, select_rows
from bench.peers.checks import CONFIGURED_PREFIX, hash_prefix, hash_problems
from bench.peers.run import flagged, lua_login, peer_command, rotated, summarize


def test_the_baselines_run_whatever_is_asked() -> None:
    rows = select_rows(["drf"])

    assert {row.key for row in rows} == {*BASELINES, "drf-hs256", "drf-eddsa", "drf-login"}
    assert select_rows([]) == ROWS


def test_a_row_can_be_named_on_its_own() -> None:
    keys = [row.key for row in select_rows(["fastapi-users-database-uvicorn"])]

    assert keys == ["one-trip", "gatehouse-access", "fastapi-users-database-uvicorn"]


def test_an_unknown_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown peer or row djang: peers are one-trip"):
        select_rows(["djang"])


def test_every_row_is_served_by_a_known_server() -> None:
    assert {row.server for row in ROWS} <= set(SERVERS)
    assert len({row.key for row in ROWS}) == len(ROWS)


def test_the_order_rotates_by_one_each_round() -> None:
    rows = ["a", "b", "c"]

    assert [rotated(rows, index) for index in range(4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]


def run(rps: float, **extra) -> dict:
    return {"rps": rps, "p50": 1.0, "p99": 2.0, "errors": 0, "socket_errors": ""} | extra


def test_ratios_are_taken_within_each_round_and_their_median_shown() -> None:
    """Round 2 is slow for everybody: its ratios stand, its rates do not drag them."""
    rows = [row for row in ROWS if row.key in ("one-trip", "gatehouse-access", "drf-hs256")]
    rates = [
        {"one-trip": 2000, "gatehouse-access": 1000, "drf-hs256": 800},
        {"one-trip": 1000, "gatehouse-access": 500, "drf-hs256": 500},
        {"one-trip": 2200, "gatehouse-access": 1100, "drf-hs256": 1000},
    ]
    rounds = [{"runs": {key: run(rate) for key, rate in each.items()}} for each in rates]

    summary = summarize(rows, rounds)

    drf = summary["drf-hs256"]
    assert drf["x_one_trip"] == pytest.approx([0.4, 0.5, 1000 / 2200])
    assert drf["median_x_one_trip"] == pytest.approx(1000 / 2200)
    assert drf["gatehouse_over_row"] == pytest.approx([1.25, 1.0, 1.1])
    assert drf["median_gatehouse_over_row"] == pytest.approx(1.1)
    assert drf["median_rps"] == 800
    assert summary["one-trip"]["median_gatehouse_over_row"] == pytest.approx(0.5)


def test_a_login_rows_limit_uses_the_verifications_around_its_own_run(monkeypatch) -> None:
    """2 workers on 2 cores over (18 + 22) / 2 ms = 100 logins/s; 70 of them is 0.70."""
    monkeypatch.setattr("bench.peers.run.cores", lambda: 2)
    login = next(row for row in ROWS if row.key == "drf-login")
    rounds = [{"runs": {"drf-login": run(70, verify_before=0.018, verify_after=0.022)}}]

    entry = summarize([login], rounds)["drf-login"]

    assert entry["limit"] == pytest.approx([100.0])
    assert entry["median_share"] == pytest.approx(0.70)


def test_non_2xx_answers_are_counted_over_rounds() -> None:
    row = next(row for row in ROWS if row.key == "flask-security-login")
    rounds = [{"runs": {row.key: run(50, errors=3)}}, {"runs": {row.key: run(50, errors=1)}}]

    assert summarize([row], rounds)[row.key]["non_2xx"] == 4


@pytest.mark.parametrize(
    "token",
    [
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "gh_pat_0123456789abcdef",
        "AAAA.BBBB",
    ],
)
def test_a_tampered_token_differs_in_one_character_and_keeps_its_dots(token) -> None:
    forged = clients.tampered(token)

    assert len(forged) == len(token)
    assert sum(a != b for a, b in zip(forged, token, strict=True)) == 1
    assert forged.count(".") == token.count(".")


@pytest.mark.parametrize(
    ("stored", "prefix"),
    [
        ("$argon2id$v=19$m=7168,t=5,p=1$c2FsdA$aGFzaA", CONFIGURED_PREFIX),
        ("argon2$argon2id$v=19$m=7168,t=5,p=1$c2FsdA$aGFzaA", "argon2" + CONFIGURED_PREFIX),
        ("$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "$argon2id$v=19$m=65536,t=3,p=4"),
        ("pbkdf2_sha256$1000000$salt$hash", "pbkdf2_sha256$1000000"),
    ],
)
def test_a_stored_hash_is_shown_up_to_its_parameters(stored, prefix) -> None:
    assert hash_prefix(stored) == prefix


def test_every_peer_must_store_gatehouses_setting_unless_defaults_were_asked_for() -> None:
    prefixes = {"drf": "argon2" + CONFIGURED_PREFIX, "fastapi-users": "$argon2id$v=19$m=65536"}

    assert hash_problems(prefixes, configured=True) == [
        f"fastapi-users stored '$argon2id$v=19$m=65536', not {CONFIGURED_PREFIX!r}"
    ]
    assert hash_problems(prefixes, configured=False) == []


def test_each_peer_is_served_as_its_docs_deploy_it(tmp_path) -> None:
    python = tmp_path / "python"

    uvicorn = peer_command(SERVERS["fastapi-users-jwt-hs256-uvicorn"], python, 8000)
    gunicorn = peer_command(SERVERS["fastapi-users-jwt-hs256-gunicorn-uvicorn"], python, 8000)
    threads = peer_command(SERVERS["drf-hs256"], python, 8000)

    assert uvicorn[1:4] == ["-m", "uvicorn", "fastapi_users_peer:app"]
    assert uvicorn[uvicorn.index("--workers") + 1] == "2"
    assert "--no-access-log" in uvicorn
    assert gunicorn[gunicorn.index("--worker-class") + 1] == "uvicorn_worker.UvicornWorker"
    assert threads[threads.index("--config") + 1].endswith("gunicorn.conf.py")
    assert "--worker-class" not in threads
    assert threads[-1] == "drf_peer.wsgi:application"


def test_a_login_script_sends_the_body_as_it_is(tmp_path) -> None:
    row = next(row for row in ROWS if row.key == "fastapi-users-login")

    script = lua_login(row, tmp_path).read_text()

    assert 'wrk.method = "POST"' in script
    assert 'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"' in script
    assert "wrk.body = [==[username=bench1%40example.com&password=bench-password-1]==]" in script


def test_rows_know_their_paths() -> None:
    paths = {row.key: row.path for row in ROWS}

    assert paths["one-trip"] == "/"
    assert paths["gatehouse-access"] == "/users/me"
    assert paths["flask-security-login"] == "/login?include_auth_token"
    assert paths["drf-login"] == "/api/token/"
    assert isinstance(ROWS[0], Row)


def test_a_run_without_answers_is_flagged_like_errors() -> None:
    """A login whose hash outlasts the run (a library's default, 8 at once) answers nothing."""
    row = next(row for row in ROWS if row.key == "drf-login")

    entry = summarize([row], [{"runs": {row.key: run(0)}}])[row.key]

    assert entry["runs_without_answers"] == 1
    assert flagged(entry)
    assert not flagged(summarize([row], [{"runs": {row.key: run(3)}}])[row.key])
