"""The Python API: :func:`is_active` and :func:`status`, this process's view for any code.

Views, Celery tasks, management commands and signal receivers ask the same runtime as the
middleware, live sources (the shared store, the mounted config) and test overrides
included::

    import maintenance_env

    if maintenance_env.is_active():
        ...

    info = maintenance_env.status()
    info.active, info.read_only, info.window, info.retry_after
    info.variables["MAINTENANCE_MODE"].origin        # Origin.CONFIG, say
    info.as_dict()                                   # what `maintenance_mode status --json` prints
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.dateparse import parse_datetime

from maintenance_env import live
from maintenance_env.policy import Policy
from maintenance_env.signals import Change
from maintenance_env.variables import VARIABLES, Origin

__all__ = [
    "PlatformInfo",
    "SourceHealth",
    "Status",
    "VariableStatus",
    "Window",
    "build_status",
    "is_active",
    "iso",
    "json_value",
    "reason",
    "status",
]

#: What replaces a secret's value (``MAINTENANCE_MODE_BYPASS_SECRET``, the cache URL).
MASK = "***"


def is_active() -> bool:
    """Whether maintenance is active in this process now: ``MAINTENANCE_MODE`` on and now
    inside [``STARTS_AT``, ``ENDS_AT``), from the same sources as the middleware, test
    overrides included.

    As cheap as the middleware's own check once the process has its runtime (a few
    hundred nanoseconds; with a live source, at most one poll per
    ``MAINTENANCE_MODE_RELOAD_INTERVAL``). The first call in a process that uses the
    shared store and has not read it yet (a worker that has just started) reads it once,
    waiting at most the store's socket timeout (1 s), except under a running event loop.

    Raises ``ImproperlyConfigured`` when the environment or settings hold a bad value, as
    the middleware does when it loads.
    """
    runtime = live.get_runtime()
    runtime.read_store_once()
    return runtime.state().is_active()


@dataclass(frozen=True)
class Window:
    """The schedule: ``when`` is ``"upcoming"``, ``"current"`` or ``"past"``."""

    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    when: str


@dataclass(frozen=True)
class PlatformInfo:
    """The platform the management command prints commands for, and why (``name`` is
    ``None`` when ``MAINTENANCE_MODE_PLATFORM`` is bad; ``reason`` then says so)."""

    name: str | None
    reason: str


@dataclass(frozen=True)
class VariableStatus:
    """One variable: its parsed value (``"***"`` for a secret that is set) and its origin."""

    value: Any
    origin: Origin


@dataclass(frozen=True)
class SourceHealth:
    """One live source (the shared store, the mounted config) as this process sees it.

    ``ok`` is ``None`` before the first read, then whether the last read worked; ``error``
    says why not. ``last_read`` is when it was last read (or, for the mounted config,
    checked) successfully; ``stale_since`` when it started failing: from then on the store's
    values are the last ones read, and the mounted config counts as absent. ``notes`` are
    what was skipped while reading (lines a dotenv file could not parse, unknown names,
    files that are not regular files), one line each. ``changed_at`` is when the source
    itself last changed, as far as it says: the newest modification time of the mounted
    config's files, or when ``maintenance_mode`` last wrote the store.
    """

    origin: Origin
    label: str
    ok: bool | None
    error: str | None
    last_read: dt.datetime | None
    stale_since: dt.datetime | None
    notes: tuple[str, ...] = ()
    changed_at: dt.datetime | None = None


@dataclass(frozen=True)
class Status:
    """Everything ``maintenance_mode status`` says, as typed values (see :func:`status`).

    ``read_only`` is whether read-only mode is in force now (active and
    ``MAINTENANCE_MODE_READ_ONLY`` on). ``retry_after`` is ``None`` unless active.
    ``variables`` maps every variable's name, in the documented order, to its value and
    origin. ``last_change`` is the last change of the effective state this process saw.
    """

    active: bool
    read_only: bool
    reason: str
    window: Window | None
    retry_after: int | None
    platform: PlatformInfo
    config_path: str | None
    config_error: str | None
    variables: Mapping[str, VariableStatus]
    problems: tuple[str, ...]
    sources: tuple[SourceHealth, ...]
    last_change: Change | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, the keys of ``maintenance_mode status --json``: datetimes as ISO
        8601 UTC text (``2026-12-01T02:00:00Z``), lists as lists, origins as their names."""
        window = self.window
        return {
            "active": self.active,
            "read_only": self.read_only,
            "reason": self.reason,
            "window": None
            if window is None
            else {
                "starts_at": iso(window.starts_at),
                "ends_at": iso(window.ends_at),
                "when": window.when,
            },
            "retry_after": self.retry_after,
            "platform": {"name": self.platform.name, "reason": self.platform.reason},
            "config_path": self.config_path,
            "config_error": self.config_error,
            "variables": {
                name: {"value": json_value(item.value), "origin": item.origin.value}
                for name, item in self.variables.items()
            },
            "problems": list(self.problems),
            "sources": [
                {
                    "origin": source.origin.value,
                    "label": source.label,
                    "ok": source.ok,
                    "error": source.error,
                    "last_read": iso(source.last_read),
                    "stale_since": iso(source.stale_since),
                    "notes": list(source.notes),
                    "changed_at": iso(source.changed_at),
                }
                for source in self.sources
            ],
            "last_change": self.last_change.as_dict() if self.last_change else None,
        }


