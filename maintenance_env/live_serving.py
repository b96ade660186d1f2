"""What a process serves, as its fleet report says it (contract section 10).

:class:`ServingView` turns the process's current policy into a
:class:`~maintenance_env.sources.store_fleet.Serving`: the state served, the store's
``changed_at`` applied, and the instant of a window's edge when the schedule (with nobody
writing) changed the state since the last report, the same instant in every process so
that the fleet sends one ``fleet_changed`` for it.
"""

from __future__ import annotations

import datetime as dt
import time

from maintenance_env.policy import Policy
from maintenance_env.signals import Change
from maintenance_env.sources.store import SharedStore
from maintenance_env.sources.store_fleet import Serving

__all__ = ["ServingView"]


class ServingView:
    """One runtime's memory between two fleet reports: the ``changed_at`` it has applied,
    the last change it reported, and the end of the window it was in."""

    def __init__(self) -> None:
        self.applied_change: str | None = None
        self._reported_change: Change | None = None
        self._window_end: dt.datetime | None = None

    def now(self, policy: Policy, store: SharedStore | None, last_change: Change | None) -> Serving:
        """What ``policy`` serves now. ``store``: the runtime's shared store, whose
        ``changed_at`` counts as applied once its last publication was taken;
        ``last_change``: the runtime's last change of the effective state. When that
        change came from the schedule and was not reported yet, ``edge`` is the instant of
        the window's edge that made it (its start, or its end for a closing)."""
        if store is not None and store.consumed():
            self.applied_change = store.changed_at
        now = time.time()
        active = policy.is_active(now)
        read_only = active and policy.is_read_only(now)
        state = "read-only" if read_only else "on" if active else "off"
        window = policy.window(now) if active else None
        edge = None
        if last_change is not None and last_change is not self._reported_change:
            self._reported_change = last_change
            if last_change.cause == "schedule":
                moment = window.starts_at if window else self._window_end
                if moment is not None:
                    edge = moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        self._window_end = window.ends_at if window is not None else None
        return Serving(state, self.applied_change, active, edge)
