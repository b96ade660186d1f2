"""One process's view of the configuration: :class:`Runtime`, the live sources polled in.

It reads the environment and settings once, then asks each live source (the shared store,
the mounted config) what changed, at most once per reload interval, on the request path
but never waiting, and re-resolves into a new :class:`~maintenance_env.policy.Policy` on a
change. One rule covers the first answer (:meth:`Runtime.state`). A change of the
effective state goes to the ``on_change`` callback; which runtime is the process's, the
at-fork hook and ``maintenance_changed`` live in :mod:`maintenance_env.runtime`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping

from maintenance_env import live_log
from maintenance_env.config import Problem, base_layers, resolve
from maintenance_env.live_resolve import live_cause, resolve_live
from maintenance_env.overrides import override_layer
from maintenance_env.policy import Policy
from maintenance_env.signals import Change
from maintenance_env.sources.base import LiveSource, Snapshot
from maintenance_env.sources.mounted import MountedConfig
from maintenance_env.sources.store import SharedStore
from maintenance_env.sources.store_fleet import Serving
from maintenance_env.variables import VARIABLES, Origin

__all__ = ["LIVE_NAMES", "START_READ_TIMEOUT", "Runtime"]

logger = logging.getLogger("maintenance_env")

#: Seconds a process may wait, once, before its first answer, for its first read of the
#: shared store (:meth:`Runtime.state`).
START_READ_TIMEOUT = 1.0

#: The live variables: the only ones read from the store and the mounted config.
LIVE_NAMES = tuple(name for name, var in VARIABLES.items() if var.live)


class Runtime:
    """One process's view of the configuration, with the live sources polled in.

    ``background=False`` starts no refresher thread for the store and never reads it by
    itself: only :meth:`refresh` reads it (a management command, a system check).
    ``on_change(runtime, change)`` is called, outside the lock, after each change of the
    effective state (errors it raises propagate: the caller logs them).

    ``state()`` is the hot path: an attribute, plus a ``time.monotonic()`` comparison with
    a live source or a schedule. A tick (polling the sources, seeing the window open or
    close) runs under a lock only tried, never waited for.
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        check_template: bool = True,
        background: bool = True,
        on_change: Callable[[Runtime, Change], None] | None = None,
    ) -> None:
        self._base = base_layers(environ)
        self._check_template = check_template
        self._on_change = on_change
        base = resolve(self._base, check_template=check_template)
        self.base = base
        config = base.config
        self.interval = config.reload_interval
        self.store = (
            SharedStore(
                config.cache,
                LIVE_NAMES,
                config.reload_interval,
                background=background,
                on_change=self._poll_soon,
            )
            if config.cache
            else None
        )
        if self.store is not None and background:
            self.store.reporting = self.serving
        #: The store's ``changed_at`` this runtime has applied, the last change and the end
        #: of the window it was in at its last fleet report (:meth:`serving`).
        self._applied_change: str | None = None
        self._reported_change: Change | None = None
        self._window_end: dt.datetime | None = None
        self.mounted = MountedConfig(config.config_path) if config.config_path else None
        #: The live sources, highest precedence first.
        self.sources: tuple[LiveSource, ...] = tuple(
            s for s in (self.store, self.mounted) if s is not None
        )
        self.snapshots: dict[Origin, Snapshot] = {}
        #: ``time.time()`` of the last good tick of each source, and of the first bad one.
        self.read_at: dict[Origin, float] = {}
        self.failing_since: dict[Origin, float] = {}
        #: The last change of the effective state this runtime saw (``None``: none yet).
        self.last_change: Change | None = None
        self._lock = threading.Lock()
        self._first_lock = threading.Lock()
        #: The first-read rule is pending: a store this process has never read.
        self._unread = self.store is not None and background
        self._next_poll = 0.0
        self._log = live_log.SourceLog()
        self._read_once = False  # the first read at start-up is not a "change"
        self._ready = False  # changes are noticed from the end of __init__ on
        self._state = Policy(base)
        self._active = False
        self._read_only = False
        if not base.problems:
            if self.sources:
                # No read of the store, no thread: this may be a master about to fork.
                self._poll(start=False)
                self._next_poll = 0.0  # the first answer reads it and starts the refresher
            elif override_layer():
                self._apply(log=False)
        self._active = self._state.is_active()
        self._read_only = self._active and self._state.is_read_only()
        #: The start is announced at the first use in each process (``previous=None``):
        #: until then requests take the slow branch of :meth:`state` once.
        self._start_pending = True
        self._watch = True
        self._ready = True

    @property
    def source_notes(self) -> dict[Origin, tuple[str, ...]]:
        """What each live source skipped at its last read, one line each, by origin."""
        return {o: s.notes for o, s in self.snapshots.items() if s.notes}

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Problems of the environment and settings (fatal at start-up)."""
        return tuple(p for p in self.base.problems if not p.origin.live)

    def state(self) -> Policy:
        """The current policy, after polling the live sources if the interval is up.

        The one first-read rule: a shared store this process has never read is read once,
        in this thread, at most :data:`START_READ_TIMEOUT` seconds, before the first answer
        (never under a running event loop: the refresher's first read has to do there).
        """
        if self._watch and time.monotonic() >= self._next_poll:
            if self._unread:
                self._read_first()
            self._poll()
            if self._start_pending:
                self._start()
        return self._state

    def _start(self) -> None:
        """Announce the state this process starts in, once (``previous=None``)."""
        with self._lock:
            if not self._start_pending:
                return
            self._start_pending = False
            self._watch = self._watching(self._state)
            now = time.time()
            change = Change(
                dt.datetime.fromtimestamp(now, dt.timezone.utc),
                self._state.is_active(now),
                None,
                "start",
            )
        self._announce(change)

    def _watching(self, policy: Policy) -> bool:
        """Whether requests must tick: a live source to poll, or a window that may open or
        close (for a policy with neither, ``state()`` stays one attribute check)."""
        return bool(self.sources) or (policy.enabled and policy.windowed)

    def _read_first(self) -> None:
        """The first-read rule (see :meth:`state`); other threads wait for it, bounded."""
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop()
            return
        with self._first_lock:
            # Cleared only once the read is in force (read_first): a thread that comes
            # meanwhile waits here for it (bounded by the read's deadline) instead of
            # answering from what the process knew before it.
            if self._unread:
                self.read_first()

    def read_first(self, timeout: float | None = None) -> None:
        """Read the shared store now, at most ``timeout`` s (else :data:`START_READ_TIMEOUT`),
        and start from what it holds (no change, no "configuration changed" line; an
        unreadable store counts as absent). For the first-read rule, and the command."""
        if self.store is None or self.base.problems:
            self._unread = False
            return
        try:
            self.store.read_now(timeout=START_READ_TIMEOUT if timeout is None else timeout)
            with self._lock:
                ready, self._ready = self._ready, False
                self._read_once = False  # what this read finds is where the process starts
                try:
                    self._poll_locked(start=False)
                finally:
                    self._active = self._state.is_active()
                    self._read_only = self._active and self._state.is_read_only()
                    self._ready = ready
        finally:
            self._unread = False  # last: only now is what it read in force
        self._next_poll = 0.0  # the poll that follows starts the refresher

    def after_fork(self) -> None:
        """In a child right after a fork: fresh locks, no thread, the store as never read
        (its values were the parent's). No I/O: the first-read rule reads it."""
        self._lock = threading.Lock()
        self._first_lock = threading.Lock()
        for source in self.sources:
            source.after_fork()
        if self.store is not None:
            self.snapshots.pop(Origin.CACHE, None)
            self.read_at.pop(Origin.CACHE, None)
            self.failing_since.pop(Origin.CACHE, None)
            self._unread = self.store.background
        self._start_pending = True  # the child announces its own start
        self._watch = True
        self._next_poll = 0.0

    def refresh(self, *, timeout: float | None = None) -> Policy:
        """Read every live source now, in this thread (at most ``timeout`` s), and tick."""
        if self.store is not None:
            self.store.read_now(timeout=timeout)
            self._unread = False
        self._next_poll = 0.0
        return self.state()

    def serving(self) -> Serving:
        """What this process serves now, for its fleet report (contract section 10).

        Called by the store's refresher after each good read: it first applies what that
        read published, so a process that gets no request reports what it would serve.
        When the schedule changed the state since the last call, ``edge`` is the instant of
        the window's edge that did (its start, or its end for a closing)."""
        self._poll()
        store = self.store
        if store is not None and store.consumed():
            self._applied_change = store.changed_at
        now = time.time()
        policy = self._state
        active = policy.is_active(now)
        read_only = active and policy.is_read_only(now)
        state = "read-only" if read_only else "on" if active else "off"
        window = policy.window(now) if active else None
        edge = None
        change = self.last_change
        if change is not None and change is not self._reported_change:
            self._reported_change = change
            if change.cause == "schedule":
                moment = window.starts_at if window else self._window_end
                if moment is not None:
                    edge = moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        self._window_end = window.ends_at if window is not None else None
        return Serving(state, self._applied_change, active, edge)

    def _poll_soon(self) -> None:
        """The refresher read something new: the next request polls at once."""
        self._next_poll = 0.0

    def close(self) -> None:
        """Stop the store's refresher thread (a replaced runtime, or a test's end)."""
        if self.store is not None:
            self.store.stop()

    def _poll(self, *, start: bool = True) -> None:
        if not self._lock.acquire(blocking=False):
            return
        try:
            change = self._poll_locked(start=start)
        finally:
            self._lock.release()
        if change is not None:
            self._announce(change)

    def _poll_locked(self, *, start: bool = True) -> Change | None:
        """One tick, under the lock: ask each live source what changed, resolve again if
        anything did, and return the change of the effective state, if there is one."""
        # Set before polling: a change the store publishes meanwhile resets it to 0.
        self._next_poll = time.monotonic() + self.interval
        changed = False
        now = time.time()
        for source in self.sources:
            try:
                if source is self.store and not start:
                    snapshot = self.store.peek()
                else:
                    snapshot = source.poll()
            except Exception:  # never let a source take the site down
                logger.exception("maintenance_env: reading %s failed", source.label)
                continue
            if snapshot is not None:
                self.snapshots[source.origin] = snapshot
                changed = True
            self._note_health(source.origin, now)
        old = self._state
        if changed:
            self._apply()
        cause = "schedule"
        if self._state is not old and old.is_active(now) == self._active:
            # The old policy would still say the same now: the sources changed it.
            cause = live_cause(self._state, old, self.sources)
        return self._settle(cause, now)

    def _note_health(self, origin: Origin, now: float) -> None:
        snapshot = self.snapshots.get(origin)
        if snapshot is None or snapshot.kind == "pending":
            return
        if snapshot.error is None:
            self.read_at[origin] = now
            self.failing_since.pop(origin, None)
        else:
            self.failing_since.setdefault(origin, now)

    def reapply(self, cause: str = "override") -> None:
        """Resolve again now, with the current override layer (waits for a tick in progress)."""
        with self._lock:
            if self.problems:
                return
            self._apply(log=False)
            change = self._settle(cause, time.time())
        if change is not None:
            self._announce(change)

    def _settle(self, cause: str, now: float) -> Change | None:
        """Record a change of the effective state, if there is one (under the lock)."""
        policy = self._state
        self._watch = self._watching(policy)
        if not self._ready:
            return None
        active = policy.is_active(now)
        # A phase change (read-only first, then full maintenance) is a change too.
        read_only = active and policy.is_read_only(now)
        if active == self._active and read_only == self._read_only:
            return None
        self._read_only = read_only
        change = Change(
            dt.datetime.fromtimestamp(now, dt.timezone.utc), active, self._active, cause
        )
        self._active = active
        self.last_change = change
        live_log.settled(cause, active)
        return change

    def _announce(self, change: Change) -> None:
        if self._on_change is not None:
            self._on_change(self, change)

    def _apply(self, *, log: bool = True) -> None:
        previous = self._state.resolution
        labels = {source.origin: source.label for source in self.sources}
        resolution = resolve_live(
            self.sources, self.snapshots, self._base, previous, self._check_template, self._log
        )
        first, self._read_once = not self._read_once, True
        if resolution.config != previous.config or resolution.origins != previous.origins:
            self._state = Policy(resolution)
            if not first and log:
                live_log.changed(resolution, previous, labels)
        elif (resolution.problems, resolution.source_errors) != (
            previous.problems,
            previous.source_errors,
        ):
            # Same configuration, but what is wrong with a source changed: keep the
            # rendered page, record the news for `status` and the checks.
            self._state.resolution = resolution
