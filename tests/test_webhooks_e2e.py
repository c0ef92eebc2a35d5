"""Webhooks against real processes: the worker (``flask mail-worker``, as the Procfile runs it)
reading the audit trail the test's requests write, and a receiver on this machine verifying
every delivery with the Standard Webhooks reference library. The worker runs in the development
configuration, which may name WEBHOOK_ALLOWED_ORIGINS (production refuses it: the last test)."""

import subprocess
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditEvent
from tests.support.processes import FLASK, ROOT, flask, production_env, wait_until
from tests.support.webhooks import Receiver, receiving

pytestmark = pytest.mark.e2e


@pytest.fixture
def start_worker(app, migrated_database, tmp_path):
    """``with start_worker(*receivers):`` the worker runs for the block, allowed to reach the
    receivers; its queue starts empty."""
    with app.app_context():
        db.session.execute(text("TRUNCATE procrastinate_jobs CASCADE"))
        db.session.execute(text("DELETE FROM procrastinate_periodic_defers"))
        db.session.commit()

    @contextmanager
    def run(*receivers: Receiver):
        env = production_env(
            migrated_database,
            APP_CONFIG="development",
            SECRET_KEY=app.config["SECRET_KEY"],
            MAIL_BACKEND="locmem",
            WEBHOOK_ALLOWED_ORIGINS=",".join(receiver.origin for receiver in receivers),
        )
        log_path = tmp_path / "worker.log"
        with log_path.open("a") as log:
            worker = subprocess.Popen(
                [*FLASK, "mail-worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            yield worker
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    return run


@pytest.fixture
def headers(admin, auth):
    return auth(admin)


def endpoint_for(client, headers, receiver: Receiver, events=("user.*",)) -> dict:
    response = client.post(
        "/webhooks", json={"url": receiver.url, "events": list(events)}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    receiver.secrets.append(response.get_json()["secret"])
    return response.get_json()


def deliveries(client, headers, endpoint: dict) -> list[dict]:
    response = client.get(f"/webhooks/{endpoint['id']}/deliveries?per_page=100", headers=headers)
    assert response.status_code == 200
    return response.get_json()["items"]


def test_events_made_while_the_worker_is_down_are_all_delivered_once(
    app, client, headers, member, start_worker
) -> None:
    with receiving() as receiver:
        app.config["WEBHOOK_ALLOWED_ORIGINS"] = [receiver.origin]
        endpoint = endpoint_for(client, headers, receiver)
        for number in range(50):
            response = client.patch(
                f"/users/{member.id}", json={"is_active": number % 2 == 1}, headers=headers
            )
            assert response.status_code == 200
        with app.app_context():
            made = db.session.scalars(
                select(AuditEvent.id)
                .where(AuditEvent.action.in_(("user.activated", "user.deactivated")))
                .order_by(AuditEvent.id)
            ).all()

        with start_worker(receiver):
            got = receiver.wait_for(50, seconds=60)
            wait_until(
                lambda: (
                    len(deliveries(client, headers, endpoint)) == 50
                    and all(
                        d["state"] == "succeeded" for d in deliveries(client, headers, endpoint)
                    )
                ),
                seconds=20,
                what="50 deliveries recorded as succeeded",
            )
        time.sleep(1)  # nothing more comes once they are recorded

        assert len(made) == 50
        assert len(receiver.received()) == 50
        assert sorted(d.webhook_id for d in got) == sorted(f"evt_{n}" for n in made)
        assert all(d.event["id"] == d.webhook_id for d in got)
        assert all(d.verified_by == [endpoint["secret"]] for d in got)
        assert {d.event["type"] for d in got} == {"user.updated"}


def test_an_answer_500_is_retried_within_ten_seconds_and_delivered(
    app, client, headers, member, start_worker
) -> None:
    with receiving() as receiver, start_worker(receiver):
        app.config["WEBHOOK_ALLOWED_ORIGINS"] = [receiver.origin]
        endpoint = endpoint_for(client, headers, receiver)
        receiver.answers = [500]
        client.patch(f"/users/{member.id}", json={"is_active": False}, headers=headers)

        failed, delivered = receiver.wait_for(2, seconds=30)
        wait_until(
            lambda: (
                [d["state"] for d in deliveries(client, headers, endpoint)]
                == ["succeeded", "failed"]
            ),
            seconds=10,
            what="the retry recorded",
        )

    retry, attempt = deliveries(client, headers, endpoint)
    assert failed.webhook_id == delivered.webhook_id
    assert delivered.verified_by == [endpoint["secret"]]
    assert (attempt["attempt"], attempt["status_code"], attempt["error"]) == (1, 500, "HTTP 500")
    assert attempt["next_retry_at"] is not None
    assert (retry["attempt"], retry["status_code"], retry["state"]) == (2, 204, "succeeded")
    assert 4.5 <= delivered.at - failed.at < 10


def test_a_hanging_endpoint_times_out_and_the_others_are_still_served(
    app, client, headers, member, start_worker
) -> None:
    with receiving() as hanging, receiving() as healthy, start_worker(hanging, healthy):
        app.config["WEBHOOK_ALLOWED_ORIGINS"] = [hanging.origin, healthy.origin]
        hanging.hang = True
        stuck = endpoint_for(client, headers, hanging)
        endpoint_for(client, headers, healthy)

        client.patch(f"/users/{member.id}", json={"is_active": False}, headers=headers)
        hanging.wait_for(1, seconds=15)
        started = time.monotonic()
        client.patch(f"/users/{member.id}", json={"is_active": True}, headers=headers)
        healthy.wait_for(2, seconds=8)
        served_while_hanging = time.monotonic() - started
        wait_until(
            lambda: any(d["state"] == "failed" for d in deliveries(client, headers, stuck)),
            seconds=15,
            what="the hanging attempt to time out",
        )

    failed = [d for d in deliveries(client, headers, stuck) if d["state"] == "failed"]
    timed_out = min(failed, key=lambda d: d["id"])
    assert served_while_hanging < 8
    assert timed_out["error"] == "No complete answer within 10 s."
    assert timed_out["status_code"] is None
    assert 9500 <= timed_out["duration_ms"] < 12000
    assert timed_out["next_retry_at"] is not None


def test_production_refuses_to_start_with_webhook_allowed_origins(migrated_database) -> None:
    result = flask(
        "mail-worker",
        "--until-empty",
        env=production_env(migrated_database, WEBHOOK_ALLOWED_ORIGINS="http://127.0.0.1:9"),
    )

    assert result.returncode != 0
    assert "WEBHOOK_ALLOWED_ORIGINS is set" in result.stderr
