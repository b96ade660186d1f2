"""Planned maintenance: recurring windows, parsed and found in a time zone.

Pure time arithmetic, no Django request code: :class:`Schedule` parses
``MAINTENANCE_MODE_SCHEDULE`` and finds its occurrences in a time zone;
:class:`maintenance_env.plan.Plan` combines it with the one-off window and the phases.

The grammar (contract section 11), windows separated by commas, each ``DAYS HH:MM-HH:MM``:

- ``DAYS`` is ``daily``; a weekday ``mon`` … ``sun``; a range of weekdays ``mon-fri``,
  ``sat-sun`` (a range may wrap around the week: ``fri-mon`` is Friday to Monday); or a
  weekday of the month, ``1st-sun``, ``2nd-tue``, ``3rd-wed``, ``4th-thu``, ``last-fri``.
  Words are matched case-insensitively. ``DAYS`` names the day a window *starts* on.
- ``HH:MM`` is a 24-hour clock time with two digits each (``00:00`` … ``23:59``). An end
  at or before the start is on the next day (``fri 23:00-01:00``; ``daily 00:00-00:00``
  lasts 24 hours).

Clock times are wall-clock times in the schedule's zone (a :class:`zoneinfo.ZoneInfo`).
A window starts (or ends) at the first instant at which the zone's wall clock reads its
time or later:

- a time skipped by a daylight-saving change (02:30 on the night clocks go from 02:00 to
  03:00) is reached at the change itself, the first valid instant after it;
- a time that happens twice (02:30 on the night clocks go back from 03:00 to 02:00) is
  its first pass, ``fold=0``; the second pass is not a new start.

A window whose start and end are both skipped is empty that day. Occurrences that
overlap or touch (two rules, or ``daily 00:00-00:00``) are one window: its start is the
first one's, its end the last one's, followed at most :data:`CHAIN_DAYS` days either way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import math
import re
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

__all__ = [
    "CHAIN_DAYS",
    "UTC",
    "Occurrence",
    "Rule",
    "Schedule",
    "as_utc",
]

UTC = dt.timezone.utc

#: How many days a chain of touching occurrences is followed, either way, before its
#: start or end is taken as the last one found (a schedule that is always on).
CHAIN_DAYS = 7
#: How far ahead the next occurrence is looked for: every rule matches at least once a
#: month, but a window can be empty on its days (skipped by daylight saving) for a while.
HORIZON_DAYS = 400

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ORDINALS = {"1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "last": -1}

_WINDOW_RE = re.compile(r"(?P<days>\S+)\s+(?P<start>\d\d:\d\d)-(?P<end>\d\d:\d\d)\Z")
_TIME_RE = re.compile(r"(?P<h>[01]\d|2[0-3]):(?P<m>[0-5]\d)\Z")


@dataclasses.dataclass(frozen=True)
class Occurrence:
    """One window in time: [``starts_at``, ``ends_at``), aware UTC datetimes.

    ``None`` is an open bound: a one-off window without ``STARTS_AT`` (or ``ENDS_AT``).
    """

    starts_at: dt.datetime | None
    ends_at: dt.datetime | None

    def __contains__(self, moment: dt.datetime) -> bool:
        return (self.starts_at is None or self.starts_at <= moment) and (
            self.ends_at is None or moment < self.ends_at
        )


def _parse_time(text: str, window: str) -> dt.time:
    found = _TIME_RE.match(text)
    if found is None:
        raise ValueError(f"{window!r}: {text!r} is not a time from 00:00 to 23:59")
    return dt.time(int(found["h"]), int(found["m"]))


def _weekday(word: str, window: str) -> int:
    try:
        return WEEKDAYS.index(word)
    except ValueError:
        raise ValueError(f"{window!r}: {word!r} is not a weekday ({', '.join(WEEKDAYS)})") from None


@dataclasses.dataclass(frozen=True)
class Rule:
    """One recurring window of a schedule, as parsed from ``text``.

    ``weekdays`` holds the days (0 = Monday) it may start on; ``ordinal`` is ``None``
    for every such day, or which one of the month it is (1 to 4, or -1 for the last).
    ``start`` and ``end`` are wall-clock times; ``end <= start`` ends the next day.
    """

    text: str
    weekdays: frozenset[int]
    ordinal: int | None
    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, text: str) -> Rule:
        """One window, ``DAYS HH:MM-HH:MM``; raises ``ValueError`` naming the window."""
        window = " ".join(text.split())
        found = _WINDOW_RE.match(window.lower())
        if found is None:
            raise ValueError(
                f"{window!r} is not a window: expected DAYS HH:MM-HH:MM, such as "
                "'sun 01:00-02:00' or 'mon-fri 23:30-00:15'"
            )
        days = found["days"]
        ordinal: int | None = None
        if days == "daily":
            weekdays = frozenset(range(7))
        elif "-" in days:
            first, last = days.split("-", 1)
            if re.fullmatch(r"\d+(st|nd|rd|th)", first) and first not in ORDINALS:
                raise ValueError(f"{window!r}: {first!r}: a month has 1st to 4th and last")
            if first in ORDINALS:
                ordinal = ORDINALS[first]
                weekdays = frozenset({_weekday(last, window)})
            else:
                low, high = _weekday(first, window), _weekday(last, window)
                if low == high:
                    raise ValueError(f"{window!r}: a range of one day; write {first!r}")
                # A range may wrap around the week: fri-mon is fri, sat, sun, mon.
                weekdays = frozenset((low + n) % 7 for n in range((high - low) % 7 + 1))
        else:
            weekdays = frozenset({_weekday(days, window)})
        start = _parse_time(found["start"], window)
        end = _parse_time(found["end"], window)
        return cls(window, weekdays, ordinal, start, end)

    def matches(self, day: dt.date) -> bool:
        """Whether the window starts on the local date ``day``."""
        if day.weekday() not in self.weekdays:
            return False
        if self.ordinal is None:
            return True
        if self.ordinal == -1:
            return (day + dt.timedelta(days=7)).month != day.month
        return (day.day - 1) // 7 + 1 == self.ordinal

    def local_bounds(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """The naive wall-clock start and end of the window that starts on ``day``."""
        start = dt.datetime.combine(day, self.start)
        end_day = day + dt.timedelta(days=1) if self.end <= self.start else day
        return start, dt.datetime.combine(end_day, self.end)

    def __str__(self) -> str:
        return self.text


def first_instant(wall: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The first instant (aware UTC) at which ``zone``'s wall clock reads ``wall`` (a
    naive datetime) or later: ``fold=0`` for a time that happens twice, the change itself
    for a time that daylight saving skips."""
    early = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if early.astimezone(zone).replace(tzinfo=None) == wall:
        return early
    # Skipped: fold=1 reads the wall time with the offset after the change, an instant
    # before it; fold=0 with the offset before, an instant after it. The change is
    # between, at a whole second: the first second whose wall time is not before ``wall``.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low_s, high_s = math.floor(min(low, early).timestamp()), math.ceil(max(low, early).timestamp())
    for _ in range(64):  # bounded: a gap of days is 18 halvings
        if high_s - low_s <= 1:
            break
        middle = (low_s + high_s) // 2
        local = dt.datetime.fromtimestamp(middle, UTC).astimezone(zone).replace(tzinfo=None)
        if local >= wall:
            high_s = middle
        else:
            low_s = middle
    return dt.datetime.fromtimestamp(high_s, UTC)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC; raises :class:`ValueError` for a naive datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} is a naive datetime: give an aware one")
    return moment.astimezone(UTC)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Recurring windows (:class:`Rule`) in a time zone.

    Build one with :meth:`parse`; :meth:`in_zone` gives the same rules in another zone.
    Every instant given or returned is an aware datetime; returned ones are in UTC.
    """

    rules: tuple[Rule, ...]
    zone: ZoneInfo = dataclasses.field(default_factory=lambda: ZoneInfo("UTC"))

    @classmethod
    def parse(cls, text: str | Iterable[str], zone: ZoneInfo | str = "UTC") -> Schedule:
        """Windows separated by commas (or, from Django settings, a list of them); empty
        items are dropped. Raises ``ValueError`` naming the first bad window, or saying
        there is none; a bad zone name raises ``zoneinfo.ZoneInfoNotFoundError`` (a
        ``KeyError``) or ``ValueError``."""
        items = text.split(",") if isinstance(text, str) else list(text)
        rules = tuple(Rule.parse(item) for item in items if item.strip())
        if not rules:
            raise ValueError("no window: expected DAYS HH:MM-HH:MM, such as 'sun 01:00-02:00'")
        return cls(rules, zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone))

    def in_zone(self, zone: ZoneInfo) -> Schedule:
        """The same windows, their clock times read in ``zone``."""
        return dataclasses.replace(self, zone=zone)

    def __str__(self) -> str:
        return ", ".join(rule.text for rule in self.rules)

    # --- occurrences ------------------------------------------------------------------

    def _rule_occurrences(self, rule: Rule, first_day: dt.date) -> Iterator[Occurrence]:
        for n in range(HORIZON_DAYS + 2 * CHAIN_DAYS):
            day = first_day + dt.timedelta(days=n)
            if not rule.matches(day):
                continue
            wall_start, wall_end = rule.local_bounds(day)
            start, end = first_instant(wall_start, self.zone), first_instant(wall_end, self.zone)
            if start < end:  # both ends skipped by daylight saving: empty that day
                yield Occurrence(start, end)

    def _chains(self, since: dt.datetime) -> Iterator[Occurrence]:
        """Occurrences of every rule, merged where they overlap or touch, in order, from
        those around ``since`` on (a chain is followed for :data:`CHAIN_DAYS` at most)."""
        first_day = since.astimezone(self.zone).date() - dt.timedelta(days=CHAIN_DAYS + 1)
        merged = heapq.merge(
            *(self._rule_occurrences(rule, first_day) for rule in self.rules),
            key=lambda occurrence: occurrence.starts_at or since,
        )
        start: dt.datetime | None = None
        end: dt.datetime | None = None
        limit = dt.timedelta(days=CHAIN_DAYS)
        for occurrence in merged:
            assert occurrence.starts_at is not None
            assert occurrence.ends_at is not None
            if start is not None and end is not None:
                if occurrence.starts_at <= end and end - max(since, start) < limit:
                    end = max(end, occurrence.ends_at)
                    continue
                yield Occurrence(start, end)
            start, end = occurrence.starts_at, occurrence.ends_at
        if start is not None:
            yield Occurrence(start, end)

    def window_at(self, now: dt.datetime) -> Occurrence | None:
        """The window ``now`` (aware) is in, or ``None``."""
        now = as_utc(now)
        for chain in self._chains(now):
            assert chain.starts_at is not None
            assert chain.ends_at is not None
            if chain.ends_at <= now:
                continue
            return chain if chain.starts_at <= now else None
        return None

    def next_window(self, now: dt.datetime) -> Occurrence | None:
        """The first window that starts after ``now`` (aware), or ``None`` if none does
        within :data:`HORIZON_DAYS`."""
        now = as_utc(now)
        for chain in self._chains(now):
            assert chain.starts_at is not None
            if chain.starts_at > now:
                return chain
        return None
