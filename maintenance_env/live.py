"""The per-process runtime: the configuration with the live sources polled in.

:class:`Runtime` reads the environment and settings once, then asks each live source (the
shared store, the mounted config) what changed, at most once per reload interval, on the
request path but never waiting: the mounted config costs a few ``os.stat`` calls, the
store hands over what its refresher thread read. A change re-resolves the configuration
into a new :class:`~maintenance_env.policy.Policy`; nothing else ever replaces it.

The process-wide runtime is created when the middleware loads (:func:`load_runtime`) and
forgotten when Django's ``setting_changed`` fires, so ``override_settings`` works in tests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from maintenance_env.config import Layer, Problem, base_layers, resolve, shown
from maintenance_env.policy import Policy
from maintenance_env.sources.base import LiveSource, Snapshot
from maintenance_env.sources.mounted import MountedConfig
from maintenance_env.sources.store import SharedStore
from maintenance_env.variables import PREFIX, VARIABLES, Origin

__all__ = ["Runtime", "get_runtime", "get_state", "load_runtime", "reset"]

logger = logging.getLogger("maintenance_env")

#: The live variables: the only ones read from the store and the mounted config.
LIVE_NAMES = tuple(name for name, var in VARIABLES.items() if var.live)


class Runtime:
    """One process's view of the configuration, with the live sources polled in.

    ``background=False`` starts no refresher thread for the store: only :meth:`refresh`
    reads it (a management command, a system check).

    ``state()`` is the hot path: without a live source it returns an attribute; with one
    it also compares ``time.monotonic()`` to the next poll time. Polling happens under a
    lock that is only tried, never waited for, so under a threaded server one thread polls
    while the others go on with the current policy.
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
        self._lock = threading.Lock()
        self._next_poll = 0.0
        self._logged: frozenset[tuple[object, ...]] = frozenset()
        self._read_once = False  # the first read at start-up is not a "change"
        self._state = Policy(base)
        if self.sources and not base.problems:
            # The store's refresher is not started here: this may be a server's master
            # process, about to fork; each process starts its own on its first request.
            self._poll(start=False)
            if self.store is not None:
                self._next_poll = 0.0  # the first request starts it

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Problems of the environment and settings (fatal at start-up)."""
        return tuple(p for p in self.base.problems if not p.origin.live)

    def state(self) -> Policy:
        """The current policy, after polling the live sources if the interval is up."""
        if self.sources and time.monotonic() >= self._next_poll:
            self._poll()
        return self._state

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
            # Set before polling: a change the store publishes meanwhile resets it to 0.
            self._next_poll = time.monotonic() + self.interval
            changed = False
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
            if changed:
                self._apply()
        finally:
            self._lock.release()

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
        for name in snapshot.values:
            var = VARIABLES.get(name)
            if var is None or not var.live:
                key = ("name", origin, name)
                logged.add(key)
                if key not in self._logged:
                    why = (
                        "is read only from the environment or settings"
                        if var
                        else "is not a known variable"
                    )
                    logger.warning("maintenance_env: %s in %s %s; ignored", name, source.label, why)

    def _apply(self) -> None:
        logged: set[tuple[object, ...]] = set()
        layers: list[Layer] = []
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
            if first:
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
    with _runtime_lock:
        old, _runtime = _runtime, runtime
    if old is not None:
        old.close()
    return runtime


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
    }:
        reset()
