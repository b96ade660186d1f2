"""``maintenance`` in every template: the state, and any announced window.

Add ``"maintenance_env.context_processors.maintenance"`` to the template engine's
``context_processors`` and write, for example::

    {% if maintenance.upcoming %}Maintenance on {{ maintenance.starts_at|date }}{% endif %}
"""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest

from maintenance_env import live

__all__ = ["maintenance"]


def maintenance(request: HttpRequest) -> dict[str, Any]:
    state = live.get_state()
    config = state.config
    now = time.time()
    active = state.is_active(now)
    upcoming = bool(config.enabled and state.start_ts is not None and now < state.start_ts)
    return {
        "maintenance": {
            "active": active,
            "enabled": config.enabled,
            "upcoming": upcoming,
            "starts_at": config.starts_at,
            "ends_at": config.ends_at,
            "message": config.message,
        }
    }
