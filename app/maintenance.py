"""What the worker does on a schedule. Housekeeping, besides ``flask prune-tokens``: expired
tickets (the challenges and states that started and abandoned ceremonies leave behind, a flood of
them included) are deleted every ten minutes, so they never pile up between two runs of that
command. And webhooks: the audit trail read into attempts every second (``app.events.worker``).

The schedule is given to the worker's own task app when it starts (``schedule``): the app the
web processes defer with has a synchronous connector, which cannot defer scheduled jobs.
"""

import procrastinate

from app.events import worker as webhooks
from app.tokens import tickets

QUEUE = "maintenance"
PRUNE_EVERY = "*/10 * * * *"


def prune_expired_tickets(context: procrastinate.JobContext, timestamp: int) -> None:
    """Delete the tickets that have expired."""
    with context.additional_context["flask_app"].app_context():
        tickets.prune()


def schedule(worker_jobs: procrastinate.App) -> list[str]:
    """Register the scheduled tasks on ``worker_jobs``; the queues they run on."""
    task = worker_jobs.task(name="prune_expired_tickets", queue=QUEUE, pass_context=True)
    worker_jobs.periodic(cron=PRUNE_EVERY)(task(prune_expired_tickets))
    return [QUEUE, *webhooks.schedule(worker_jobs)]
