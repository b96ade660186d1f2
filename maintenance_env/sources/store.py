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

import atexit
import dataclasses
import datetime as dt
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django.core.cache.backends.base import BaseCache

from maintenance_env import fleet, history, reports
from maintenance_env.cache_url import (
    BY_KEY,
    CHANGED_KEY,
    KEY_PREFIX,
    LOCAL_BACKENDS,
    PYMEMCACHE_BACKEND,
    REASON_KEY,
    REDIS_BACKEND,
    SOCKET_TIMEOUT,
    StoreError,
    backend_path,
    build_cache,
    cache_params,
    describe_error,
    describe_setting,
    key,
    mask,
)
from maintenance_env.cache_url import setting_secrets as _setting_secrets
from maintenance_env.claims import send_fleet_changed
from maintenance_env.sources.base import Snapshot
from maintenance_env.sources.deadline import Deadline, DeadlineExceeded
from maintenance_env.sources.refresher import Refresher
from maintenance_env.variables import Origin

__all__ = [
    "KEY_PREFIX",
    "LOCAL_BACKENDS",
    "PYMEMCACHE_BACKEND",
    "REDIS_BACKEND",
    "SOCKET_TIMEOUT",
    "SharedStore",
    "StoreError",
    "backend_path",
    "build_cache",
    "cache_params",
    "describe_error",
    "key",
    "mask",
]

logger = logging.getLogger("maintenance_env")

T = TypeVar("T")

#: The shortest pause between two reads (seconds), whatever the reload interval: with an
#: interval of 0 the store is read continuously, but never in a busy loop.
MIN_PAUSE = 0.05
#: While the store fails, the pause between attempts doubles from the interval up to this
#: many seconds, or the interval if that is longer: a dead store gets at most one attempt a
#: second from each process, and a store that comes back is read within that time.
MAX_RETRY_PAUSE = 1.0

#: The largest value the store's reader takes, in bytes of UTF-8 (64 KiB, as the mounted
#: config's files): a larger one is a bad value shown in one short line.
MAX_VALUE_BYTES = 64 * 1024


class Foreign:
    """A value of the store that is not text (a ``Decimal``, a ``dict``, an oversized
    text): refused by the parsers as any bad value, naming the variable. Comparable and
    hashable, so that it never breaks the comparison of two reads (``Decimal('sNaN')``
    raises on ``==``) and later changes are still seen."""

    __slots__ = ("shown",)

    def __init__(self, shown: str) -> None:
        self.shown = shown

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Foreign) and other.shown == self.shown

    def __hash__(self) -> int:
        return hash(self.shown)

    def __repr__(self) -> str:
        return self.shown


def _text(value: object) -> object:
    """A value as read from the store: text, undecodable bytes (refused as "not text"),
    ``True``/``False``/an ``int`` as a setting would give, or a :class:`Foreign`."""
    if isinstance(value, bytes):
        if len(value) > MAX_VALUE_BYTES:
            return Foreign(f"<{len(value)} bytes: over the {MAX_VALUE_BYTES}-byte bound>")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value  # refused by the parsers as "not text", naming the variable
    if isinstance(value, str):
        if len(value) > MAX_VALUE_BYTES // 4 and len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            return Foreign(f"<{len(value)} characters: over the {MAX_VALUE_BYTES}-byte bound>")
        return value
    if isinstance(value, bool) or (isinstance(value, int) and abs(value) < 2**63):
        return value
    try:
        shown = repr(value)
    except Exception:
        # Not object.__repr__: its address changes with every read (a value unpickled
        # afresh), and one bad value must be one line, not one per read.
        shown = "(cannot be shown)"
    if len(shown) > 80:
        shown = shown[:80] + "…"
    return Foreign(f"<a {type(value).__name__} in the store, not text: {shown}>")


def _changed_text(value: object) -> str | None:
    """The store's ``changed_at`` record when it is short text, else ``None``."""
    return value if isinstance(value, str) and len(value) <= 64 else None


def _note_text(value: object) -> str | None:
    """The store's ``changed_by``/``reason`` record when it is text, else ``None``
    (printed through :func:`maintenance_env.printing.printable` wherever it is shown)."""
    return value[: history.MAX_TEXT] if isinstance(value, str) and value else None


def changed_now() -> str:
    """``changed_at`` for a write now: ISO 8601 UTC text in microseconds (so two writes in
    one second are two changes; texts of this one form compare in time order)."""
    now = dt.datetime.now(dt.timezone.utc)
    return now.isoformat(timespec="microseconds").replace("+00:00", "Z")


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


#: Seconds the package waits for a read of the store before it counts as failed: the
#: first read before a process answers, the system check's, and the refresher's.
READ_DEADLINE = 1.0
#: Seconds ``maintenance_mode … --write`` waits for the store to take the values.
WRITE_DEADLINE = 5.0

