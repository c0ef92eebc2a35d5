"""E-mail leaves the request path through a task queue on the same PostgreSQL (procrastinate).

A request does not talk to the mail server: flask-mailman's backend, when ``MAIL_QUEUE`` is on
(production and development), is ``QueuedBackend``, which turns each message into a job written
in the request's own transaction. A request that rolls back therefore sends nothing, and one
that commits always leaves its e-mails queued, whatever the mail server is doing. The
``worker:`` process (``flask --app app mail-worker``) sends them with the configured backend
(``MAIL_BACKEND``: smtp, file, locmem), retries a failed send with exponential back-off, and
logs a message it gave up on by subject and job id only. A job's message is sealed
(``app.sealing``): the queue's rows, and the queue's own logs of a failing job, show ciphertext,
never a token.

With ``MAIL_QUEUE=false`` (the tests' default) flask-mailman sends in the request, as before.
"""

import logging

import procrastinate
from flask import Flask, current_app, g, has_request_context
from flask_mailman import EmailMessage
from flask_mailman.backends.base import BaseEmailBackend
from procrastinate.contrib.sqlalchemy import SQLAlchemyPsycopg2Connector
from procrastinate.retry import BaseRetryStrategy, RetryDecision

from app.extensions import db, mail
from app.sealing import seal_json, unseal_json

LOG = logging.getLogger(__name__)
QUEUE = "mail"
SEAL_PURPOSE = "queued mail"

jobs = procrastinate.App(connector=SQLAlchemyPsycopg2Connector())


class BackOff(BaseRetryStrategy):
    """A failed send is tried ``MAIL_SEND_ATTEMPTS`` times in all, the n-th retry after
    ``MAIL_RETRY_WAIT`` ** n seconds: the worker's app's settings (``configure``, when the
    worker starts; the tasks are declared at import, before any app exists)."""

    def __init__(self) -> None:
        self.attempts = 6
        self.wait = 4

    def configure(self, config) -> None:
        self.attempts = config["MAIL_SEND_ATTEMPTS"]
        self.wait = config["MAIL_RETRY_WAIT"]

    def get_retry_decision(self, *, exception, job) -> RetryDecision | None:
        if job.attempts + 1 >= self.attempts:
            return None
        return RetryDecision(retry_in={"seconds": self.wait ** (job.attempts + 1)})


BACK_OFF = BackOff()


def message_to_job(message: EmailMessage) -> str:
    return seal_json(
        {
            "subject": message.subject,
            "body": message.body,
            "from_email": message.from_email,
            "to": list(message.to),
            "cc": list(message.cc),
            "bcc": list(message.bcc),
            "reply_to": list(message.reply_to),
            "content_subtype": message.content_subtype,
        },
        SEAL_PURPOSE,
    )


def mail_task(name: str):
    """A task of the mail queue: retried with back-off, given the job's context."""
    return jobs.task(
        name=name,
        queue=QUEUE,
        pass_context=True,
        retry=BACK_OFF,
    )


def queue(task, **arguments) -> None:
    """Defer ``task`` in the current transaction: it runs only if the transaction commits (in a
    request, the commit after the view does it when the view did not)."""
    send = task.configure(connection=db.session.connection())
    send.defer(**arguments)
    if has_request_context():
        g.mail_queued = True
    else:
        db.session.commit()


DECISION_PURPOSE = "decisions"


def decided_in_the_worker(name: str):
    """Decorator: ``function.later(**arguments)`` runs ``function`` in the worker (a task of
    the mail queue named ``name``, its arguments sealed) when ``MAIL_QUEUE`` is on, else now.

    For what a request must not decide itself because deciding would take a time that tells
    something: whether an address has an account (``/password/forgot``, a registration or an
    e-mail change with confirmation on). The request then does the same work, and so takes
    the same time, whatever the answer, and the worker decides and writes to whom."""

    def register(function):
        @mail_task(name)
        def job(context: procrastinate.JobContext, sealed: str) -> None:
            with context.additional_context["flask_app"].app_context():
                function(**unseal_json(sealed, DECISION_PURPOSE))
                db.session.commit()

        def later(**arguments) -> None:
            if current_app.config["MAIL_QUEUE"]:
                queue(job, sealed=seal_json(arguments, DECISION_PURPOSE))
            else:
                function(**arguments)

        function.later = later
        return function

    return register