def iso(moment: dt.datetime | None) -> str | None:
    """A datetime as ISO 8601 text in UTC with ``Z`` (``None`` stays ``None``)."""
    if moment is None:
        return None
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def json_value(value: object) -> Any:
    """A :class:`~maintenance_env.variables.Config` value as JSON: lists stay lists,
    datetimes become ISO text, patterns their source, networks their text."""
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, (tuple, list)):
        return [json_value(item) for item in value]
    if hasattr(value, "pattern"):  # a compiled regular expression
        return value.pattern
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)  # an IP network


def reason(policy: Policy, now: float) -> str:
    """Why maintenance is (not) active at ``now`` (a Unix time, seconds), in one clause."""
    config = policy.config
    origin = policy.resolution.origins["MAINTENANCE_MODE"].value
    if not config.enabled:
        return f"MAINTENANCE_MODE is off, from the {origin}"
    if config.starts_at is not None and now < config.starts_at.timestamp():
        return (
            f"MAINTENANCE_MODE is on, from the {origin}, but the window starts at "
            f"{iso(config.starts_at)}"
        )
    if config.ends_at is not None and now >= config.ends_at.timestamp():
        return (
            f"MAINTENANCE_MODE is on, from the {origin}, but the window ended at "
            f"{iso(config.ends_at)}"
        )
    until = f" until {iso(config.ends_at)}" if config.ends_at else ""
    return f"MAINTENANCE_MODE is on, from the {origin}{until}"


def _window(policy: Policy, now: float) -> Window | None:
    config = policy.config
    if config.starts_at is None and config.ends_at is None:
        return None
    if config.ends_at is not None and now >= config.ends_at.timestamp():
        when = "past"
    elif config.starts_at is not None and now < config.starts_at.timestamp():
        when = "upcoming"
    else:
        when = "current"
    return Window(config.starts_at, config.ends_at, when)


def _platform(runtime: live.Runtime, policy: Policy, detection_root: str) -> PlatformInfo:
    from maintenance_env import platforms

    for problem in runtime.base.problems:
        if problem.name == "MAINTENANCE_MODE_PLATFORM":
            return PlatformInfo(None, str(problem))
    configured = policy.config.platform
    if configured:
        origin = policy.resolution.origins["MAINTENANCE_MODE_PLATFORM"].value
        return PlatformInfo(configured, f"MAINTENANCE_MODE_PLATFORM (from the {origin})")
    detection = platforms.detect(os.environ, detection_root)
    return PlatformInfo(detection.name, detection.reason)


def _moment(timestamp: float | None) -> dt.datetime | None:
    return None if timestamp is None else dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)


