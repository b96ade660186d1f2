"""Settings for the processes of the store-backend tests (``tests/store_process.py``).

The suite's settings, with ``CACHES`` and ``DATABASES`` taken from the JSON in
``STORE_TEST_SETTINGS`` (``{"CACHES": {...}, "DATABASES": {...}}``), so that each test
can point a real process at its own redis-server, memcached or PostgreSQL.
"""

from __future__ import annotations

import json
import os

from tests.settings import *  # noqa: F403

_given = json.loads(os.environ.get("STORE_TEST_SETTINGS") or "{}")
CACHES = _given.get("CACHES") or {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
if "DATABASES" in _given:
    DATABASES = _given["DATABASES"]
