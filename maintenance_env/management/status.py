"""What ``maintenance_mode status`` reports, and how it is shown (text or JSON).

:func:`report` builds one dict (the ``status --json`` object); :func:`render` writes it as
text. :func:`reason` is shared with ``--write``, which says what is now in force.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

from maintenance_env import conf
from maintenance_env.conf import VARIABLES
from maintenance_env.platforms import Detection

__all__ = ["iso", "reason", "render", "report"]


def iso(moment: dt.datetime) -> str:
    """A datetime as ISO 8601 in UTC, with ``Z``."""
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _json_value(value: object) -> Any:
    """A value of :class:`conf.Config` as JSON: lists stay lists, datetimes become ISO text."""
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, (tuple, list)):
        return [_json_value(item) for item in value]
    if hasattr(value, "pattern"):  # a compiled regular expression
        return value.pattern
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)  # an IP network


def _text_value(value: object) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "(empty)"
    return str(value)


def reason(state: conf.State, now: float) -> str:
    """Why maintenance is (not) active at ``now`` (a Unix time), in one clause."""
    resolution = state.resolution
    config = state.config
    origin = resolution.origins["MAINTENANCE_MODE"].value
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


def _window(state: conf.State, now: float) -> dict[str, Any] | None:
    """The window in force or still to come; ``None`` when there is none."""
    config = state.config
    if config.starts_at is None and config.ends_at is None:
        return None
    if config.ends_at is not None and now >= config.ends_at.timestamp():
        when = "past"
    elif config.starts_at is not None and now < config.starts_at.timestamp():
        when = "upcoming"
    else:
        when = "current"
    return {
        "starts_at": iso(config.starts_at) if config.starts_at else None,
        "ends_at": iso(config.ends_at) if config.ends_at else None,
        "when": when,
    }


def report(runtime: conf.Runtime, platform: Callable[[], Detection]) -> dict[str, Any]:
    """The ``status --json`` object for ``runtime``.

    ``platform`` names the platform, or raises ``CommandError`` (a bad
    ``MAINTENANCE_MODE_PLATFORM``), which is reported instead of stopping the command.
    """
    from django.core.management.base import CommandError

    state = runtime.state()
    resolution = state.resolution
    now = time.time()
    active = state.is_active(now)
    variables: dict[str, dict[str, Any]] = {}
    for name, var in VARIABLES.items():
        value = _json_value(resolution.value(name))
        if var.secret and value is not None:
            value = "***"
        variables[name] = {"value": value, "origin": resolution.origins[name].value}
    try:
        found = platform()
        platform_info: dict[str, str | None] = {"name": found.name, "reason": found.reason}
    except CommandError as exc:
        platform_info = {"name": None, "reason": str(exc)}
    config_path = resolution.config.config_path
    return {
        "active": active,
        "reason": reason(state, now),
        "window": _window(state, now),
        "retry_after": state.retry_after(now) if active else None,
        "platform": platform_info,
        "config_path": config_path,
        "config_error": resolution.source_error if config_path else None,
        "variables": variables,
        "problems": [str(p) for p in resolution.problems],
    }


def render(data: dict[str, Any], write: Callable[[str], None], error: Callable[[str], str]) -> None:
    """``data`` (from :func:`report`) as text, one ``write`` per line; ``error`` styles
    the problem lines."""
    write(f"Maintenance is {'ACTIVE' if data['active'] else 'not active'}: {data['reason']}.")
    window = data["window"]
    if window is None:
        write("Window: none (active whenever MAINTENANCE_MODE is on)")
    else:
        write(
            f"Window: {window['starts_at'] or 'open'} to {window['ends_at'] or 'open'} "
            f"({window['when']})"
        )
    if data["retry_after"] is not None:
        write(f"Retry-After: {data['retry_after']} s")
    platform = data["platform"]
    write(f"Platform: {platform['name'] or '?'} ({platform['reason']})")
    if data["config_path"]:
        problem = data["config_error"]
        write(f"Mounted config: {data['config_path']}" + (f" ({problem})" if problem else ""))
    else:
        write("Mounted config: none (MAINTENANCE_MODE_CONFIG_PATH is not set)")
    write("")
    width = max(len(name) for name in data["variables"])
    write(f"  {'variable':<{width}}  {'from':<11}  value")
    for name, item in data["variables"].items():
        value = _text_value(item["value"])
        if name == "MAINTENANCE_MODE_RETRY_AFTER" and item["value"] is None:
            # Unset means derived, not absent: say what the header will carry.
            value = (
                "(the seconds left until ENDS_AT)"
                if data["variables"]["MAINTENANCE_MODE_ENDS_AT"]["value"]
                else f"({conf.DEFAULT_RETRY_AFTER})"
            )
        write(f"  {name:<{width}}  {item['origin']:<11}  {value}")
    for problem in data["problems"]:
        write(error(f"Problem: {problem}"))


def dumps(data: dict[str, Any]) -> str:
    """``data`` as the ``status --json`` text."""
    return json.dumps(data, indent=2)
