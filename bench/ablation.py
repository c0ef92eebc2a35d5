"""The app with one measured fast path switched off, for ``bench.py --ablation`` (the switch is
the benchmark's, not a setting of any deployment): the fast path named by the environment's
ABLATED_FAST_PATH is off, every other on.

    ABLATED_FAST_PATH=sql_dump gunicorn "bench.ablation:create_app()"
"""

import os

from app import create_app as create_gatehouse
from app.config import FAST_PATHS

ABLATED = "ABLATED_FAST_PATH"


def create_app():
    fast_path = os.environ.get(ABLATED)
    if fast_path is None:
        return create_gatehouse()
    if fast_path not in FAST_PATHS:
        raise ValueError(f"{fast_path!r} is not one of the fast paths {FAST_PATHS}")
    return create_gatehouse(overrides={"FAST_PATHS": set(FAST_PATHS) - {fast_path}})
