"""The per-process runtime: the configuration with the live sources polled in.

:class:`Runtime` reads the environment and settings once, then asks each live source (the
shared store, the mounted config) what changed, at most once per reload interval, on the
request path but never waiting: the mounted config costs a few ``os.stat`` calls, the
store hands over what its refresher thread read. A change re-resolves the configuration
into a new :class:`~maintenance_env.policy.Policy`; nothing else ever replaces it.

The process-wide runtime is created when the middleware loads (:func:`load_runtime`) and
forgotten when Django's ``setting_changed`` fires, so ``override_settings`` works in tests.

Above every source sits the test override layer (:func:`push_override`, used by
:class:`maintenance_env.testing.override`): a process-global stack, applied at once to the
process's runtime when it changes, and read again by every runtime built while it is in
force, so it survives ``override_settings`` resetting the runtime.

The process's runtime also notices when the effective state (:meth:`Policy.is_active`)
changes, with no thread of its own: when a live source or an override changes the policy,
and, while a schedule is set, on the same once-per-interval tick as the live sources. It
then sends :data:`maintenance_env.signals.maintenance_changed`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from maintenance_env.config import Layer, Problem, base_layers, resolve, shown
from maintenance_env.policy import Policy
from maintenance_env.signals import Change, maintenance_changed
from maintenance_env.sources.base import LiveSource, Snapshot
from maintenance_env.sources.dotenv import summarise
from maintenance_env.sources.mounted import MountedConfig
from maintenance_env.sources.store import SharedStore
from maintenance_env.variables import PREFIX, VARIABLES, Origin

__all__ = [
    "Runtime",
    "get_runtime",
    "get_state",
    "load_runtime",
    "override_layer",
    "pop_override",
    "push_override",
    "reset",
]

logger = logging.getLogger("maintenance_env")

#: Seconds the process's runtime may wait, once, when it loads, for its first read of the
#: shared store (:meth:`Runtime.read_store_at_start`).
START_READ_TIMEOUT = 1.0

#: The live variables: the only ones read from the store and the mounted config.
LIVE_NAMES = tuple(name for name, var in VARIABLES.items() if var.live)


def _is_live(name: str) -> bool:
    var = VARIABLES.get(name)
    return var is None or var.live  # unknown names never reach here: the sources drop them


class Runtime:
    """One process's view of the configuration, with the live sources polled in.

    ``background=False`` starts no refresher thread for the store: only :meth:`refresh`
    reads it (a management command, a system check).

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
    ) -> None:
        self._base = base_layers(environ)
        self._check_template = check_template
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
        self._next_poll = 0.0
        self._logged: frozenset[tuple[object, ...]] = frozenset()
        self._read_once = False  # the first read at start-up is not a "change"
        self._store_waited = False
        self._ready = False  # changes are noticed from the end of __init__ on
        self._state = Policy(base)
        self._active = False
        self._read_only = False
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
        self._read_only = self._active and self._state.is_read_only()
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
        """The current policy, after polling the live sources if the interval is up."""
        if self._watch and time.monotonic() >= self._next_poll:
            self._poll()
        return self._state

    def _watching(self, policy: Policy) -> bool:
        """Whether requests must tick: a live source to poll, or a window that may open or
        close (for a policy with neither, ``state()`` stays one attribute check)."""
        return bool(self.sources) or (policy.enabled and policy.windowed)

    def read_store_once(self) -> None:
        """Read the shared store in this thread, once, if nothing has been read from it yet.

        For code outside requests (a task in a worker that has just started): before its
        first read the store counts as absent, and a task would run while the fleet is in
        maintenance. Waits at most the store's socket timeout; never under a running event
        loop (there the refresher thread's first read, a moment later, has to do).
        """
        if self._store_waited or self.store is None:
            return
        self._store_waited = True
        if self.store.last_read is not None or self.store.failing_since is not None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self.refresh()

    def read_store_at_start(self, timeout: float = START_READ_TIMEOUT) -> None:
        """Read the shared store once, now, in this thread, and apply what it holds as part
        of starting up (no ``maintenance_changed``, no "configuration changed" line), without
        starting the refresher thread.

        For the process's own runtime when it loads, and again in a child right after a fork
        (a prefork server's worker, before it serves): without it, a worker that starts (or
        is recycled) during maintenance would answer its first requests from what its parent
        read, or from the environment and settings, until its refresher's first read. Waits
        at most ``timeout`` seconds (a store that is down then counts as absent, as
        documented); it is never called on a request of a running server.
        """
        if self.store is None or self.base.problems:
            return
        self.store.read_now(timeout=timeout)
        self._store_waited = True
        with self._lock:
            ready, self._ready = self._ready, False
            self._read_once = False  # what this read finds is where the process starts
            try:
                self._poll_locked(start=False)
            finally:
                self._active = self._state.is_active()
                self._read_only = self._active and self._state.is_read_only()
                self._ready = ready
        self._next_poll = 0.0  # the first request starts the refresher

    def refresh(self, *, timeout: float | None = None) -> Policy:
        """Read every live source now, the store included, in this thread (a management
        command or a check: it may wait up to the store's socket timeout, or ``timeout``
        seconds when given), and return the policy that results."""
        if self.store is not None:
            self.store.read_now(timeout=timeout)
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
        """Send ``maintenance_changed`` for the process's runtime (not a private one: a
        management command's, a check's); receivers' errors are logged, never raised."""
        if self is not _runtime or not maintenance_changed.has_listeners(Runtime):
            return
        try:
            from maintenance_env.api import build_status

            arguments: dict[str, Any] = {
                "active": change.active,
                "previous": change.previous,
                "status": build_status(self, self._state),
                "change": change,
            }
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                maintenance_changed.send_robust(sender=Runtime, **arguments)
                return
            # Under an event loop (ASGI) the receivers run in a task on it, so async ones
            # can be awaited and sync ones go to a thread: the request is not held up.
            task = loop.create_task(maintenance_changed.asend_robust(sender=Runtime, **arguments))
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)
        except Exception:
            logger.exception("maintenance_env: sending maintenance_changed failed")

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


