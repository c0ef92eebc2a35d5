"""Migrate, and add a user for each name (e-mail NAME@example.com, password PEER_PASSWORD).

python -m drf_peer.seed NAME...
"""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drf_peer.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

call_command("migrate", verbosity=0)
for name in sys.argv[1:]:
    get_user_model().objects.create_user(
        name, email=f"{name}@example.com", password=os.environ["PEER_PASSWORD"]
    )
