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

from maintenance_env import csp, runtime
from maintenance_env.plan import Phase

__all__ = ["maintenance"]


def maintenance(request: HttpRequest) -> dict[str, Any]:
    """``maintenance``: ``active``, ``enabled``, ``upcoming`` (on, not active, and within
    ``MAINTENANCE_MODE_ANNOUNCE`` seconds of the next window), ``read_only`` (active and
    read-only: ``MAINTENANCE_MODE_READ_ONLY``, or the first ``READ_ONLY_FIRST`` seconds of
    a window), ``exempt`` (active, not read-only, and yet this page is being rendered: the
    visitor or the path is exempt), ``phase`` (``"off"``, ``"upcoming"``, ``"read-only"``,
    ``"active"``), ``starts_at`` and ``ends_at`` (the current window while active, the next
    one while upcoming, else ``STARTS_AT``/``ENDS_AT``), ``next_starts_at`` and
    ``next_ends_at`` (the next window, while upcoming), all aware UTC datetimes or ``None``,
    ``message`` and ``csp_nonce`` (the request's CSP nonce or "", asked for only when a
    template renders it)."""
    state = runtime.get_state()
    config = state.config
    now = time.time()
    active = state.is_active(now)
    period = state.period(now) if config.enabled else None
    upcoming = period is not None and period.phase is Phase.UPCOMING
    window = period.current if period is not None and active else None
    announced = period.next if upcoming and period is not None else None
    shown = window or announced
    return {
        "maintenance": {
            "active": active,
            "enabled": config.enabled,
            "upcoming": upcoming,
            "phase": (period.phase if period else Phase.ACTIVE if active else Phase.OFF).value,
            "read_only": active and state.is_read_only(now),
            # This page was rendered while maintenance is active and not read-only: this
            # visitor (or this path) is exempt, everyone else gets the maintenance page.
            "exempt": active and not state.is_read_only(now),
            "starts_at": shown.starts_at if shown else config.starts_at,
            "ends_at": shown.ends_at if shown else config.ends_at,
            "next_starts_at": announced.starts_at if announced else None,
            "next_ends_at": announced.ends_at if announced else None,
            "message": config.message,
            "csp_nonce": csp.nonce_getter(request),
        }
    }