# --- the process-wide runtime -----------------------------------------------------------

_runtime: Runtime | None = None
_runtime_lock = threading.Lock()
#: Signal tasks scheduled on an event loop, kept until done (the loop keeps weak refs).
_tasks: set[asyncio.Task[Any]] = set()

# --- the test override layer ------------------------------------------------------------

#: (token, values by variable name), oldest first; later entries win, variable by variable.
_overrides: list[tuple[object, Mapping[str, object]]] = []
_overrides_lock = threading.Lock()


def override_layer() -> dict[str, object]:
    """The values every override in force sets, by variable name (the newest wins)."""
    if not _overrides:
        return {}
    with _overrides_lock:
        entries = list(_overrides)
    merged: dict[str, object] = {}
    for _token, values in entries:
        merged.update(values)
    return merged


def push_override(values: Mapping[str, object]) -> object:
    """Put ``values`` (already validated) on top of every source; returns the token that
    :func:`pop_override` takes. The process's runtime resolves again at once."""
    token = object()
    with _overrides_lock:
        _overrides.append((token, dict(values)))
    _reapply()
    return token


def pop_override(token: object) -> None:
    """Take the override of ``token`` away (in any order; unknown tokens are ignored)."""
    with _overrides_lock:
        _overrides[:] = [entry for entry in _overrides if entry[0] is not token]
    _reapply()


def _reapply() -> None:
    runtime = _runtime
    if runtime is not None:
        runtime.reapply("override")


def load_runtime() -> Runtime:
    """Read the environment and settings again, and make that the process's runtime.

    Raises ``ImproperlyConfigured`` naming every bad variable and value, so that a server
    never starts half-configured (system checks do not run under gunicorn or uvicorn).
    """
    global _runtime
    runtime = Runtime()
    problems = runtime.problems
    if problems:
        runtime.close()
        raise ImproperlyConfigured(
            "django-maintenance-env is misconfigured:\n" + "\n".join(f"  {p}" for p in problems)
        )
    runtime.read_store_at_start()
    with _runtime_lock:
        old, _runtime = _runtime, runtime
    if old is not None:
        old.close()
    return runtime


def _read_store_after_fork() -> None:
    """In a child right after a fork (a prefork server's worker): read the store again
    before serving, so the worker starts from the store as it is now, not as its parent
    last read it (maybe long ago)."""
    runtime = _runtime
    if runtime is not None and runtime.store is not None and runtime.store.background:
        # Another thread of the parent may have held the lock at the fork: the child's
        # copy would then stay locked forever.
        runtime._lock = threading.Lock()
        try:
            runtime.read_store_at_start()
        except Exception:  # never let a fork fail because of the store
            logger.exception("maintenance_env: reading %s after a fork failed", runtime.store.label)


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_read_store_after_fork)


def get_runtime() -> Runtime:
    """The process's runtime, loaded on first use."""
    runtime = _runtime
    if runtime is None:
        runtime = load_runtime()
    return runtime


def get_state() -> Policy:
    """The current policy; the one call the request path makes."""
    runtime = _runtime
    if runtime is None:
        runtime = load_runtime()
    return runtime.state()


def reset() -> None:
    """Forget the runtime: the next request or middleware load reads everything again."""
    global _runtime
    with _runtime_lock:
        old, _runtime = _runtime, None
    if old is not None:
        old.close()


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: object) -> None:
    if setting.startswith(PREFIX) or setting in {
        "CACHES",
        "TEMPLATES",
        "LANGUAGE_CODE",
        "LANGUAGES",
        "TIME_ZONE",
        "USE_TZ",
        "USE_I18N",
        "SECRET_KEY",
        "ROOT_URLCONF",
        "LOGIN_URL",
    }:
        reset()
