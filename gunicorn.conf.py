"""gunicorn settings for Heroku and any production host (read by ``gunicorn`` from the working
directory, so the Procfile's ``gunicorn "app:create_app()"`` uses them)."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads, not one request per process: a client that sends its request slowly (a byte every few
# seconds, slowloris) holds one thread while it does, not a whole worker, so a handful of them
# leave the others answering (tests/test_slow_clients.py). Each worker keeps at most
# DATABASE_POOL_SIZE connections however many threads it runs (docs/operations/scaling.md). Chosen
# over sync workers and granian by measurement (docs/performance.md, "Choosing the server").
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Build the app once in the master: a bad setting stops the release at once with its one-line
# reason, and workers share the imported code's memory.
preload_app = True
timeout = 30
# Heroku gives a dyno 30 s after SIGTERM; finish in-flight requests well within that.
graceful_timeout = 20
# Idle keep-alive connections are held longer than Heroku's router holds them (90 s): the router
# closes an idle connection first, never the dyno under a request the router is just sending
# (which would fail it with H18, and the router does not retry POSTs: a login, a refresh).
# Heroku's own Python buildpack guidance settled on the same (95 s). Under gthread an idle
# connection waits in the worker's poller, holding no thread.
keepalive = 95
# gunicorn refuses these itself, before the app sees the request, with its own HTML page and no
# X-Request-ID (docs/security.md): a request line over 4094 bytes (400), a header line over
# 8190 bytes or more than 100 headers (431), and broken framing such as Content-Length together
# with Transfer-Encoding (400). They are gunicorn's defaults, written down so that loosening one
# is a visible decision: every request the app accepts fits well inside them (its tokens are
# under 1 KB, its URLs under 300 bytes), and bodies are the app's to limit (1 MiB, 413).
limit_request_line = 4094
limit_request_field_size = 8190
limit_request_fields = 100
# The app writes the access log itself (JSON on stdout, with request and user ids).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


def pre_fork(server, worker):
    """Move everything the master loaded into the permanent generation: workers' garbage
    collections then skip it, and leave its memory pages shared instead of copying them."""
    import gc

    gc.freeze()
