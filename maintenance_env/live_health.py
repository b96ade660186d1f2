"""What one process keeps track of between ticks: the effective state and its last change
(:class:`EffectiveState`), and when each live source was last read well and since when it
fails (:class:`ReadTimes`; ``status`` shows both, :mod:`maintenance_env.source_health`)."""

from __future__ import annotations

import datetime as dt

from maintenance_env import live_log
from maintenance_env.policy import Policy
from maintenance_env.signals import Change
from maintenance_env.sources.base import Snapshot
from maintenance_env.variables import Origin

__all__ = ["EffectiveState", "ReadTimes"]


class ReadTimes:
    """``read_at``: ``time.time()`` of each source's last good tick; ``failing_since``:
    of the first bad one since (both by origin, seconds)."""

    def __init__(self) -> None:
        self.read_at: dict[Origin, float] = {}
        self.failing_since: dict[Origin, float] = {}

    def note(self, origin: Origin, snapshot: Snapshot | None, now: float) -> None:
        """A tick of ``origin`` at ``now`` found ``snapshot`` in force (``None`` or a
        pending one: not read yet, nothing to note)."""
        if snapshot is None or snapshot.kind == "pending":
            return
        if snapshot.error is None:
            self.read_at[origin] = now
            self.failing_since.pop(origin, None)
        else:
            self.failing_since.setdefault(origin, now)

    def forget(self, origin: Origin) -> None:
        """As if ``origin`` had never been read (a forked child's store)."""
        self.read_at.pop(origin, None)
        self.failing_since.pop(origin, None)


class EffectiveState:
    """Whether maintenance is active, and read-only, as this process last saw it; a
    change of either is a change of the effective state (``maintenance_changed``)."""

    def __init__(self) -> None:
        self.active = False
        self.read_only = False
        #: The last change (``None``: none yet).
        self.last_change: Change | None = None

    def start_from(self, policy: Policy) -> None:
        """Take ``policy``'s state now as where the process starts (not a change)."""
        self.active = policy.is_active()
        self.read_only = self.active and policy.is_read_only()

    def started(self, policy: Policy, now: float) -> Change:
        """The start of a process as a change (``previous=None``, cause ``"start"``)."""
        return Change(
            dt.datetime.fromtimestamp(now, dt.timezone.utc), policy.is_active(now), None, "start"
        )

    def settle(self, policy: Policy, cause: str, now: float) -> Change | None:
        """The change ``policy`` makes at ``now`` (Unix time), recorded and logged, or
        ``None``. A phase change (read-only first, then full maintenance) is one too."""
        active = policy.is_active(now)
        read_only = active and policy.is_read_only(now)
        if active == self.active and read_only == self.read_only:
            return None
        change = Change(dt.datetime.fromtimestamp(now, dt.timezone.utc), active, self.active, cause)
        self.active, self.read_only, self.last_change = active, read_only, change
        live_log.settled(cause, active)
        return change
