"""A small Django project shared by every benchmark configuration.

``BENCH_STACK`` picks the maintenance middleware appended to the usual stack:
``bare`` (none), ``ours`` (maintenance_env), ``dmm`` (django-maintenance-mode) or
``all`` (the in-process runner, which builds one handler per configuration itself).
``BENCH_DMM_STATE_FILE`` is django-maintenance-mode's state file, ``BENCH_DMM_BACKEND``
its state backend (``local`` or ``cache``), ``BENCH_REDIS_URL`` the benchmark's
redis-server.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile

STACK = os.environ.get("BENCH_STACK", "all")
if STACK not in {"bare", "ours", "dmm", "all"}:
    raise RuntimeError(f"BENCH_STACK={STACK!r}: expected bare, ours, dmm or all")

HAVE_DMM = importlib.util.find_spec("maintenance_mode") is not None

SECRET_KEY = "benchmarks-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
ROOT_URLCONF = "benchmarks.urls"

#: What `django-admin startproject` gives, minus what needs a database on every request.
BASE_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
OURS_MIDDLEWARE = "maintenance_env.middleware.MaintenanceModeMiddleware"
DMM_MIDDLEWARE = "maintenance_mode.middleware.MaintenanceModeMiddleware"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
]
MIDDLEWARE = list(BASE_MIDDLEWARE)
if STACK in {"ours", "all"}:
    INSTALLED_APPS.append("maintenance_env")
if STACK == "ours":
    MIDDLEWARE.append(OURS_MIDDLEWARE)
if STACK == "dmm" or (STACK == "all" and HAVE_DMM):
    # Both packages read settings named MAINTENANCE_MODE*; the in-process runner gives
    # ours its values through the environment, which wins over settings.
    INSTALLED_APPS.append("maintenance_mode")
    MAINTENANCE_MODE_STATE_FILE_PATH = os.environ.get("BENCH_DMM_STATE_FILE") or os.path.join(
        tempfile.gettempdir(), f"bench-dmm-state-{os.getpid()}.txt"
    )
if STACK == "dmm":
    MIDDLEWARE.append(DMM_MIDDLEWARE)

#: django-maintenance-mode's state backends compared: its default local file, and its
#: cache backend on the benchmark's redis-server (the ``shared`` cache below).
DMM_BACKENDS = {
    "local": "maintenance_mode.backends.LocalFileBackend",
    "cache": "maintenance_mode.backends.CacheBackend",
}
# The redis-server the benchmark starts (``BENCH_REDIS_URL``, database 0 in the URL):
# ours reads it through MAINTENANCE_MODE_CACHE (a URL, databases 0 and 1), and
# django-maintenance-mode through this alias (database BENCH_DMM_DB, default 2: servers
# side by side, one on and one off, need one database each), as its docs configure it.
CACHES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
REDIS_URL = os.environ.get("BENCH_REDIS_URL")
if REDIS_URL:
    CACHES["shared"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL.rsplit("/", 1)[0] + "/" + os.environ.get("BENCH_DMM_DB", "2"),
    }
    # The django-redis row of benchmarks/offpath.py (an alias: django-redis has no URL form
    # of ours).
    CACHES["django_redis_store"] = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL.rsplit("/", 1)[0] + "/6",
    }
if STACK == "dmm" or (STACK == "all" and HAVE_DMM):
    MAINTENANCE_MODE_STATE_BACKEND = DMM_BACKENDS[os.environ.get("BENCH_DMM_BACKEND", "local")]
    MAINTENANCE_MODE_CACHE_BACKEND = "shared" if REDIS_URL else None

# No query runs on the benchmarked paths (no session cookie is sent), but the apps need one.
DATABASES: dict[str, dict[str, object]] = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
}
if POSTGRES := os.environ.get("BENCH_POSTGRES"):
    # The benchmark's own PostgreSQL (benchmarks/__main__.py), for the DatabaseCache row:
    # no request of any row reads the database.
    DATABASES["default"] = json.loads(POSTGRES)

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ],
        },
    }
]

DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
