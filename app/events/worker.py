"""What the worker does for webhooks: every second it reads the audit trail into attempts and
hands each endpoint with attempts due to a delivery job (``webhooks_tick``); each delivery job
sends one endpoint's attempts (``deliver_webhooks``). Both run on the ``webhooks`` queue, the
tick first. Finished jobs of that queue are forgotten after an hour (the attempts are in
``webhook_deliveries``), and attempts after ``WEBHOOK_RETENTION`` seconds.

The tick is given to the worker's own task app when it starts (``schedule``, as
``app.maintenance`` does): periodic jobs need its asynchronous connector. Delivery jobs are
deferred by the tick in its transaction, through the mail queue's app (``app.mail.jobs``)."""

from datetime import timedelta

import procrastinate

from app.events import delivery, dispatch
from app.extensions import db
from app.mail import jobs

QUEUE = "webhooks"
EVERY_SECOND = "* * * * * *"
EVERY_TEN_MINUTES = "*/10 * * * *"
KEEP_FINISHED_JOBS_HOURS = 1
# The tick goes before the delivery jobs waiting on the queue.
TICK_PRIORITY = 10


@jobs.task(name="deliver_webhooks", queue=QUEUE, pass_context=True)
def deliver_webhooks(context: procrastinate.JobContext, endpoint_id: int, lease: str) -> None:
    """Send one endpoint's due attempts while the lease is this job's."""
    with context.additional_context["flask_app"].app_context():
        delivery.deliver(endpoint_id, lease)


def defer_delivery(**arguments) -> None:
    """Defer a delivery job in the current transaction."""
    deliver_webhooks.configure(connection=db.session.connection()).defer(**arguments)


def webhooks_tick(context: procrastinate.JobContext, timestamp: int) -> None:
    """Read the new events into attempts, then lease the endpoints with attempts due."""
    with context.additional_context["flask_app"].app_context():
        dispatch.dispatch_all()
        dispatch.lease_due_endpoints(defer_delivery)


def prune_deliveries(context: procrastinate.JobContext, timestamp: int) -> None:
    """Delete the attempts older than WEBHOOK_RETENTION seconds."""
    flask_app = context.additional_context["flask_app"]
    with flask_app.app_context():
        delivery.prune(timedelta(seconds=flask_app.config["WEBHOOK_RETENTION"]))


async def forget_finished_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    """Delete this queue's jobs that succeeded more than an hour ago (a tick a second)."""
    await context.app.job_manager.delete_old_jobs(nb_hours=KEEP_FINISHED_JOBS_HOURS, queue=QUEUE)


def schedule(worker_jobs: procrastinate.App) -> list[str]:
    """Register the webhook tasks that run on a schedule on ``worker_jobs``; their queue."""
    tick = worker_jobs.task(name="webhooks_tick", queue=QUEUE, pass_context=True)
    worker_jobs.periodic(cron=EVERY_SECOND, priority=TICK_PRIORITY)(tick(webhooks_tick))
    forget = worker_jobs.task(name="forget_webhook_jobs", queue=QUEUE, pass_context=True)
    worker_jobs.periodic(cron=EVERY_TEN_MINUTES)(forget(forget_finished_jobs))
    prune = worker_jobs.task(name="prune_webhook_deliveries", queue=QUEUE, pass_context=True)
    worker_jobs.periodic(cron=EVERY_TEN_MINUTES)(prune(prune_deliveries))
    return [QUEUE]
