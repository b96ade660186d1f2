"""``maintenance`` in every template: the state, any announced window, read-only mode.

Add ``"maintenance_env.context_processors.maintenance"`` to the template engine's
``context_processors`` and include the shipped banner::

    {% include "maintenance_env/banner.html" %}

or write your own, for example::

    {% if maintenance.upcoming %}Maintenance on {{ maintenance.starts_at|date }}{% endif %}
    <button {% if maintenance.read_only %}disabled{% endif %}>Save</button>
"""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest

from maintenance_env import csp, live

__all__ = ["maintenance"]


def maintenance(request: HttpRequest) -> dict[str, Any]:
    """``maintenance``: ``active``, ``enabled``, ``upcoming`` (on, with a ``STARTS_AT``
    still ahead), ``read_only`` (active and ``MAINTENANCE_MODE_READ_ONLY`` on: only safe
    methods get through), ``exempt`` (active, not read-only, and yet this page is being
    rendered: the visitor or the path is exempt), ``starts_at``, ``ends_at`` (aware
    datetimes), ``message`` and ``csp_nonce`` (the request's CSP nonce or "", asked for
    only when a template renders it)."""
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
            "read_only": active and config.read_only,
            # This page was rendered while maintenance is active and not read-only: this
            # visitor (or this path) is exempt, everyone else gets the maintenance page.
            "exempt": active and not config.read_only,
            "starts_at": config.starts_at,
            "ends_at": config.ends_at,
            "message": config.message,
            "csp_nonce": csp.nonce_getter(request),
        }
    }
