"""Developer tasks. ``invoke --list`` shows them; the logic lives in the app's Flask commands."""

import contextlib
import os
import shutil
import subprocess
import sys

from invoke import Exit, task

ROOT = os.path.dirname(os.path.abspath(__file__))
DEVDB = os.path.join(ROOT, ".devdb")
FLASK = f"{sys.executable} -m flask --app app"
# Debian packages that some tests drive, by the command they provide.
TEST_DEBIAN_PACKAGES = {
    "chromium": "chromium",
    "node": "nodejs",
    "npm": "npm",
    "pgbouncer": "pgbouncer",
    "redis-server": "redis-server",
}
# What ``invoke test --fast`` leaves out: real server processes, and other long tests.
FAST_MARKERS = "not e2e and not slow"


def development_env() -> dict[str, str]:
    """Environment for local commands: DATABASE_URL if set, else the embedded database.

    The embedded server is started by this process and stops when it exits (Ctrl-C included).
    """
    env = {"APP_CONFIG": os.environ.get("APP_CONFIG", "development")}
    if not os.environ.get("DATABASE_URL"):
        from app.embedded_db import start_embedded_postgres

        server = start_embedded_postgres(DEVDB)
        env["DATABASE_URL"] = server.url()
    return env


@task(help={"drop": "Drop every table first, then migrate from scratch."})
def init_db(c, drop=False):
    """Apply the migrations (DATABASE_URL, else the embedded development database)."""
    c.run(f"{FLASK} init-db{' --drop' if drop else ''}", env=development_env())


@task
def seed_db(c):
    """Create the admin and user accounts if they are missing."""
    c.run(f"{FLASK} seed-db", env=development_env())


@task
def prune_tokens(c):
    """Delete ended sessions, expired tickets and tokens, lapsed accounts and stale failures."""
    c.run(f"{FLASK} prune-tokens", env=development_env())


def heroku_url() -> str:
    """DATABASE_URL of the Heroku app named by HEROKU_APP_NAME, or exit with a one-line reason."""
    from app.config import ConfigError
    from app.heroku import heroku_database_url

    try:
        return heroku_database_url(os.environ.get("HEROKU_APP_NAME"))
    except ConfigError as error:
        raise Exit(f"error: {error}", code=1) from None


@task(
    help={
        "port": "Port to serve on (default 5000).",
        "heroku": "Serve against the database of the Heroku app HEROKU_APP_NAME (no migrate/seed).",
    }
)
def dev(c, port=5000, heroku=False):
    """Serve the API on http://127.0.0.1:5000: embedded PostgreSQL, migrated and seeded."""
    serve = f"{FLASK} run --host 127.0.0.1 --port {port}"
    if heroku:
        env = {"APP_CONFIG": "development", "DATABASE_URL": heroku_url()}
        print(f"Serving on http://127.0.0.1:{port} against Heroku's database (Ctrl-C stops)")
        c.run(serve, env=env, pty=sys.stdin.isatty())
        return
    env = development_env()
    c.run(f"{FLASK} init-db", env=env)
    c.run(f"{FLASK} seed-db", env=env)
    # The mail worker, as the Procfile's worker: process (development delivers to files in
    # instance/mail/); it stops with this task.
    worker = subprocess.Popen([*FLASK.split(), "mail-worker"], env={**os.environ, **env})  # noqa: S603
    print(f"Serving on http://127.0.0.1:{port} (Ctrl-C stops it, its mail worker and database)")
    try:
        c.run(serve, env=env, pty=sys.stdin.isatty())
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@task
def heroku_db_url(c):
    """Print the DATABASE_URL of the Heroku app HEROKU_APP_NAME (needs the Heroku CLI)."""
    print(heroku_url())