def _changed_at(runtime: live.Runtime, origin: Origin) -> dt.datetime | None:
    """When a live source last changed: the store's own record of the last write, or the
    newest modification time among the mounted config and its variables' files."""
    if origin is Origin.CACHE:
        written = runtime.store.changed_at if runtime.store is not None else None
        return parse_datetime(written) if written else None
    path = runtime.base.config.config_path
    if not path:
        return None
    paths = [path]
    if os.path.isdir(path):
        paths += [os.path.join(path, name) for name in VARIABLES]
    times = []
    for candidate in paths:
        with contextlib.suppress(OSError):
            times.append(os.stat(candidate).st_mtime)
    return _moment(max(times)) if times else None


def _sources(runtime: live.Runtime) -> tuple[SourceHealth, ...]:
    found = []
    for source in runtime.sources:
        origin = source.origin
        snapshot = runtime.snapshots.get(origin)
        store = runtime.store if origin is Origin.CACHE else None
        if store is not None:
            snapshot = store.snapshot
            last_read, failing_since = store.last_read, store.failing_since
        else:
            last_read = runtime.read_at.get(origin)
            failing_since = runtime.failing_since.get(origin)
        if snapshot is None or snapshot.kind == "pending":
            ok: bool | None = None
            error = None
        else:
            ok, error = snapshot.error is None, snapshot.error
        found.append(
            SourceHealth(
                origin,
                source.label,
                ok,
                error,
                _moment(last_read),
                _moment(failing_since) if ok is False else None,
                snapshot.notes if snapshot is not None else (),
                _changed_at(runtime, origin),
            )
        )
    return tuple(found)


#: The last policy's variables: a policy's values never change, and status() is called
#: per task. (policy, its variables), replaced whole.
_variables_cache: tuple[Policy | None, Mapping[str, VariableStatus]] = (None, {})


def _variables(policy: Policy) -> Mapping[str, VariableStatus]:
    global _variables_cache
    cached_policy, variables = _variables_cache
    if cached_policy is policy:
        return variables
    resolution = policy.resolution
    found = {}
    for name, var in VARIABLES.items():
        value = var.show(resolution.value(name))
        found[name] = VariableStatus(value, resolution.origins[name])
    variables = MappingProxyType(found)
    _variables_cache = (policy, variables)
    return variables


def build_status(
    runtime: live.Runtime,
    policy: Policy,
    *,
    now: float | None = None,
    detection_root: str = "/",
) -> Status:
    """The :class:`Status` of ``policy``, a policy of ``runtime``, at ``now``
    (``time.time()``, seconds)."""
    now = time.time() if now is None else now
    resolution = policy.resolution
    config = policy.config
    active = policy.is_active(now)
    return Status(
        active=active,
        read_only=active and config.read_only,
        reason=reason(policy, now),
        window=_window(policy, now),
        retry_after=policy.retry_after(now) if active else None,
        platform=_platform(runtime, policy, detection_root),
        config_path=config.config_path,
        config_error=resolution.source_error if config.config_path else None,
        variables=_variables(policy),
        problems=tuple(str(p) for p in resolution.problems),
        sources=_sources(runtime),
        last_change=runtime.last_change,
    )


def status(*, detection_root: str = "/") -> Status:
    """This process's view: whether maintenance is active and why, the window, the
    ``Retry-After`` seconds, every variable's value and origin (secrets masked), what is
    wrong, the health of each live source and the last change seen.

    Unlike :func:`is_active` it never raises for a bad configuration: the problems are in
    :attr:`Status.problems`. ``detection_root`` is where platform markers are looked for
    (tests point it at a fake filesystem). Costs well under a millisecond (most of it
    looking for the platform's markers).
    """
    try:
        runtime = live.get_runtime()
    except ImproperlyConfigured:
        # Report what is wrong from a runtime of our own, without installing it.
        runtime = live.Runtime(background=False)
    runtime.read_store_once()
    return build_status(runtime, runtime.state(), detection_root=detection_root)
