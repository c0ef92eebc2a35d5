"""The app with one measured fast path switched off, for ``bench.py --ablation`` (the switch is
the benchmark's, not a setting of any deployment):

    gunicorn "bench.ablation:create_app_without('sql_dump')"
"""

from app import create_app
from app.config import FAST_PATHS


def create_app_without(fast_path: str):
    if fast_path not in FAST_PATHS:
        raise ValueError(f"{fast_path!r} is not one of the fast paths {FAST_PATHS}")
    return create_app(overrides={"FAST_PATHS": set(FAST_PATHS) - {fast_path}})