@mail_task("send_email")
def send_email(context: procrastinate.JobContext, message: str) -> None:
    """Send one queued message with the delivery backend; a failure is raised (the queue
    retries it) and, on the last attempt, logged without the message's content."""
    flask_app: Flask = context.additional_context["flask_app"]
    with flask_app.app_context():
        message = unseal_json(message, SEAL_PURPOSE)
        subtype = message.pop("content_subtype", "plain")
        email = EmailMessage(**message)
        email.content_subtype = subtype
        connection = mail.get_connection(
            backend=flask_app.config["MAIL_DELIVERY_BACKEND"], fail_silently=False
        )
        try:
            connection.send_messages([email])
        except Exception as error:
            attempt = context.job.attempts + 1
            if attempt >= flask_app.config["MAIL_SEND_ATTEMPTS"]:
                LOG.error(
                    "e-mail not delivered after %d attempts: %s (job %s, subject %r)",
                    attempt,
                    type(error).__name__,
                    context.job.id,
                    email.subject,
                )
            raise


class QueuedBackend(BaseEmailBackend):
    """flask-mailman's backend while ``MAIL_QUEUE`` is on: queue, in the current transaction."""

    def send_messages(self, email_messages) -> int:
        for message in email_messages:
            queue(send_email, message=message_to_job(message))
        return len(email_messages)


def commit_queued_mail(response):
    """after_request: a request that queued e-mail and did not fail keeps it (views that send
    a notice after their own commit leave the queued job to this commit)."""
    if g.get("mail_queued") and response.status_code < 500:
        db.session.commit()
    return response


def init_mail(app: Flask) -> None:
    """flask-mailman, with the queue in front of ``MAIL_BACKEND`` when ``MAIL_QUEUE`` is on."""
    if app.config["MAIL_QUEUE"]:
        app.config["MAIL_DELIVERY_BACKEND"] = app.config["MAIL_BACKEND"]
        app.config["MAIL_BACKEND"] = QueuedBackend
        app.after_request(commit_queued_mail)
        with app.app_context():
            jobs.open(db.engine)
    mail.init_app(app)


def models_own(object_, name, type_, reflected, compare_to) -> bool:
    """Alembic's include_object: the mail queue's tables are procrastinate's, not the models'."""
    return not (type_ == "table" and name and name.startswith("procrastinate_"))


def worker_conninfo(database_url: str) -> str:
    """The libpq URL of the database (the worker connects with psycopg 3)."""
    return database_url.replace("postgresql+psycopg2://", "postgresql://", 1)


def run_worker(flask_app: Flask, wait: bool = True, schedule=None) -> None:
    """Send queued e-mail until stopped (``wait=False``: until the queue is empty), and run
    what ``schedule`` (given the worker's task app, it returns their queues) registers."""
    from procrastinate import PsycopgConnector

    BACK_OFF.configure(flask_app.config)
    connector = PsycopgConnector(
        conninfo=worker_conninfo(flask_app.config["SQLALCHEMY_DATABASE_URI"]),
        # No server-side prepared statements: they would not survive a pooler in
        # transaction mode (PgBouncer before 1.21).
        kwargs={"prepare_threshold": None},
        # One connection polls, the others start and finish jobs: the worker's share of the
        # connection budget.
        min_size=1,
        max_size=2 + flask_app.config["WORKER_CONCURRENCY"] // 2,
    )
    worker_jobs = jobs.with_connector(connector)
    scheduled = schedule(worker_jobs) if schedule is not None else []
    worker_jobs.run_worker(
        queues=[QUEUE, *scheduled],
        # Jobs run in threads: a webhook endpoint that hangs holds one of them, not the worker.
        # Run until the queue is empty, one at a time: with several, one thread finding the
        # queue empty would stop the worker while another's job waits for its retry.
        concurrency=flask_app.config["WORKER_CONCURRENCY"] if wait else 1,
        wait=wait,
        listen_notify=False,
        fetch_job_polling_interval=1.0,
        additional_context={"flask_app": flask_app},
        install_signal_handlers=wait,
    )
