"""The typed answer of :func:`maintenance_env.status`: :class:`Status` and its parts, and
:func:`build_status`, which builds one from a runtime and one of its policies.

The platform is an input (``platform=``): detecting it belongs to the Python API and the
management command, not to the runtime that builds a status for ``maintenance_changed``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from maintenance_env import live
from maintenance_env.policy import Policy
from maintenance_env.signals import Change
from maintenance_env.source_health import SourceHealth, source_health
from maintenance_env.variables import VARIABLES, Origin

__all__ = [
    "PlatformInfo",
    "SourceHealth",
    "Status",
    "VariableStatus",
    "Window",
    "build_status",
    "configured_platform",
    "iso",
    "reason",
]

#: What replaces a secret's value (``MAINTENANCE_MODE_BYPASS_SECRET``, the cache URL).
MASK = "***"


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
    #: The schedule's phase now (``"off"``, ``"upcoming"``, ``"read-only"``, ``"active"``),
    #: the window maintenance is active in, and the next window to start (section 11).
    phase: str = "off"
    current: Window | None = None
    next: Window | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, the keys of ``maintenance_mode status --json``: datetimes as ISO
        8601 UTC text (``2040-06-01T02:00:00Z``), lists as lists, origins as their names."""
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
                    "changed_by": source.changed_by,
                    "reason": source.reason,
                    "report_error": source.report_error,
                }
                for source in self.sources
            ],
            "last_change": self.last_change.as_dict() if self.last_change else None,
            "phase": self.phase,
            "current": _window_dict(self.current),
            "next": _window_dict(self.next),
        }


def _window_dict(window: Window | None) -> dict[str, Any] | None:
    if window is None:
        return None
    return {"starts_at": iso(window.starts_at), "ends_at": iso(window.ends_at), "when": window.when}


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
    if config.schedule is not None:
        period = policy.period(now)
        if period is not None and not period.phase.inside:
            upcoming = period.next
            after = f"; the next starts at {iso(upcoming.starts_at)}" if upcoming else ""
            return (
                f"MAINTENANCE_MODE is on, from the {origin}, but no window of "
                f"MAINTENANCE_MODE_SCHEDULE ({config.schedule}) is open{after}"
            )
        if period is not None and period.current is not None:
            return (
                f"MAINTENANCE_MODE is on, from the {origin}, in a window of "
                f"MAINTENANCE_MODE_SCHEDULE until {iso(period.current.ends_at)}"
            )
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


def configured_platform(runtime: live.Runtime, policy: Policy) -> PlatformInfo | None:
    """The platform ``MAINTENANCE_MODE_PLATFORM`` names (or why it is bad), or ``None``
    when it is unset and the platform would have to be detected."""
    for problem in runtime.base.problems:
        if problem.name == "MAINTENANCE_MODE_PLATFORM":
            return PlatformInfo(None, str(problem))
    configured = policy.config.platform
    if configured:
        origin = policy.resolution.origins["MAINTENANCE_MODE_PLATFORM"].value
        return PlatformInfo(configured, f"MAINTENANCE_MODE_PLATFORM (from the {origin})")
    return None


#: The platform of a status built without detection (the ``maintenance_changed`` payload).
NOT_DETECTED = PlatformInfo(None, "not detected here: maintenance_env.status() detects it")


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
    refused = {p.name: p for p in resolution.problems if p.name == "MAINTENANCE_MODE_CACHE"}
    for name, var in VARIABLES.items():
        value = var.show(resolution.value(name))
        found[name] = VariableStatus(value, resolution.origins[name])
        if name in refused:  # set, though unusable: shown as set, not as unset
            found[name] = VariableStatus(var.show(refused[name].raw), refused[name].origin)
    variables = MappingProxyType(found)
    _variables_cache = (policy, variables)
    return variables


def build_status(
    runtime: live.Runtime,
    policy: Policy,
    *,
    now: float | None = None,
    platform: PlatformInfo | None = None,
) -> Status:
    """The :class:`Status` of ``policy``, a policy of ``runtime``, at ``now``
    (``time.time()``, seconds). ``platform`` defaults to :func:`configured_platform`, or
    :data:`NOT_DETECTED` when ``MAINTENANCE_MODE_PLATFORM`` is unset."""
    now = time.time() if now is None else now
    resolution = policy.resolution
    config = policy.config
    active = policy.is_active(now)
    period = policy.period(now) if config.enabled else None
    current = period.current if period is not None else None
    upcoming = period.next if period is not None else None
    if platform is None:
        platform = configured_platform(runtime, policy) or NOT_DETECTED
    return Status(
        active=active,
        read_only=active and policy.is_read_only(now),
        reason=reason(policy, now),
        window=_window(policy, now),
        retry_after=policy.retry_after(now) if active else None,
        platform=platform,
        config_path=config.config_path,
        config_error=resolution.source_error if config.config_path else None,
        variables=_variables(policy),
        problems=tuple(str(p) for p in resolution.problems),
        sources=source_health(runtime),
        last_change=runtime.last_change,
        phase=(period.phase.value if period else "active" if active else "off"),
        current=Window(current.starts_at, current.ends_at, "current") if current else None,
        next=Window(upcoming.starts_at, upcoming.ends_at, "upcoming") if upcoming else None,
    )
