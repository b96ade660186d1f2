"""The shared store: a Django cache that every process of a fleet reads, off the request path.

``MAINTENANCE_MODE_CACHE`` names the cache: an alias of ``CACHES``, or a cache URL in
django-environ's ``cache_url`` form (``redis://``, ``rediss://``, ``pymemcache://`` …) from
which a private cache instance is built. One key per variable, ``maintenance_env:<NAME>``,
through the cache's own key function (so ``KEY_PREFIX`` and ``VERSION`` apply), holding the
value's text, written with no expiry.

A per-process refresher thread reads every key in one ``get_many`` once per reload interval
and publishes what it read; the request path only picks up the published snapshot, so no
request ever waits on the network and an event loop is never blocked. The thread is started
on the first poll from a request in each process (so a prefork server's workers each start
their own after the fork, and a master that preloads the app starts none). While the store
fails, the last values read from it stay in force and the thread retries with a backoff
that never waits longer than the interval; before the first successful read the store
counts as absent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.core.cache.backends.base import BaseCache

from maintenance_env import fleet
from maintenance_env.cache_build import build_cache
from maintenance_env.cache_url import (
    StoreError,
    describe_error,
)
from maintenance_env.sources.base import Snapshot
from maintenance_env.sources.refresher import Refresher
from maintenance_env.sources.store_client import READ_DEADLINE, StoreClient
from maintenance_env.sources.store_fleet import FleetReporting, Serving
from maintenance_env.variables import Origin

__all__ = ["LOST", "SharedStore"]

logger = logging.getLogger("maintenance_env")

#: The shortest pause between two reads (seconds), whatever the reload interval: with an
#: interval of 0 the store is read continuously, but never in a busy loop.
MIN_PAUSE = 0.05
#: While the store fails, the pause between attempts doubles from the interval up to this
#: many seconds, or the interval if that is longer: a dead store gets at most one attempt a
#: second from each process, and a store that comes back is read within that time.
MAX_RETRY_PAUSE = 1.0


#: The error of a store that lost every key of the package after a read that found some.
LOST = (
    "lost every key of the package (a cache.clear(), an eviction or a cull?); keeping "
    "the values last read from it until maintenance_mode writes it again"
)


class SharedStore(StoreClient):
    """The shared store as a live source, read by a :class:`Refresher` thread of this process.

    :meth:`poll` never touches the network: it returns what the refresher last published,
    once per change, and starts the refresher the first time it is called in a process.
    ``names`` are the variables to read (the live ones); ``interval`` is the reload interval
    in seconds. ``background=False`` never starts the refresher: only :meth:`read_now`
    reads (a management command, a system check). ``on_change`` is called from the
    refresher after it published something new (the runtime uses it to poll at once).
    Every call to the cache has a deadline of the package's own (:class:`Deadline`).
    """

    origin = Origin.CACHE

    def __init__(
        self,
        setting: str,
        names: Iterable[str],
        interval: float,
        *,
        caches: Mapping[str, Any] | None = None,
        background: bool = True,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.background = background
        self.on_change = on_change
        self.interval = interval
        self._refresher = Refresher(self._refresh, self._pause, name="maintenance_env store reader")
        super().__init__(setting, names, caches=caches)
        #: Set by a serving process's runtime: what it serves now, for its fleet report
        #: (contract section 10), asked by the refresher after each good read. ``None``:
        #: no report (a command, a check, a process that does not serve).
        self.reporting: Callable[[], Serving] | None = None
        self._forget()

    def _forget(self) -> None:
        """As if this process had never read the store."""
        self._publishing = threading.Lock()
        # (generation, snapshot), replaced whole so that readers never see a mix.
        self._published: tuple[int, Snapshot] = (0, Snapshot({}, "not read yet", "pending"))
        self._seen = -1
        self._cache: BaseCache | None = None
        self._forget_reads()
        #: ``time.time()`` of the last successful read, and of the first failure since.
        self.last_read: float | None = None
        #: This process's fleet reports, made by the refresher after good reads.
        self.fleet = FleetReporting(
            self.label,
            self.secrets,
            self.interval,
            lambda function, what: self._call(function, READ_DEADLINE, what),
        )
        self.failing_since: float | None = None

    def after_fork(self) -> None:
        """In a child right after a fork: new locks, no thread, none of the parent's
        connections, and none of its values (no I/O)."""
        self._refresher.after_fork()
        self._deadline.after_fork()
        self._forget()

    # --- the request side ---------------------------------------------------------------

    def poll(self) -> Snapshot | None:
        """The snapshot last published by the refresher if it is new, else ``None``.

        Never waits on the network; the first call in a process starts its refresher.
        """
        if self.background:
            self._refresher.ensure_running()
        return self.peek()

    def peek(self) -> Snapshot | None:
        """Like :meth:`poll`, without starting the refresher (a runtime being built, maybe
        in a server's master process before it forks)."""
        generation, snapshot = self._published
        if generation == self._seen:
            return None
        self._seen = generation
        return snapshot

    def consumed(self) -> bool:
        """Whether the last publication has been taken by :meth:`poll` or :meth:`peek`."""
        return self._published[0] == self._seen

    @property
    def snapshot(self) -> Snapshot:
        """What was last published (values in force and the current error)."""
        return self._published[1]

    @property
    def reachable(self) -> bool | None:
        """Whether the last read succeeded; ``None`` before the first attempt."""
        snapshot = self.snapshot
        if snapshot.kind == "pending":
            return None
        return snapshot.error is None

    def stop(self) -> None:
        """Stop this process's refresher (tests; a new runtime replaces this one)."""
        self._refresher.stop()

    # --- reading --------------------------------------------------------------------------

    def _publish(self, values: Mapping[str, Any], error: str | None) -> bool:
        with self._publishing:
            generation, current = self._published
            if (
                current.kind != "pending"
                and dict(current.values) == dict(values)
                and current.error == error
            ):
                return False
            self._published = (generation + 1, Snapshot(dict(values), error, "cache"))
            return True

    def _pause(self, failures: int) -> float:
        """Seconds until the next read: the interval (at least :data:`MIN_PAUSE`); while
        the store fails, doubling from that up to :data:`MAX_RETRY_PAUSE` or the interval,
        whichever is longer, so that a dead store is not hammered and a store that is back
        is read again within that time."""
        pause = max(self.interval, MIN_PAUSE)
        if failures:
            ceiling = max(self.interval, MAX_RETRY_PAUSE)
            pause = min(pause * 2 ** min(failures - 1, 32), ceiling)
        return pause

    def _read(self, *, timeout: float | None = None, keep: bool = True) -> str | None:
        """One read, published; returns the error, if any. ``keep=False`` closes the
        cache's connections after the read (nothing left for a fork or another thread)."""
        error: str | None = None
        seconds = READ_DEADLINE if timeout is None else timeout

        reporting = keep and self.reporting is not None
        extra = fleet.reporter().keys_to_read() if reporting else ()

        def read() -> dict[str, object]:
            cache = self._cache if keep else None
            if cache is None:
                cache = build_cache(self.setting, self._caches, timeout=timeout)
            try:
                return self.read_once(cache, extra)
            finally:
                if keep:
                    self._cache = cache
                else:
                    cache.close()

        try:
            values = self._call(read, seconds, "(reading)")
        except Exception as exc:
            self._cache = None  # a new client next time: this one may be broken
            if self.failing_since is None:
                self.failing_since = time.time()
            reason = str(exc) if isinstance(exc, StoreError) else describe_error(exc, self.secrets)
            error = f"cannot be read: {reason}"
            # Before the first good read the store counts as absent; after it, the last
            # values read stay in force.
            changed = self._publish(self.snapshot.values, error)
        else:
            self.last_read = time.time()
            if self.lost:
                error = LOST
                if self.failing_since is None:
                    self.failing_since = self.last_read
                changed = self._publish(self.snapshot.values, error)
            else:
                self.failing_since = None
                changed = self._publish(values, None)
        if changed and self.on_change is not None:
            self.on_change()
        return error

    def _refresh(self) -> bool:
        if self._read() is not None:
            # The read's own line covers the outage: a report that failed just before it
            # is not logged as well.
            self.fleet.report_error = None
            return False
        if self.reporting is not None and self._cache is not None:
            self.fleet.report(
                self._cache,
                self.reporting(),
                changed_at=self.changed_at,
                changed_by=self.changed_by,
                reason=self.reason,
                found=self._fleet_found,
            )
        return True

    @property
    def report_error(self) -> str | None:
        """Why this process's last fleet report failed (``None``: it worked), for
        ``status``."""
        return self.fleet.report_error

    def read_now(self, *, timeout: float | None = None) -> str | None:
        """Read the store once now, in this thread, and publish the result for the next
        :meth:`poll`, waiting at most ``timeout`` seconds (else :data:`READ_DEADLINE`).
        The connections of this read are closed after it. Returns the error, or ``None``."""
        return self._read(timeout=timeout, keep=False)
