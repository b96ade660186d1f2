"""``tests.live_site`` plus a ``maintenance_changed`` receiver that logs every signal.

Started with ``DJANGO_SETTINGS_MODULE=tests.schedule_site`` by
``tests/integration/test_schedule_servers.py``. Each signal a worker sends is appended, as one JSON
line (``pid``, ``previous``, ``active``, ``read_only``, ``phase``, ``cause``), to the file
named by ``SIGNAL_LOG``; one ``write`` of an ``O_APPEND`` file per line, so lines of
several workers (and threads) never interleave. Connected here, at settings import,
because the start signal is sent by the first request, before any URLconf is loaded.
"""

from __future__ import annotations

import json
import os
from typing import Any

from maintenance_env.signals import maintenance_changed
from tests.live_site import *  # noqa: F403

#: The environment variable naming the file the signals are logged to.
SIGNAL_LOG_VARIABLE = "SIGNAL_LOG"


def log_signal(sender: object, *, active: bool, previous: bool | None, **kwargs: Any) -> None:
    path = os.environ.get(SIGNAL_LOG_VARIABLE)
    if not path:
        return
    status, change = kwargs["status"], kwargs["change"]
    line = json.dumps(
        {
            "pid": os.getpid(),
            "previous": previous,
            "active": active,
            "read_only": status.read_only,
            "phase": status.phase,
            "cause": change.cause,
            "at": change.at.timestamp(),
        }
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, (line + "\n").encode())
    finally:
        os.close(descriptor)


maintenance_changed.connect(log_signal, dispatch_uid="tests.schedule_site.log_signal")
