"""When maintenance, switched on, is active: the schedule's windows combined with the
one-off [``STARTS_AT``, ``ENDS_AT``), ``READ_ONLY_FIRST`` and ``ANNOUNCE``.

:class:`Plan` says, for an instant, which :class:`Phase` it is in and until when
(:class:`Period`). :meth:`Plan.at` keeps the last period, so a caller asking on every
request computes the next edge once per period, not once per request. Pure time
arithmetic, like :mod:`maintenance_env.schedule`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
from collections.abc import Callable
from zoneinfo import ZoneInfo

from maintenance_env.schedule import UTC, Occurrence, Schedule, as_utc

__all__ = ["Period", "Phase", "Plan"]


class Phase(str, enum.Enum):
    """What an instant is, for maintenance that is switched on.

    ``OFF``: outside every window, and not yet announced; ``UPCOMING``: within
    ``ANNOUNCE`` seconds before a window; ``READ_ONLY``: inside a window, in its first
    ``READ_ONLY_FIRST`` seconds; ``ACTIVE``: inside a window, full maintenance.
    """

    OFF = "off"
    UPCOMING = "upcoming"
    READ_ONLY = "read-only"
    ACTIVE = "active"

    @property
    def inside(self) -> bool:
        """Whether maintenance is active in this phase (read-only or full)."""
        return self in (Phase.READ_ONLY, Phase.ACTIVE)


@dataclasses.dataclass(frozen=True)
class Period:
    """A stretch of time in one :class:`Phase`: from ``since`` (an instant inside the
    stretch, not necessarily its first, since it is where it was computed from) until
    ``until`` (the next edge, exclusive), both Unix times in seconds; ``until`` is
    ``math.inf`` when nothing changes any more.

    ``current`` is the window the instant is in (``None`` outside one); ``next`` the
    next window that starts after the instant (``None``: none known).
    """

    phase: Phase
    since: float
    until: float
    current: Occurrence | None
    next: Occurrence | None
    #: ``phase.inside``, kept as a plain attribute: the request path reads it.
    inside: bool = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inside", self.phase.inside)

    def covers(self, now: float) -> bool:
        """Whether ``now`` (Unix time, seconds) is inside [``since``, ``until``)."""
        return self.since <= now < self.until


def _clip(
    chain: Occurrence, starts_at: dt.datetime | None, ends_at: dt.datetime | None
) -> Occurrence | None:
    start = chain.starts_at
    if starts_at is not None and (start is None or start < starts_at):
        start = starts_at
    end = chain.ends_at
    if ends_at is not None and (end is None or end > ends_at):
        end = ends_at
    if start is not None and end is not None and start >= end:
        return None
    return Occurrence(start, end)


class Plan:
    """When maintenance, switched on, is active: inside a window of ``schedule`` (every
    instant when it is ``None``) and inside [``starts_at``, ``ends_at``) (a ``None`` bound
    is open), with the first ``read_only_first`` seconds of each window read-only and the
    ``announce`` seconds before each window upcoming.

    ``read_only_first`` counts from a window's start: the later of the recurring
    occurrence's start and ``STARTS_AT``. A window with no start (no schedule and no
    ``STARTS_AT``) has no read-only first part.

    :meth:`at` keeps its last answer, so asking per request costs a comparison. A plan is
    not changed after it is built (its cache fills by itself; a race computes twice).
    """

    __slots__ = (
        "announce",
        "ends_at",
        "last",
        "on_new_window",
        "read_only_first",
        "schedule",
        "starts_at",
    )

    def __init__(
        self,
        schedule: Schedule | None = None,
        *,
        starts_at: dt.datetime | None = None,
        ends_at: dt.datetime | None = None,
        read_only_first: int = 0,
        announce: int = 0,
        on_new_window: Callable[[], None] | None = None,
    ) -> None:
        if read_only_first < 0 or announce < 0:
            raise ValueError("read_only_first and announce are seconds >= 0")
        self.schedule = schedule
        self.starts_at = None if starts_at is None else as_utc(starts_at)
        self.ends_at = None if ends_at is None else as_utc(ends_at)
        self.read_only_first = read_only_first
        self.announce = announce
        #: Called by :meth:`at` when the window it finds is not the last one's (a policy
        #: drops what it built for the last window: its page, its JSON body).
        self.on_new_window = on_new_window
        #: The :class:`Period` :meth:`at` found last (``None`` before the first call):
        #: read-only for callers, which may test ``last.since <= now < last.until``
        #: themselves and save a call on the request path.
        self.last: Period | None = None

    @classmethod
    def build(
        cls,
        schedule: Schedule | None,
        zone: ZoneInfo,
        *,
        starts_at: dt.datetime | None,
        ends_at: dt.datetime | None,
        read_only_first: int,
        announce: int,
        on_new_window: Callable[[], None] | None = None,
    ) -> Plan | None:
        """The plan for these values, its schedule read in ``zone``; ``None`` when there is
        neither a schedule nor a one-off bound (maintenance, when on, is always active)."""
        if schedule is None and starts_at is None and ends_at is None:
            return None
        return cls(
            None if schedule is None else schedule.in_zone(zone),
            starts_at=starts_at,
            ends_at=ends_at,
            read_only_first=read_only_first,
            announce=announce,
            on_new_window=on_new_window,
        )

    def window_at(self, now: dt.datetime) -> Occurrence | None:
        """The window ``now`` (aware) is in, or ``None``."""
        now = as_utc(now)
        if (self.starts_at is not None and now < self.starts_at) or (
            self.ends_at is not None and now >= self.ends_at
        ):
            return None
        if self.schedule is None:
            return Occurrence(self.starts_at, self.ends_at)
        chain = self.schedule.window_at(now)
        return None if chain is None else _clip(chain, self.starts_at, self.ends_at)

    def next_window(self, now: dt.datetime) -> Occurrence | None:
        """The first window that starts after ``now`` (aware), or ``None``."""
        now = as_utc(now)
        if self.ends_at is not None and now >= self.ends_at:
            return None
        later = self.starts_at is not None and self.starts_at > now
        if self.schedule is None:
            return Occurrence(self.starts_at, self.ends_at) if later else None
        if later:
            assert self.starts_at is not None
            chain = self.schedule.window_at(self.starts_at)
            if chain is not None:
                return _clip(chain, self.starts_at, self.ends_at)
            now = self.starts_at
        chain = self.schedule.next_window(now)
        if chain is None:
            return None
        return _clip(chain, self.starts_at, self.ends_at)

    def phase(self, now: dt.datetime) -> Period:
        """The :class:`Period` ``now`` (aware) is in, computed afresh."""
        now = as_utc(now)
        ts = now.timestamp()
        current = self.window_at(now)
        upcoming = self.next_window(now)
        if current is not None:
            end = math.inf if current.ends_at is None else current.ends_at.timestamp()
            if self.read_only_first and current.starts_at is not None:
                read_only_until = current.starts_at.timestamp() + self.read_only_first
                if ts < read_only_until:
                    return Period(Phase.READ_ONLY, ts, min(read_only_until, end), current, upcoming)
            return Period(Phase.ACTIVE, ts, end, current, upcoming)
        if upcoming is None or upcoming.starts_at is None:
            return Period(Phase.OFF, ts, math.inf, None, None)
        start = upcoming.starts_at.timestamp()
        if ts >= start - self.announce:
            return Period(Phase.UPCOMING, ts, start, None, upcoming)
        return Period(Phase.OFF, ts, start - self.announce, None, upcoming)

    def at(self, now: float) -> Period:
        """The :class:`Period` at ``now`` (Unix time, seconds), reusing the last one while
        ``now`` is inside it: the next edge is computed once per period."""
        last = self.last
        if last is not None and last.since <= now < last.until:
            return last
        period = self.last = self.phase(dt.datetime.fromtimestamp(now, UTC))
        if self.on_new_window is not None and (last is None or last.current != period.current):
            self.on_new_window()
        return period

    def seconds_left(self, now: float) -> float | None:
        """Seconds from ``now`` (Unix time) until the current window ends; ``None``
        outside a window or when it has no end."""
        current = self.at(now).current
        if current is None or current.ends_at is None:
            return None
        return current.ends_at.timestamp() - now
