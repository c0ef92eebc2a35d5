"""The app with measured fast paths switched off, for ``bench.py --ablation`` (the switch is
the benchmark's, not a setting of any deployment): the fast paths named by the environment's
ABLATED_FAST_PATH (comma-separated) are off, every other on.

    ABLATED_FAST_PATH=sql_dump gunicorn "bench.ablation:create_app()"
    ABLATED_FAST_PATH=token_cache,sql_dump gunicorn "bench.ablation:create_app()"
"""

import os

from app import create_app as create_gatehouse
from app.config import FAST_PATHS

ABLATED = "ABLATED_FAST_PATH"


def create_app():
    named = os.environ.get(ABLATED)
    if named is None:
        return create_gatehouse()
    off = set(named.split(","))
    if not off <= set(FAST_PATHS):
        raise ValueError(f"{named!r} names other than the fast paths {FAST_PATHS}")
    return create_gatehouse(overrides={"FAST_PATHS": set(FAST_PATHS) - off})
