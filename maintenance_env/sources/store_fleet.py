"""The store's side of the fleet (contract section 10): after each good read, the reader
thread reports what this process serves and races for the claim of each change it saw.

:class:`FleetReporting` keeps the per-process state of that: the change seen last, the
events awaiting their claim, the last report error. It runs only in the refresher, so it
needs no lock of its own; a forked child starts a new one.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.core.cache.backends.base import BaseCache

from maintenance_env import fleet, history, reports
from maintenance_env.cache_url import StoreError, describe_error
from maintenance_env.claims import send_fleet_changed

__all__ = ["FleetReporting", "Serving"]

logger = logging.getLogger("maintenance_env")


@dataclasses.dataclass(frozen=True)
class Serving:
    """What a serving process reports (see :attr:`SharedStore.reporting`).

    ``state`` is what it serves now (``on``, ``read-only``, ``off``); ``applied`` the
    store's ``changed_at`` it has applied; ``active`` whether maintenance is active;
    ``edge``, when a window's opening, phase change or closing (the schedule, with nobody
    writing) gave this state since the last report, that edge's instant (ISO 8601 UTC
    text), the same in every process, so that the fleet sends one ``fleet_changed`` for it.
    """

    state: str
    applied: str | None
    active: bool
    edge: str | None = None


class FleetReporting:
    """One process's reports to the store named ``label`` (errors scrubbed of
    ``secrets``), made through ``call(function, what)``: the store's own deadline, raising
    :class:`StoreError`."""

    def __init__(
        self,
        label: str,
        secrets: Sequence[str],
        interval: float,
        call: Callable[[Callable[[], None], str], None],
    ) -> None:
        self.label = label
        self.secrets = secrets
        self.interval = interval
        self._call = call
        #: The change this process saw last (``changed_at``; ``None`` before the first
        #: read: what the first read finds is where the process starts, not a change), and
        #: what it served before it, by change awaiting its claim (instant -> event).
        self._seen_change: str | None = None
        self._events: dict[str, tuple[history.Change, bool | None]] = {}
        self._served: bool | None = None
        #: The last error of a report (shown by ``status``), and the last one logged: a
        #: report that fails while the reads work is logged once per change of error.
        self.report_error: str | None = None
        self._report_logged: str | None = None
        #: The process that registered :meth:`leave` (a forked child registers its own).
        self._leaving: int | None = None
        self._cache: BaseCache | None = None

    def report(
        self,
        cache: BaseCache,
        serving_now: Serving,
        *,
        changed_at: str | None,
        changed_by: str | None,
        reason: str | None,
        found: Mapping[str, Any],
    ) -> None:
        """After a good read, in the refresher: report what this process serves (one
        ``set``; the slot and the open claims rode on the read's ``get_many``), and race
        for the claim of each change it saw, sending ``fleet_changed`` if it wins. Its
        failures are logged once per change of error and never count against the read."""
        if self.report_error is not None and self.report_error != self._report_logged:
            # It failed while the reads around it worked: a fault of its own.
            logger.warning(
                "maintenance_env: reporting to %s failed: %s", self.label, self.report_error
            )
            self._report_logged = self.report_error
        now_serving = serving_now
        self._cache = cache
        serving, applied, active = now_serving.state, now_serving.applied, now_serving.active
        reporter = fleet.reporter()
        mine = reporter.claims
        if self._leaving != os.getpid():
            self._leaving = os.getpid()
            atexit.register(self.leave)
        claims: list[str] = []
        if changed_at is not None and changed_at != self._seen_change:
            if self._seen_change is not None or self._served is not None:
                change = history.Change(changed_at, changed_by, reason, serving, source="store")
                self._events[changed_at] = (change, self._served)
                claims.append(changed_at)
            self._seen_change = changed_at
        elif now_serving.edge is not None and self._served is not None:
            # A window's edge: one claim per edge and state served, in the whole fleet.
            instant = f"{now_serving.edge}/{serving}"
            change = history.Change(now_serving.edge, None, None, serving, source="schedule")
            self._events[instant] = (change, self._served)
            claims.append(instant)
        self._served = active
        won: list[tuple[str, history.Change, bool | None]] = []

        def send() -> None:
            now = time.time()
            reporter.report(cache, reports.State(serving, applied, self.interval), now, found=found)
            for instant in list(self._events):
                if instant not in mine.open_claims and instant not in claims:
                    self._events.pop(instant, None)  # lost, and settled by another process
                elif mine.claim(cache, instant, now, interval=self.interval, found=found):
                    won.append((instant, *self._events.pop(instant)))
                elif instant not in mine.open_claims:
                    self._events.pop(instant, None)

        try:
            self._call(send, "(reporting)")
            # The receivers run here, in the refresher, outside any deadline of a call.
            for instant, change, previous in won:
                read_only = serving == "read-only"
                send_fleet_changed(active, previous, change, read_only=read_only)
                done = functools.partial(mine.done, cache, instant)
                self._call(done, "(reporting)")
        except Exception as exc:
            # Logged after the next good read (above), unless that read fails too.
            self.report_error = (
                str(exc) if isinstance(exc, StoreError) else describe_error(exc, self.secrets)
            )
        else:
            if self._report_logged is not None:
                logger.info("maintenance_env: reporting to %s works again", self.label)
            self.report_error = self._report_logged = None

    def leave(self) -> None:
        """At a clean exit (``atexit``): give up this process's slot at once, so that a
        stopped server is not waited for until its report expires. In the exiting thread,
        bounded by the client's own socket timeouts (the store sets them; no new thread can
        start at interpreter shutdown); a failure leaves the report to expire by itself."""
        cache = self._cache
        if cache is None or self._leaving != os.getpid():
            return
        try:
            fleet.reporter().leave(cache)
        except Exception as exc:
            logger.info(
                "maintenance_env: leaving the fleet at exit failed (%s); the report expires "
                "by itself",
                describe_error(exc, self.secrets),
            )
