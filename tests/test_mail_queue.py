"""E-mail leaves the request path: requests queue it in their own transaction (procrastinate on
the same PostgreSQL), and the worker process sends it, retrying a failed send and logging the
message it gives up on without its content."""

import json
import subprocess

import pytest
from sqlalchemy import text

from app.extensions import db
from app.mail import SEAL_PURPOSE
from app.models import User
from app.notices import send_security_notice
from app.sealing import unseal_json
from tests.support.processes import flask, free_port, production_env


@pytest.fixture
def queued(make_app, tmp_path):
    """A testing app whose e-mail is queued; the queue starts empty."""
    app = make_app(MAIL_QUEUE=True)
    with app.app_context():
        db.session.execute(text("TRUNCATE procrastinate_jobs CASCADE"))
        db.session.commit()
    return app


def queued_jobs(app) -> list[dict]:
    """The mail queue's jobs: task, status, arguments as stored, and a message's content."""
    with app.app_context():
        rows = db.session.execute(
            text(
                "SELECT task_name, status, args FROM procrastinate_jobs "
                "WHERE queue_name = 'mail' ORDER BY id"
            )
        ).all()
        return [
            {
                "task": task,
                "status": status,
                "stored": json.dumps(args),
                **(unseal_json(args["message"], SEAL_PURPOSE) if "message" in args else {}),
            }
            for task, status, args in rows
        ]


def run_worker(app, database_url: str, **env: str) -> subprocess.CompletedProcess:
    """The worker, as the Procfile runs it, until the queue is empty (it shares the web's
    SECRET_KEY, which seals the queued messages)."""
    return flask(
        "mail-worker",
        "--until-empty",
        env=production_env(database_url, SECRET_KEY=app.config["SECRET_KEY"], **env),
    )


def test_a_request_queues_its_mail_instead_of_sending_it(queued, member, auth) -> None:
    response = queued.test_client().put(
        "/users/me/password",
        json={"current_password": member.password, "new_password": "amber-quarry-signal"},
        headers=auth(member),
    )

    assert response.status_code == 200
    assert getattr(queued.extensions["mailman"], "outbox", []) == []
    (job,) = queued_jobs(queued)
    assert (job["task"], job["status"]) == ("send_email", "todo")
    assert job["subject"] == "Your password was changed"
    assert job["to"] == [member.email]
    assert member.email not in job["stored"]


