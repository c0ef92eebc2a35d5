"""gunicorn settings for Heroku and any production host (read by ``gunicorn`` from the working
directory, so the Procfile's ``gunicorn "app:create_app()"`` uses them)."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
# Build the app once in the master: a bad setting stops the release at once with its one-line
# reason, and workers share the imported code's memory.
preload_app = True
timeout = 30
# Heroku gives a dyno 30 s after SIGTERM; finish in-flight requests well within that.
graceful_timeout = 20
keepalive = 5
# The app writes the access log itself (JSON on stdout, with request and user ids).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


def pre_fork(server, worker):
    """Move everything the master loaded into the permanent generation: workers' garbage
    collections then skip it, and leave its memory pages shared instead of copying them."""
    import gc

    gc.freeze()
