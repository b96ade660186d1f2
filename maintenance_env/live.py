"""One process's view of the configuration: :class:`Runtime`, the live sources polled in.

It reads the environment and settings once, then asks each live source (the shared store,
the mounted config) what changed, at most once per reload interval, never waiting, and
re-resolves into a new :class:`~maintenance_env.policy.Policy` on a change. One rule covers
the first answer (:meth:`Runtime.state`). Changes go to ``on_change``; which runtime is
the process's, the at-fork hook and the signal are :mod:`maintenance_env.runtime`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping

from maintenance_env import live_log
from maintenance_env.config import Problem, base_layers, resolve
from maintenance_env.live_health import EffectiveState, ReadTimes
from maintenance_env.live_resolve import live_cause, next_policy, resolve_live
from maintenance_env.live_serving import ServingView
from maintenance_env.overrides import override_layer
from maintenance_env.policy import Policy
from maintenance_env.signals import Change
from maintenance_env.sources.base import LiveSource, Snapshot
from maintenance_env.sources.mounted import MountedConfig
from maintenance_env.sources.store import SharedStore
from maintenance_env.sources.store_fleet import Serving
from maintenance_env.variables import LIVE_NAMES, Origin

__all__ = ["START_READ_TIMEOUT", "Runtime"]

logger = logging.getLogger("maintenance_env")

#: Seconds a process may wait, once, before its first answer, for its first read of the
#: shared store (:meth:`Runtime.state`).
START_READ_TIMEOUT = 1.0


class Runtime:
    """One process's view of the configuration, with the live sources polled in.

    ``background=False`` starts no refresher thread for the store and never reads it by
    itself: only :meth:`refresh` reads it (a management command, a system check).
    ``on_change(runtime, change)`` is called, outside the lock, after each change of the
    effective state (errors it raises propagate: the caller logs them).

    ``state()`` is the hot path: an attribute, plus a ``time.monotonic()`` comparison with
    a live source or a schedule. A tick runs under a lock only tried, never waited for.
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
        self.store: SharedStore | None = None
        if config.cache:
            self.store = SharedStore(
                config.cache,
                LIVE_NAMES,
                self.interval,
                background=background,
                on_change=self._poll_soon,
            )
            if background:  # a serving process: it reports to the fleet
                self.store.reporting = self.serving
        self._serving = ServingView()
        self.mounted = MountedConfig(config.config_path) if config.config_path else None
        #: The live sources, highest precedence first.
        self.sources: tuple[LiveSource, ...] = tuple(
            s for s in (self.store, self.mounted) if s is not None
        )
        self.snapshots: dict[Origin, Snapshot] = {}
        #: When each source was last read well, and since when it fails.
        self.health = ReadTimes()
        #: The effective state, and its last change (:attr:`last_change`).
        self.effective = EffectiveState()
        self._lock = threading.Lock()
        self._first_lock = threading.Lock()
        #: The first-read rule is pending: a store this process has never read.
        self._unread = self.store is not None and background
        self._next_poll = 0.0
        self._log = live_log.SourceLog()
        self._read_once = False  # the first read at start-up is not a "change"
        self._ready = False  # changes are noticed from the end of __init__ on
        self._state = Policy(base)
        if not base.problems:
            if self.sources:
                # No read of the store, no thread: this may be a master about to fork.
                self._poll(start=False)
                self._next_poll = 0.0  # the first answer reads it and starts the refresher
            elif override_layer():
                self._apply(log=False)
        self.effective.start_from(self._state)
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
            change = self.effective.started(self._state, time.time())
        self._announce(change)

    def _watching(self, policy: Policy) -> bool:
        """Whether requests must tick: a live source to poll, or a window to open or close."""
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
                    self.effective.start_from(self._state)
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
            self.health.forget(Origin.CACHE)
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
        """What this process serves now, for its fleet report (the store's refresher asks
        after each good read; it applies that read first: :mod:`maintenance_env.live_serving`)."""
        self._poll()
        return self._serving.now(self._state, self.store, self.last_change)

    @property
    def last_change(self) -> Change | None:
        """The last change of the effective state this runtime saw (``None``: none yet)."""
        return self.effective.last_change

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
            self.health.note(source.origin, self.snapshots.get(source.origin), now)
        old = self._state
        if changed:
            self._apply()
        cause = "schedule"
        if self._state is not old and old.is_active(now) == self.effective.active:
            # The old policy would still say the same now: the sources changed it.
            cause = live_cause(self._state, old, self.sources)
        return self._settle(cause, now)

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
        return self.effective.settle(policy, cause, now)

    def _announce(self, change: Change) -> None:
        if self._on_change is not None:
            self._on_change(self, change)

    def _apply(self, *, log: bool = True) -> None:
        resolution = resolve_live(
            self.sources,
            self.snapshots,
            self._base,
            self._state.resolution,
            self._check_template,
            self._log,
        )
        first, self._read_once = not self._read_once, True
        self._state = next_policy(self._state, resolution, self.sources, log=log and not first)
