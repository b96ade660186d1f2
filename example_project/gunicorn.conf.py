"""gunicorn settings for the example site, all overridable from the environment.

Used by the Procfile's ``web:`` line from the repository root:
``gunicorn --config example_project/gunicorn.conf.py demo_site.wsgi``.
"""

from __future__ import annotations

import os
from pathlib import Path

# gunicorn changes into this directory and puts it on sys.path before loading the app,
# so ``demo_site.wsgi`` imports whatever directory the command is started from.
chdir = str(Path(__file__).resolve().parent)

# Platforms (Heroku, Render, Railway, Cloud Run, Fly) pass the port in PORT and expect
# every interface; HOST=127.0.0.1 keeps `make demo` and the tests on loopback.
bind = [f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"]

# WEB_CONCURRENCY is what Heroku and the Python buildpack set from the dyno size.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 4

# Django's log output (including maintenance_env's "configuration changed") on stderr.
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

# gunicorn 24+ opens a control socket at one fixed path in $HOME; several servers on one
# machine (tests, a demo beside a load test) would fight over it, and nothing here uses it.
# Older gunicorn ignores the unknown name.
control_socket_disable = True
