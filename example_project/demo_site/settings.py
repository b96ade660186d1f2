"""Settings of the example site, all from the environment (twelve-factor) via django-environ.

Every value has a default that makes ``make demo`` work on a fresh clone; a deployment
overrides them with real environment variables (``app.json``, the Kubernetes manifests).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import environ

#: The ``example_project`` directory.
BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# Only fit for the local demo: Django's deploy checks flag the "django-insecure-" prefix,
# and app.json / the Kubernetes Secret set a real one.
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-demo-site-only-never-in-production")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "maintenance_env",
    "demo_site",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After AuthenticationMiddleware, so MAINTENANCE_MODE_EXCEPT_STAFF & co. can see the user.
    "maintenance_env.middleware.MaintenanceModeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo_site.urls"
WSGI_APPLICATION = "demo_site.wsgi.application"
ASGI_APPLICATION = "demo_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "maintenance_env.context_processors.maintenance",
            ],
        },
    }
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))

# The live mounted config: `manage.py maintenance_mode on --write` writes here and every
# gunicorn worker sees the change within MAINTENANCE_MODE_RELOAD_INTERVAL (1 s). On
# Kubernetes the environment points it at the ConfigMap volume instead; an empty value
# turns the mounted config off.
DEFAULT_CONFIG_DIR = BASE_DIR / "run" / "maintenance"
MAINTENANCE_MODE_CONFIG_PATH = env.str(
    "MAINTENANCE_MODE_CONFIG_PATH", default=str(DEFAULT_CONFIG_DIR)
)
if Path(MAINTENANCE_MODE_CONFIG_PATH) == DEFAULT_CONFIG_DIR:
    # A read-only filesystem only means no demo config directory, not a crash.
    with contextlib.suppress(OSError):
        os.makedirs(DEFAULT_CONFIG_DIR, exist_ok=True)

# The shared store, for a fleet-wide switch with no restart and no shared volume: when the
# platform gives a Redis (Heroku Key-Value Store, Render, Railway and most add-ons set
# REDIS_URL), it becomes the default cache and `manage.py maintenance_mode on --write`
# writes there; every process of every dyno or container reads it within the reload
# interval. MAINTENANCE_MODE_CACHE in the environment still wins. Without REDIS_URL
# (`make demo`), nothing changes: Django's local-memory cache, no store.
# The store is the URL itself, not the default alias: a cache.clear() of the app's cache
# never takes the switch with it, and the URL builds Django's RedisCache whatever else is
# installed, its query reaching redis-py.
if env.str("REDIS_URL", default=""):
    REDIS_URL = env.str("REDIS_URL")
    if "DYNO" in os.environ and REDIS_URL.startswith("rediss://"):
        # Heroku Key-Value Store requires TLS, with a self-signed certificate that
        # redis-py refuses unless certificate checking is off.
        REDIS_URL += ("&" if "?" in REDIS_URL else "?") + "ssl_cert_reqs=none"
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    MAINTENANCE_MODE_CACHE = REDIS_URL

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        # Shows "configuration changed ...: maintenance on" in the server's output.
        "maintenance_env": {"handlers": ["console"], "level": "INFO"},
    },
}