#: The error of a store that lost every key of the package after a read that found some.
LOST = (
    "lost every key of the package (a cache.clear(), an eviction or a cull?); keeping "
    "the values last read from it until maintenance_mode writes it again"
)


class SharedStore:
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
        self.setting = setting
        self.background = background
        self.on_change = on_change
        #: How logs and ``status`` name the store, credentials masked.
        self.where = describe_setting(setting, caches)
        self.label = f"the shared store {self.where}"
        #: What error texts are scrubbed of (a client may quote part of a URL).
        self.secrets = _setting_secrets(setting, caches)
        self.interval = interval
        self._names = tuple(names)
        self._caches = caches
        self._refresher = Refresher(self._refresh, self._pause, name="maintenance_env store reader")
        self._deadline = Deadline("maintenance_env store call")
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
        #: Whether a read in this process found any key of the package (for a lost store).
        self._found_keys = False
        #: ``time.time()`` of the last successful read, and of the first failure since.
        self.last_read: float | None = None
        #: When ``maintenance_mode`` last wrote the store, as last read (ISO 8601 text),
        #: and who and why, as that write recorded them.
        self.changed_at: str | None = None
        self.changed_by: str | None = None
        self.reason: str | None = None
        #: What the last read found of the fleet's keys (:meth:`fleet.Reporter.keys_to_read`).
        self._fleet_found: dict[str, Any] = {}
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
        #: The ``changed_at`` of this process's last write (``maintenance_mode --write``).
        self.written_at: str | None = None
        #: The process that registered :meth:`_leave` (a forked child registers its own).
        self._leaving: int | None = None
        self.failing_since: float | None = None
        #: Whether the store lost every key after a read that found some (until written).
        self.lost = False

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

    def read_once(self, cache: BaseCache, extra: Iterable[str] = ()) -> dict[str, object]:
        """Every variable present in the store, read in one ``get_many`` (may raise), with
        :data:`CHANGED_KEY`, :data:`BY_KEY` and :data:`REASON_KEY` (kept as
        :attr:`changed_at`, :attr:`changed_by` and :attr:`reason`, not as values) and the
        ``extra`` keys of the fleet report (kept for it). Sets :attr:`lost` when none of
        the keys is there after a read that found some."""
        extra = list(extra)
        names = [key(name) for name in self._names]
        found = cache.get_many([*names, CHANGED_KEY, BY_KEY, REASON_KEY, *extra])
        self._fleet_found = {k: found.pop(k) for k in extra if k in found}
        if found:
            self._found_keys, self.lost = True, False
        elif self._found_keys and not self.lost:
            self.lost = True
        changed = found.get(CHANGED_KEY)
        self.changed_at = _changed_text(changed)
        self.changed_by = _note_text(found.get(BY_KEY))
        self.reason = _note_text(found.get(REASON_KEY))
        values: dict[str, object] = {}
        for name in self._names:
            value = found.get(key(name))
            if value is not None:
                values[name] = _text(value)
        return values

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

    def _call(self, function: Callable[[], T], seconds: float, what: str) -> T:
        """``function()`` under the package's own deadline, as a :class:`StoreError`."""
        try:
            return self._deadline.call(function, seconds, f"the store {what}")
        except DeadlineExceeded as exc:
            raise StoreError(str(exc)) from None

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
            self.report_error = None
            return False
        if self.reporting is not None and self._cache is not None:
            self._report(self._cache, self.reporting)
        return True

    # --- the fleet report and once-per-fleet events (contract section 10) ----------------

    def _report(self, cache: BaseCache, reporting: Callable[[], Serving]) -> None:
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
        now_serving = reporting()
        serving, applied, active = now_serving.state, now_serving.applied, now_serving.active
        reporter = fleet.reporter()
        if self._leaving != os.getpid():
            self._leaving = os.getpid()
            atexit.register(self._leave)
        found = self._fleet_found
        changed_at = self.changed_at
        claims: list[str] = []
        if changed_at is not None and changed_at != self._seen_change:
            if self._seen_change is not None or self._served is not None:
                change = history.Change(
                    changed_at, self.changed_by, self.reason, serving, source="store"
                )
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
                if instant not in reporter.open_claims and instant not in claims:
                    self._events.pop(instant, None)  # lost, and settled by another process
                elif reporter.claim(cache, instant, now, interval=self.interval, found=found):
                    won.append((instant, *self._events.pop(instant)))
                elif instant not in reporter.open_claims:
                    self._events.pop(instant, None)

        try:
            self._call(send, READ_DEADLINE, "(reporting)")
            # The receivers run here, in the refresher, outside any deadline of a call.
            for instant, change, previous in won:
                read_only = serving == "read-only"
                send_fleet_changed(active, previous, change, read_only=read_only)
                done = functools.partial(reporter.done, cache, instant)
                self._call(done, READ_DEADLINE, "(reporting)")
        except Exception as exc:
            # Logged after the next good read (above), unless that read fails too.
            self.report_error = (
                str(exc) if isinstance(exc, StoreError) else describe_error(exc, self.secrets)
            )
        else:
            if self._report_logged is not None:
                logger.info("maintenance_env: reporting to %s works again", self.label)
            self.report_error = self._report_logged = None

    def _leave(self) -> None:
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

    def read_now(self, *, timeout: float | None = None) -> str | None:
        """Read the store once now, in this thread, and publish the result for the next
        :meth:`poll`, waiting at most ``timeout`` seconds (else :data:`READ_DEADLINE`).
        The connections of this read are closed after it. Returns the error, or ``None``."""
        return self._read(timeout=timeout, keep=False)

    # --- writing (``maintenance_mode on|off --write``) -----------------------------------

    def record(self, change: history.Change) -> None:
        """Prepend ``change`` to the fleet's history (the last 50 changes, for
        ``maintenance_mode history``), under the package's deadline. Raises
        :class:`StoreError` when the store does not take it."""

        def send() -> None:
            cache = build_cache(self.setting, self._caches)
            try:
                history.record_change(cache, change)
            finally:
                cache.close()

        try:
            self._deadline.call(send, WRITE_DEADLINE, "the store (recording the change)")
        except DeadlineExceeded as exc:
            raise StoreError(str(exc)) from None
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                f"{self.label} failed while recording ({describe_error(exc, self.secrets)})"
            ) from None

    def history(self) -> list[history.Change]:
        """The fleet's last changes, newest first, read under the package's deadline.
        Raises :class:`StoreError` when the store cannot be read."""
        return self._with_cache(history.history, "(reading the history)")

    def live_reports(self) -> list[reports.Report]:
        """The fleet's live process reports, read under the package's deadline. Raises
        :class:`StoreError` when the store cannot be read."""
        return self._with_cache(fleet.live_reports, "(reading the reports)")

    def _with_cache(self, function: Callable[[BaseCache], T], what: str) -> T:
        def run() -> T:
            cache = build_cache(self.setting, self._caches)
            try:
                return function(cache)
            finally:
                cache.close()

        try:
            return self._call(run, WRITE_DEADLINE, what)
        except StoreError:
            raise
        except Exception as exc:
            reason = describe_error(exc, self.secrets)
            raise StoreError(f"{self.label} cannot be read ({reason})") from None

    def write(
        self, values: Mapping[str, str | None], *, cache: BaseCache | None = None
    ) -> dict[str, str]:
        """Set each variable to its text, with no expiry; ``None`` deletes the key so that
        lower sources apply again. Returns each variable's key as stored (after the cache's
        ``KEY_PREFIX`` and ``VERSION``). All values go in one ``set_many`` (a transaction
        with Django's ``RedisCache``), so the fleet reads all of them or none.

        The store is read first, so that one that cannot be reached fails before anything
        is sent. Raises :class:`StoreError` when the store cannot be reached or refuses,
        naming it with its credentials masked."""
        given = cache

        def send() -> dict[str, str]:
            cache = given
            try:
                cache = cache or build_cache(self.setting, self._caches)
                self.read_once(cache)
            except StoreError:
                raise
            except Exception as exc:
                reason = describe_error(exc, self.secrets)
                raise StoreError(
                    f"{self.label} cannot be reached ({reason}): nothing written"
                ) from None
            try:
                to_set = {key(n): v for n, v in values.items() if v is not None}
                to_delete = [key(n) for n, v in values.items() if v is None]
                # When, for `status` in any process: in the same set_many as the values.
                to_set[CHANGED_KEY] = self.written_at = changed_now()
                if to_set:
                    failed = cache.set_many(to_set, timeout=None)
                    if failed:
                        raise StoreError(
                            f"{self.label} did not keep {', '.join(sorted(failed))}: write again"
                        )
                if to_delete:
                    cache.delete_many(to_delete)
            except StoreError:
                raise
            except Exception as exc:
                reason = describe_error(exc, self.secrets)
                raise StoreError(
                    f"{self.label} failed while writing ({reason}): the write may or may not have "
                    "been applied; run `maintenance_mode status` to see"
                ) from None
            return {name: cache.make_key(key(name)) for name in values}

        try:
            return self._deadline.call(send, WRITE_DEADLINE, "the store (writing)")
        except DeadlineExceeded as exc:
            raise StoreError(
                f"{exc}: the write may or may not have been applied; run "
                "`maintenance_mode status` to see"
            ) from None