def test_password_forgot_leaves_even_the_look_up_to_the_worker(queued, member) -> None:
    client = queued.test_client()

    known = client.post("/password/forgot", json={"email": member.email})
    unknown = client.post("/password/forgot", json={"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 202
    assert known.get_json() == unknown.get_json()
    jobs = queued_jobs(queued)
    assert [job["task"] for job in jobs] == ["reset_by_address", "reset_by_address"]
    assert member.email not in jobs[0]["stored"]


def test_mail_queued_by_a_transaction_that_rolls_back_is_never_sent(queued, member) -> None:
    with queued.test_request_context(method="POST"):
        user = db.session.get(User, member.id)
        send_security_notice(user, "Rolled back", "This notice's transaction fails.")
        db.session.rollback()

    assert queued_jobs(queued) == []


@pytest.mark.e2e
def test_the_worker_delivers_queued_mail(queued, member, migrated_database, tmp_path) -> None:
    queued.test_client().post("/password/forgot", json={"email": member.email})

    result = run_worker(
        queued, migrated_database, MAIL_BACKEND="file", MAIL_FILE_PATH=str(tmp_path)
    )

    assert result.returncode == 0, result.stderr
    (sent,) = list(tmp_path.iterdir())
    content = sent.read_text()
    assert "Subject: Reset your Gatehouse password" in content
    assert f"To: {member.email}" in content
    assert [(job["task"], job["status"]) for job in queued_jobs(queued)] == [
        ("reset_by_address", "succeeded"),
        ("send_email", "succeeded"),
    ]


@pytest.mark.e2e
def test_a_failed_send_is_retried_then_logged_without_the_message(
    queued, member, migrated_database
) -> None:
    queued.test_client().post("/password/forgot", json={"email": member.email})

    result = run_worker(
        queued,
        migrated_database,
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(free_port()),  # nothing listens there
        MAIL_SEND_ATTEMPTS="3",
        MAIL_RETRY_WAIT="0",
    )

    assert result.returncode == 0, result.stderr
    lookup, job = queued_jobs(queued)
    assert (lookup["status"], job["status"]) == ("succeeded", "failed")
    gave_up = [
        json.loads(line) for line in result.stderr.splitlines() if "e-mail not delivered" in line
    ]
    assert len(gave_up) == 1
    assert gave_up[0]["message"].startswith(
        "e-mail not delivered after 3 attempts: ConnectionRefusedError"
    )
    assert "'Reset your Gatehouse password'" in gave_up[0]["message"]
    token = job["body"].split("<pre>")[1].split("</pre>")[0]
    assert token not in result.stderr
    assert member.email not in result.stderr


@pytest.fixture
def confirming_queue(make_app):
    app = make_app(MAIL_QUEUE=True, EMAIL_CONFIRMATION=True)
    with app.app_context():
        db.session.execute(text("TRUNCATE procrastinate_jobs CASCADE"))
        db.session.commit()
    return app


def test_registration_with_confirmation_does_the_same_work_for_any_address(
    confirming_queue, member
) -> None:
    """The request hashes the password and queues one sealed decision, whether or not the
    address has an account: neither its answer nor its work (hence its time) tells."""
    client = confirming_queue.test_client()
    body = {"password": "amber-quarry-signal"}

    free = client.post("/register", json={**body, "username": "fresh", "email": "f@example.com"})
    taken = client.post("/register", json={**body, "username": "other", "email": member.email})

    assert free.status_code == taken.status_code == 202
    assert free.get_json() == taken.get_json()
    jobs = queued_jobs(confirming_queue)
    assert [job["task"] for job in jobs] == ["open_account", "open_account"]
    assert member.email not in jobs[1]["stored"]
    with confirming_queue.app_context():
        assert db.session.scalar(text("SELECT count(*) FROM users")) == 1


def test_an_email_change_with_confirmation_does_the_same_work_for_any_address(
    confirming_queue, member, make_user, auth
) -> None:
    other = make_user("other")
    client = confirming_queue.test_client()
    headers = auth(member)

    free = client.patch("/users/me", json={"email": "free@example.com"}, headers=headers)
    taken = client.patch("/users/me", json={"email": other.email}, headers=headers)

    assert free.status_code == taken.status_code == 202
    assert [job["task"] for job in queued_jobs(confirming_queue)] == ["email_change"] * 2
    assert other.email not in queued_jobs(confirming_queue)[1]["stored"]


@pytest.mark.e2e
def test_the_worker_decides_a_registration(confirming_queue, member, migrated_database) -> None:
    """Run by the worker: the taken address's holder is told, the free one gets its link."""
    client = confirming_queue.test_client()
    body = {"password": "amber-quarry-signal"}
    client.post("/register", json={**body, "username": "fresh", "email": "f@example.com"})
    client.post("/register", json={**body, "username": "other", "email": member.email})

    result = run_worker(confirming_queue, migrated_database, MAIL_BACKEND="locmem")

    assert result.returncode == 0, result.stderr
    sent = sorted(
        (job["to"][0], job["subject"]) for job in queued_jobs(confirming_queue) if "to" in job
    )
    assert sent == [
        ("f@example.com", "Confirm your Gatehouse account"),
        (member.email, "Someone tried to register with your e-mail address"),
    ]
    with confirming_queue.app_context():
        made = db.session.execute(text("SELECT username, email_confirmed FROM users ORDER BY 1"))
        assert made.all() == [("fresh", False), ("member", True)]