@task
def lock(c):
    """Regenerate requirements.txt (pinned runtime dependencies) from pyproject.toml."""
    venv = os.path.join(ROOT, "build", "lock-venv")
    c.run(f"{sys.executable} -m venv --clear {venv}")
    c.run(f"{venv}/bin/pip install --quiet {ROOT}")
    frozen = c.run(f"{venv}/bin/pip freeze --exclude gatehouse", hide=True).stdout
    header = (
        "# Pinned runtime dependencies for Heroku's Python buildpack; development tools are in\n"
        "# pyproject.toml's dev extra. Regenerate with: invoke lock (a test checks it against "
        "pyproject).\n"
    )
    with open(os.path.join(ROOT, "requirements.txt"), "w") as requirements:
        requirements.write(header + frozen)


def install_debian_packages(c, packages: dict[str, str]) -> None:
    """Install the packages whose command is missing, with apt-get when running as root;
    otherwise stop, saying how: the tests that need them fail without them, never skip."""
    missing = sorted({name for command, name in packages.items() if not shutil.which(command)})
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Exit(
            f"error: the tests need Debian packages: sudo apt-get install {' '.join(missing)}",
            code=1,
        )
    apt = {"DEBIAN_FRONTEND": "noninteractive"}
    c.run("apt-get update -qq", env=apt)
    c.run(f"apt-get install -y -qq --no-install-recommends {' '.join(missing)}", env=apt)


def install_oidc_provider() -> None:
    """The OpenID provider the provider tests run (npm's oidc-provider, in tests/oidc)."""
    from tests.support.oidc_provider import ensure_installed

    ensure_installed()


@task(
    help={
        "args": "Extra arguments for pytest, e.g. -k login.",
        "fast": f'Only the unit and in-process tests (-m "{FAST_MARKERS}"): no servers, no tools.',
    }
)
def test(c, args="", fast=False):
    """Run the test suite on a throwaway embedded PostgreSQL (or TEST_DATABASE_URL)."""
    if fast:
        c.run(f'{sys.executable} -m pytest -m "{FAST_MARKERS}" {args}', pty=False)
        return
    install_debian_packages(c, TEST_DEBIAN_PACKAGES)
    install_oidc_provider()
    c.run(f"{sys.executable} -m pytest --cov --cov-report=term-missing {args}", pty=False)


@task(
    help={
        "modules": "Comma-separated modules under app/ whose mutants are all tested again, e.g. "
        "tokens.access,access.bearer (default: mutmut's own choice, the mutants of new or "
        "changed functions).",
        "pending": "Only the mutants no test has killed yet (survivors, and any not run), of "
        "--modules if given.",
        "unrun": "Only the mutants not tested yet (of --modules if given): survivors explained "
        "as equivalent are not run again.",
        "fresh": "Start over: every mutant made and tested again.",
        "remap": "Map each function to the tests that reach it again, keeping the verdicts.",
        "children": "Mutants tested at once (default 2).",
    }
)
def mutate(c, modules="", pending=False, unrun=False, fresh=False, remap=False, children=2):
    """Mutation testing of the security core with mutmut (slow: not part of CI). mutmut maps
    each function to the tests that reach it once, and adds only new tests to that map later,
    so a function that new code calls from more tests keeps its old, shorter list until then.
    --fresh starts over; --remap makes the map again but keeps the verdicts (a mutant a test
    killed stays killed), so with --pending it tests again only what no test has killed."""
    from app.embedded_db import start_embedded_postgres

    if fresh:
        shutil.rmtree(os.path.join(ROOT, "mutants"), ignore_errors=True)
    if remap:
        # Without its stats file mutmut collects the map again and, having no earlier
        # settings to compare with, keeps every verdict it has.
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(ROOT, "mutants", "mutmut-stats.json"))

    prefixes = tuple(f"app.{name.strip()}." for name in modules.split(",") if name.strip())
    if pending or unrun:
        # `mutmut results` lists every mutant not killed, one "    name: status" a line.
        listed = c.run("mutmut results", hide=True, warn=True).stdout.splitlines()
        named = [line.strip().split(": ") for line in listed if line.startswith("    ")]
        names = [name for name, status in named if not unrun or status == "not checked"]
        names = [name for name in names if not prefixes or name.startswith(prefixes)]
        if not names:
            print("No mutant is left to test: every one was killed.")
            return
    else:
        names = [f"{prefix}*" for prefix in prefixes]
    # One server for the whole run, on which each test run makes its own database
    # (tests/conftest.py); it stops when this task ends.
    server = start_embedded_postgres(os.path.join(ROOT, "build", "mutation-db"))
    env = {key: value for key, value in os.environ.items() if key != "TEST_DATABASE_URL"}
    env["TEST_DATABASE_SERVER_URL"] = server.url()
    # The migrations run once, here, with the code as it is (no mutant): each test run for a
    # mutant copies this database instead of migrating one of its own.
    env["TEST_DATABASE_TEMPLATE"] = "mutation_template"
    build = "from tests.support.database import build_template; build_template()"
    c.run(f"{sys.executable} -c '{build}'", env=env, replace_env=True)
    quoted = " ".join(f"'{name}'" for name in names)
    c.run(f"mutmut run --max-children {children} {quoted}", env=env, replace_env=True, pty=False)
    c.run("mutmut results", pty=False)


