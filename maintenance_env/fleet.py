"""Process reports through the shared store: each serving process's slot, and reading
every live report (contract section 10).

Everything here uses only Django's cache API (``get``, ``get_many``, ``set``, ``add``,
``delete`` and timeouts), so it works alike on Redis, Memcached and the database cache:
there is no key listing in that API, so nothing here lists or scans keys.

**Process reports.** Each serving process claims the lowest free *slot*,
``maintenance_env:process:<n>``, with ``add`` (atomic on every backend: two processes never
hold one slot) and a timeout of :func:`report_ttl` (3 intervals, at least 30 s). It renews
the slot with one ``set`` per interval, and checks that the slot is still its own in the
``get_many`` the store already does each interval (:meth:`Reporter.keys_to_read`): a process
that was paused past its timeout, and whose slot another process took, claims a new one. A
reader (:func:`live_reports`) fetches slots in chunks of :data:`CHUNK` with ``get_many`` up
to the high-water mark ``maintenance_env:process:high`` (the highest slot ever claimed plus
one, raised by a claimer, never lowered within its timeout), and on past it until a chunk
is empty. A process that died stops renewing, and its report expires by itself.

The history (who and why) is :mod:`maintenance_env.history`; the once-per-fleet claim,
:mod:`maintenance_env.claims`.

Where it is wired in: the store's reader thread
(:meth:`maintenance_env.sources.store_fleet.FleetReporting.report`, after each good read) reports
this process's state from :meth:`maintenance_env.live.Runtime.serving`, with the slot, the
high-water mark and the open claims read in the ``get_many`` it does anyway, and claims
each change it sees (a write's ``changed_at``, or a window's edge), sending
``fleet_changed`` outside any call's deadline when it wins; the writer
(:func:`maintenance_env.writes.write`) records the change
(:func:`maintenance_env.history.record_change`), or, without a store, sends
``fleet_changed`` itself; the app's ``ready`` connects the webhook
(:func:`maintenance_env.webhook.connect`).

In steady state (a slot held, no open claim) that is one extra call per interval, the
``set``; the slot, the high-water mark and open claims ride on the existing ``get_many``.
Reporting failures are the store's failures: the caller handles them as a failing read
(section 8), and nothing here is ever called from a request.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

from django.core.cache.backends.base import BaseCache

from maintenance_env.claims import Claims
from maintenance_env.printing import printable
from maintenance_env.reports import PREFIX, Report, State, report_ttl

__all__ = [
    "CHUNK",
    "PROCESS_PREFIX",
    "FleetError",
    "Reporter",
    "live_reports",
    "report",
    "reporter",
]

logger = logging.getLogger("maintenance_env")

#: A process's slot is this prefix and a number from 0.
PROCESS_PREFIX = PREFIX + "process:"
#: The highest slot ever claimed plus one (an int), renewed with the reports' timeout.
HIGH_WATER_KEY = PROCESS_PREFIX + "high"
#: Slots read per ``get_many`` by :func:`live_reports`.
CHUNK = 100
#: The most slots a fleet may hold: readers and claimers never look past it, whatever the
#: store's high-water mark says.
MAX_SLOTS = 100_000


class FleetError(Exception):
    """A fleet operation cannot be done (no store, a bad argument); the message says why."""


# --- reports --------------------------------------------------------------------------------


def slot_key(slot: int) -> str:
    """The cache key of slot ``slot``."""
    return f"{PROCESS_PREFIX}{slot}"


def _high(found: Mapping[str, Any]) -> int:
    value = found.get(HIGH_WATER_KEY)
    return value if isinstance(value, int) and value >= 0 else 0


def live_reports(cache: BaseCache, *, now: float | None = None) -> list[Report]:
    """Every live process's report, by slot, read with ``get_many`` in chunks of
    :data:`CHUNK` slots: up to the high-water mark, then on until a chunk is empty.

    A process that re-claimed a slot may briefly show in two; only its newest report is
    kept. Reports past their own expiry (``now``, POSIX seconds, default the clock) are
    left out even where a backend has not dropped them yet. Cache errors propagate.
    """
    now = time.time() if now is None else now
    newest: dict[str, Report] = {}
    start, high = 0, None
    for _chunk in range(MAX_SLOTS // CHUNK):
        keys = [slot_key(n) for n in range(start, start + CHUNK)]
        found = cache.get_many(keys + ([HIGH_WATER_KEY] if high is None else []))
        if high is None:
            high = _high(found)
        any_found = False
        for n in range(start, start + CHUNK):
            report_ = Report.decode(found.get(slot_key(n)), n)
            if report_ is None:
                continue
            any_found = True
            if report_.expires_at < now:
                continue
            known = newest.get(report_.token)
            if known is None or known.reported_at < report_.reported_at:
                newest[report_.token] = report_
        start += CHUNK
        if not any_found and start >= high:
            break
    return sorted(newest.values(), key=lambda r: r.slot)


class Reporter:
    """This process's slot and open claims. Use :func:`reporter` for the process's own."""

    def __init__(self, host: str | None = None, pid: int | None = None) -> None:
        self.host = host or socket.gethostname()
        self.pid = os.getpid() if pid is None else pid
        self.token = secrets.token_hex(6)
        #: The slot held, or ``None`` before the first claim.
        self.slot: int | None = None
        #: The once-per-fleet claims of this process (:mod:`maintenance_env.claims`).
        self.claims = Claims(f"{self.host}:{self.pid}", self.token)
        self._lock = threading.Lock()

    # -- the slot ------------------------------------------------------------------------

    def keys_to_read(self) -> list[str]:
        """Keys to add to the store's periodic ``get_many``: this process's slot, the
        high-water mark, and the done marker and current attempt of each open claim."""
        keys = [HIGH_WATER_KEY]
        if self.slot is not None:
            keys.append(slot_key(self.slot))
        return keys + self.claims.keys_to_read()

    def _value(self, state: State, now: float) -> tuple[str, float]:
        ttl = report_ttl(state.interval)
        value = Report(
            self.host, self.pid, state.serving, state.changed_at, now, now + ttl, -1, self.token
        ).encode()
        return value, ttl

    def report(
        self,
        cache: BaseCache,
        state: State,
        now: float,
        *,
        found: Mapping[str, Any] | None = None,
    ) -> None:
        """Report ``state`` at ``now`` (POSIX seconds). ``found`` is what the store's
        ``get_many`` returned for :meth:`keys_to_read` this interval: with it, a held slot
        costs one ``set``; without it, a ``get_many`` more. Cache errors propagate."""
        with self._lock:
            if found is None:
                found = cache.get_many(self.keys_to_read())
            value, ttl = self._value(state, now)
            if self.slot is not None:
                held = Report.decode(found.get(slot_key(self.slot)), self.slot)
                if held is not None and held.token == self.token:
                    cache.set(slot_key(self.slot), value, timeout=ttl)
                    self._raise_high(cache, found, self.slot, ttl)
                    return
                if held is None and cache.add(slot_key(self.slot), value, timeout=ttl):
                    self._raise_high(cache, found, self.slot, ttl)
                    return
                logger.info(
                    "maintenance_env: slot %s of %s is taken by another process; "
                    "claiming a new one",
                    self.slot,
                    printable(f"{self.host}:{self.pid}"),
                )
                self.slot = None
            self.slot = self._claim_slot(cache, value, ttl, _high(found))
            self._raise_high(cache, found, self.slot, ttl, force=True)

    def _claim_slot(self, cache: BaseCache, value: str, ttl: float, high: int) -> int:
        """The lowest free slot, taken with ``add``: free slots below the high-water mark
        are found with ``get_many`` in chunks, then tried in order."""
        start = 0
        for _chunk in range(MAX_SLOTS // CHUNK):
            keys = [slot_key(n) for n in range(start, start + CHUNK)]
            found = cache.get_many(keys)
            for n in range(start, start + CHUNK):
                if slot_key(n) not in found and cache.add(slot_key(n), value, timeout=ttl):
                    return n
            start += CHUNK
        raise FleetError(f"no free process slot in the store below {MAX_SLOTS:,}")

    def _raise_high(
        self,
        cache: BaseCache,
        found: Mapping[str, Any],
        slot: int,
        ttl: float,
        *,
        force: bool = False,
    ) -> None:
        """Raise the high-water mark to ``slot + 1`` when it is lower (or unset); the
        holder of the highest slot renews it only when it is about to be missing."""
        high = found.get(HIGH_WATER_KEY)
        if force or not isinstance(high, int) or high < slot + 1:
            current = _high(found)
            cache.set(HIGH_WATER_KEY, max(current, slot + 1), timeout=max(ttl * 10, 3600))

    def leave(self, cache: BaseCache) -> None:
        """Give up the slot at once (a clean shutdown); errors propagate."""
        with self._lock:
            if self.slot is not None:
                cache.delete(slot_key(self.slot))
                self.slot = None


_reporter: Reporter | None = None
_reporter_lock = threading.Lock()


def reporter() -> Reporter:
    """This process's :class:`Reporter`; a forked child gets a new one (never its
    parent's slot)."""
    global _reporter
    with _reporter_lock:
        if _reporter is None or _reporter.pid != os.getpid():
            _reporter = Reporter()
        return _reporter


def after_fork() -> None:
    """In a forked child (called by the package's one at-fork hook, in
    :mod:`maintenance_env.runtime`): no reporter (never the parent's slot), a new lock."""
    global _reporter, _reporter_lock
    _reporter = None
    _reporter_lock = threading.Lock()


def report(cache: BaseCache, state: State, now: float) -> None:
    """Report this process's ``state`` at ``now`` (POSIX seconds) with its own
    :class:`Reporter`: one ``set`` once the slot is held plus a ``get_many`` to check it
    (the refresher saves that one by passing its own read to :meth:`Reporter.report`)."""
    reporter().report(cache, state, now)
