"""WSGI entry point for the real-server benchmark (``BENCH_STACK`` picks the stack)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

application = get_wsgi_application()
