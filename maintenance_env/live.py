"""One process's view of the configuration: :class:`Runtime`, the live sources polled in.

:class:`Runtime` reads the environment and settings once, then asks each live source (the
shared store, the mounted config) what changed, at most once per reload interval, on the
request path but never waiting: the mounted config costs a few ``os.stat`` calls, the
store hands over what its refresher thread read. A change re-resolves the configuration
into a new :class:`~maintenance_env.policy.Policy`; nothing else ever replaces it.

One rule covers the first answer: a shared store this process has never read is read
once, with a bounded wait (:data:`START_READ_TIMEOUT`), before the first answer, except
under a running event loop (see :meth:`Runtime.state`). Requests, ``is_active()``,
``status()`` and jobs all come through it.

The runtime also notices when the effective state (:meth:`Policy.is_active`) changes,
with no thread of its own, and hands the :class:`~maintenance_env.signals.Change` to its
``on_change`` callback (:mod:`maintenance_env.runtime` sends ``maintenance_changed`` for
the process's runtime). Which runtime is the process's, the override stack's use and the
at-fork hook live in :mod:`maintenance_env.runtime`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping

from maintenance_env.config import Layer, Problem, base_layers, resolve, shown
from maintenance_env.policy import Policy
from maintenance_env.signals import Change
from maintenance_env.sources.base import LiveSource, Snapshot
from maintenance_env.sources.dotenv import summarise
from maintenance_env.sources.mounted import MountedConfig
from maintenance_env.sources.store import SharedStore
from maintenance_env.variables import PREFIX, VARIABLES, Origin

__all__ = ["LIVE_NAMES", "OVERRIDES", "START_READ_TIMEOUT", "OverrideStack", "Runtime"]

logger = logging.getLogger("maintenance_env")

#: Seconds a process may wait, once, before its first answer, for its first read of the
#: shared store (:meth:`Runtime.state`).
START_READ_TIMEOUT = 1.0

#: The live variables: the only ones read from the store and the mounted config.
LIVE_NAMES = tuple(name for name, var in VARIABLES.items() if var.live)


def _is_live(name: str) -> bool:
    var = VARIABLES.get(name)
    return var is None or var.live  # unknown names never reach here: the sources drop them


class Runtime:
    """One process's view of the configuration, with the live sources polled in.

    ``background=False`` starts no refresher thread for the store and never reads it by
    itself: only :meth:`refresh` reads it (a management command, a system check).
    ``on_change(runtime, change)`` is called, outside the lock, after each change of the
    effective state (errors it raises propagate: the caller logs them).

    ``state()`` is the hot path: without a live source or a schedule it returns an
    attribute; with one it also compares ``time.monotonic()`` to the next tick. A tick
    (polling the sources, and seeing whether the schedule's window opened or closed)
    happens under a lock that is only tried, never waited for, so under a threaded server
    one thread ticks while the others go on with the current policy.
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
        self.mounted = MountedConfig(config.config_path) if config.config_path else None
        #: The live sources, highest precedence first.
        self.sources: tuple[LiveSource, ...] = tuple(
            s for s in (self.store, self.mounted) if s is not None
        )
        self.snapshots: dict[Origin, Snapshot] = {}
        #: ``time.time()`` of the last tick that found each live source readable, and of
        #: the first tick since then that did not (for ``status()``).
        self.read_at: dict[Origin, float] = {}
        self.failing_since: dict[Origin, float] = {}
        #: The last change of the effective state this runtime saw (``None``: none yet).
        self.last_change: Change | None = None
        self._lock = threading.Lock()
        self._first_lock = threading.Lock()
        #: The first-read rule is pending: a store this process has never read.
        self._unread = self.store is not None and background
        self._next_poll = 0.0
        self._logged: frozenset[tuple[object, ...]] = frozenset()
        self._read_once = False  # the first read at start-up is not a "change"
        self._ready = False  # changes are noticed from the end of __init__ on
        self._state = Policy(base)
        self._active = False
        if not base.problems:
            if self.sources:
                # The store's refresher is not started here: this may be a server's master
                # process, about to fork; each process starts its own on its first request.
                self._poll(start=False)
                if self.store is not None:
                    self._next_poll = 0.0  # the first request starts it
            elif override_layer():
                self._apply(log=False)
        self._active = self._state.is_active()
        self._watch = self._watching(self._state)
        self._ready = True

    @property
    def source_notes(self) -> dict[Origin, tuple[str, ...]]:
        """What each live source skipped while reading it last (lines of a dotenv file that
        could not be parsed, unknown ``MAINTENANCE_MODE_*`` names, files that are not
        regular files), one line each, by origin; only sources with notes. For ``status``."""
        return {o: s.notes for o, s in self.snapshots.items() if s.notes}

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Problems of the environment and settings (fatal at start-up)."""
        return tuple(p for p in self.base.problems if not p.origin.live)

    def state(self) -> Policy:
        """The current policy, after polling the live sources if the interval is up.

        The first call in a process whose shared store it has never read reads the store
        in this thread first, waiting at most :data:`START_READ_TIMEOUT` seconds, and
        starts from what it finds (no ``maintenance_changed``): a worker that has just
        started, or was forked, never answers from its parent's values or from the
        environment alone while the store says otherwise. Under a running event loop it
        does not wait: the refresher's first read, a moment later, has to do.
        """
        if self._watch and time.monotonic() >= self._next_poll:
            if self._unread:
                self._read_first()
            self._poll()
        return self._state

    def _watching(self, policy: Policy) -> bool:
        """Whether requests must tick: a live source to poll, or a window that may open or
        close (for a policy with neither, ``state()`` stays one attribute check)."""
        return bool(self.sources) or (policy.enabled and policy.windowed)

    def _read_first(self) -> None:
        """The first-read rule (see :meth:`state`); other threads wait for it, bounded."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            return
        with self._first_lock:
            if self._unread:
                self._unread = False
                self.read_first()

    def read_first(self, timeout: float = START_READ_TIMEOUT) -> None:
        """Read the shared store now, in this thread, waiting at most ``timeout`` seconds,
        and start from what it holds: no ``maintenance_changed``, no "configuration
        changed" line (a store that cannot be read then counts as absent). The first-read
        rule calls it; so does a management command that shows or writes the store."""
        if self.store is None or self.base.problems:
            return
        self._unread = False
        self.store.read_now(timeout=timeout)
        with self._lock:
            ready, self._ready = self._ready, False
            self._read_once = False  # what this read finds is where the process starts
            try:
                self._poll_locked(start=False)
            finally:
                self._active = self._state.is_active()
                self._ready = ready
        self._next_poll = 0.0  # the poll that follows starts the refresher

    def after_fork(self) -> None:
        """In a child right after a fork: fresh locks, no thread, and the store as never
        read (its values were the parent's, maybe read long ago). No I/O: the next answer
        reads the store under the first-read rule."""
        self._lock = threading.Lock()
        self._first_lock = threading.Lock()
        for source in self.sources:
            source.after_fork()
        if self.store is not None:
            self.snapshots.pop(Origin.CACHE, None)
            self.read_at.pop(Origin.CACHE, None)
            self.failing_since.pop(Origin.CACHE, None)
            self._unread = self.store.background
            self._watch = True
        self._next_poll = 0.0

    def refresh(self, *, timeout: float | None = None) -> Policy:
        """Read every live source now, the store included, in this thread (a management
        command or a check: it may wait up to the store's socket timeout, or ``timeout``
        seconds when given), and return the policy that results."""
        if self.store is not None:
            self.store.read_now(timeout=timeout)
            self._unread = False
        self._next_poll = 0.0
        return self.state()

    def _poll_soon(self) -> None:
        """Called by the store's refresher after it read something new: the next request
        polls at once instead of at the end of the interval, so a change reaches every
        process within one interval of the store's, not two."""
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
            cause = self._live_cause(old)
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

    def _live_cause(self, old: Policy) -> str:
        """The live source (its origin's value) that decides the switch or the window now,
        or decided it before the change."""
        names = ("MAINTENANCE_MODE", "MAINTENANCE_MODE_STARTS_AT", "MAINTENANCE_MODE_ENDS_AT")
        for resolution in (self._state.resolution, old.resolution):
            for name in names:
                origin = resolution.origins[name]
                if origin.live:
                    return origin.value
        return self.sources[0].origin.value if self.sources else "schedule"

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
        if active == self._active:
            return None
        change = Change(
            dt.datetime.fromtimestamp(now, dt.timezone.utc), active, self._active, cause
        )
        self._active = active
        self.last_change = change
        if cause == "schedule":
            logger.info(
                "maintenance_env: the maintenance window %s: maintenance %s",
                "opened" if active else "closed",
                "active" if active else "not active",
            )
        elif cause == "override":
            logger.info(
                "maintenance_env: a test override made maintenance %s",
                "active" if active else "not active",
            )
        # A live source's change was logged as "configuration changed" already.
        return change

    def _announce(self, change: Change) -> None:
        if self._on_change is not None:
            self._on_change(self, change)

    def _log_source(
        self, source: LiveSource, snapshot: Snapshot, logged: set[tuple[object, ...]]
    ) -> None:
        """Log what is wrong with one source once per change, and its recovery once."""
        origin = source.origin
        if snapshot.error is not None and snapshot.kind != "pending":
            key: tuple[object, ...] = ("source", origin, snapshot.error)
            logged.add(key)
            if key not in self._logged:
                if origin is Origin.CACHE:
                    logger.error(
                        "maintenance_env: %s %s; %s (MAINTENANCE_MODE_CACHE)",
                        source.label,
                        snapshot.error,
                        "keeping the values last read from it"
                        if isinstance(source, SharedStore) and source.last_read is not None
                        else "it counts as absent until it is read",
                    )
                else:
                    logger.error(
                        "maintenance_env: %s %s; ignoring it until it is back "
                        "(MAINTENANCE_MODE_CONFIG_PATH)",
                        source.label,
                        snapshot.error,
                    )
        elif snapshot.error is None and any(
            k[0] == "source" and k[1] is origin for k in self._logged
        ):
            logger.warning("maintenance_env: %s is readable again", source.label)
        # At most one line per note and one for the names read elsewhere: the log volume of
        # a change is bounded by the number of kinds of trouble, not by the size of the config.
        for note in snapshot.notes:
            key = ("note", origin, note)
            logged.add(key)
            if key not in self._logged:
                logger.warning("maintenance_env: %s: %s", source.label, note)
        names = sorted(name for name in snapshot.values if not _is_live(name))
        if names:
            key = ("names", origin, tuple(names))
            logged.add(key)
            if key not in self._logged:
                logger.warning(
                    "maintenance_env: %s in %s %s read only from the environment or "
                    "settings; ignored",
                    summarise(names),
                    source.label,
                    "is" if len(names) == 1 else "are",
                )

    def _apply(self, *, log: bool = True) -> None:
        logged: set[tuple[object, ...]] = set()
        layers: list[Layer] = []
        overrides = override_layer()
        if overrides:
            layers.append((Origin.OVERRIDE, overrides))
        errors: dict[Origin, str] = {}
        labels = {source.origin: source.label for source in self.sources}
        for source in self.sources:
            snapshot = self.snapshots.get(source.origin)
            if snapshot is None:
                continue
            self._log_source(source, snapshot, logged)
            if snapshot.error is not None:
                errors[source.origin] = snapshot.error
            values = {k: v for k, v in snapshot.values.items() if k.startswith(PREFIX)}
            layers.append((source.origin, values))
        layers.extend(self._base)
        previous = self._state.resolution
        resolution = resolve(
            layers, previous, check_template=self._check_template, source_errors=errors
        )
        for problem in resolution.problems:
            if not problem.origin.live:
                continue
            key = ("problem", problem.name, problem.message)
            logged.add(key)
            if key not in self._logged:
                logger.error(
                    "maintenance_env: %s; keeping %s=%r (%s)",
                    problem,
                    problem.name,
                    shown(problem.name, previous),
                    labels.get(problem.origin, problem.origin.value),
                )
        self._logged = frozenset(logged)
        first, self._read_once = not self._read_once, True
        if resolution.config != previous.config or resolution.origins != previous.origins:
            self._state = Policy(resolution)
            if first or not log:
                return
            origins = {o for o in resolution.origins.values() if o.live} | {
                o for o in previous.origins.values() if o.live
            }
            where = ", ".join(labels[o] for o in labels if o in origins) or "the live sources"
            logger.info(
                "maintenance_env: configuration changed from %s: maintenance %s",
                where,
                "on" if resolution.config.enabled else "off",
            )
        elif (resolution.problems, resolution.source_errors) != (
            previous.problems,
            previous.source_errors,
        ):
            # Same configuration, but what is wrong with a source changed: keep the
            # rendered page, record the news for `status` and the checks.
            self._state.resolution = resolution


# --- the test override layer ------------------------------------------------------------


class OverrideStack:
    """The test override layer: (token, values by variable name), oldest first; later
    entries win, variable by variable. Process-global, so it survives ``override_settings``
    resetting the runtime; :mod:`maintenance_env.runtime` applies a change at once."""

    def __init__(self) -> None:
        self._entries: list[tuple[object, Mapping[str, object]]] = []
        self.after_fork()

    def after_fork(self) -> None:
        """A fresh lock (another thread may have held this one at a fork)."""
        self._lock = threading.Lock()

    def layer(self) -> dict[str, object]:
        """The values every override in force sets, by variable name (the newest wins)."""
        if not self._entries:
            return {}
        with self._lock:
            entries = list(self._entries)
        merged: dict[str, object] = {}
        for _token, values in entries:
            merged.update(values)
        return merged

    def push(self, values: Mapping[str, object]) -> object:
        """Add ``values`` on top; returns the token :meth:`pop` takes."""
        token = object()
        with self._lock:
            self._entries.append((token, dict(values)))
        return token

    def pop(self, token: object) -> None:
        """Take the override of ``token`` away (in any order; unknown tokens are ignored)."""
        with self._lock:
            self._entries[:] = [entry for entry in self._entries if entry[0] is not token]


#: The process's override layer (:class:`maintenance_env.testing.override` fills it).
OVERRIDES = OverrideStack()


def override_layer() -> dict[str, object]:
    """The values every override in force sets, by variable name (the newest wins)."""
    return OVERRIDES.layer()