@task
def lint(c):
    """Check style and common bugs with ruff, and the layers with import-linter."""
    c.run(f"{sys.executable} -m ruff check .")
    c.run(f"{sys.executable} -m ruff format --check .")
    c.run("lint-imports")


@task
def docs(c):
    """Build the documentation site into site/ (mkdocs, strict: a broken link fails)."""
    c.run(f"{sys.executable} -m mkdocs build --strict", env={"NO_MKDOCS_2_WARNING": "1"})


@task
def postman(c):
    """Run the Postman collection with newman against gunicorn on a fresh database."""
    c.run(f"{sys.executable} postman/run.py")


@task(
    help={
        "clients": "Concurrent clients (default 16).",
        "seconds": "How long to run (default 20).",
        "workers": "gunicorn workers (default 2).",
    }
)
def load(c, clients=16, seconds=20, workers=2):
    """Bounded load run against gunicorn: requests, errors (must be 0), p50/p99."""
    c.run(
        f"{sys.executable} bench/load.py --clients {clients} --seconds {seconds} "
        f"--workers {workers}"
    )


@task(
    help={
        "seconds": "Seconds per run (default 10).",
        "rounds": "Runs per scenario, the best one kept (default 2); with --peers, interleaved "
        "rounds whose ratios' medians are shown (default 5).",
        "server": "gthread (production, the default), sync, granian, a comma-separated list, "
        "or all.",
        "ablation": "Measure what each fast path buys instead.",
        "peers": "Measure against the peers instead (fastapi-users, Flask-Security, DRF + "
        "simplejwt; bench/README.md).",
        "only": "With --peers: comma-separated peers or rows (default all).",
        "out": "With --peers: write every raw figure to this JSON file.",
        "peer_hash": "With --peers: configured (Gatehouse's argon2id for all, the default) or "
        "default (each library's own).",
    },
    # (Long flags only: no letter of --peer-hash is left for a short one.)
    auto_shortflags=False,
)
def bench(
    c,
    seconds=10,
    rounds=None,
    server="gthread",
    ablation=False,
    peers=False,
    only="",
    out="",
    peer_hash="configured",
    at_scale_only=False,
):
    """Benchmark against the one-round-trip app served the same way (wrk; prints the tables);
    --at-scale-only: only the rows at 1,000,000 users and 100,000 organizations."""
    command = f"{sys.executable} bench/bench.py --seconds {seconds}"
    if rounds:
        command += f" --rounds {rounds}"
    if peers:
        command += f" --peers --peer-hash {peer_hash}"
        command += f" --only {only}" if only else ""
        command += f" --out {out}" if out else ""
    else:
        command += f" --server {server}{' --ablation' if ablation else ''}"
        command += " --at-scale-only" if at_scale_only else ""
    c.run(command)
