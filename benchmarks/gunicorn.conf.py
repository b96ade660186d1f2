"""gunicorn settings for the real-server benchmark: quiet, and no shared control socket."""

from __future__ import annotations

# gunicorn 24+ opens a control socket at one fixed path in $HOME; the benchmark runs one
# server per configuration side by side. Older gunicorn ignores the unknown name.
control_socket_disable = True
loglevel = "warning"
accesslog = None
