"""Each peer's virtual environment, made on first use from its pinned requirements
(bench/peers/requirements/<peer>.txt) with pip from PyPI, under a cache directory outside the
project's own environment: the peers are never dependencies of Gatehouse, and their pins clash
with Gatehouse's. A requirements file that changed remakes its environment.

The cache is ``$GATEHOUSE_BENCH_CACHE/peers``, else ``$XDG_CACHE_HOME/gatehouse-bench/peers``,
else ``~/.cache/gatehouse-bench/peers``. Every environment uses the interpreter that runs the
benchmark, as Gatehouse's own servers do."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parent / "requirements"
# Written into an environment once its requirements are installed: their digest.
MARKER = ".gatehouse-bench-requirements"


def cache_root() -> Path:
    if os.environ.get("GATEHOUSE_BENCH_CACHE"):
        return Path(os.environ["GATEHOUSE_BENCH_CACHE"]) / "peers"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gatehouse-bench" / "peers"


def requirements_digest(peer: str) -> str:
    return hashlib.sha256((REQUIREMENTS / f"{peer}.txt").read_bytes()).hexdigest()


def python_of(peer: str) -> Path:
    """The interpreter of ``peer``'s environment, made (or remade) first if needed."""
    directory = cache_root() / peer
    python = directory / "bin" / "python"
    marker = directory / MARKER
    digest = requirements_digest(peer)
    if python.exists() and marker.exists() and marker.read_text() == digest:
        return python
    print(f"Installing {peer}'s environment in {directory} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(directory)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(REQUIREMENTS / f"{peer}.txt"),
        ],
        check=True,
    )
    marker.write_text(digest)
    return python


def frozen(python: Path) -> list[str]:
    """What an environment holds (``pip freeze``), for the run's record."""
    result = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()
