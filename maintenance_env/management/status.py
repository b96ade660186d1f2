"""How ``maintenance_mode status`` shows :class:`maintenance_env.api.Status`: as text, or
as the JSON of :meth:`~maintenance_env.api.Status.as_dict` (the same fields, so that the
command and :func:`maintenance_env.status` never disagree)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from maintenance_env.variables import DEFAULT_RETRY_AFTER, Origin

__all__ = ["dumps", "printable", "render", "source_lines"]


#: C0 and C1 control characters and DEL: a terminal acts on them.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(line: str) -> str:
    """``line`` with every C0/C1 control character and DEL as a backslash escape
    (``\\x1b``, ``\\n``): for whole lines of the status text, whose values (regular
    expressions, Windows paths) keep their own backslashes as written. Data printed
    alone, where an escape must not be forgeable, goes through
    :func:`maintenance_env.printing.printable` instead."""
    return _CONTROL_RE.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), line)


def _text_value(value: object) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "(empty)"
    return str(value)


def source_lines(sources: list[dict[str, Any]]) -> list[str]:
    """The text lines for the shared store's entry of ``sources`` (``as_dict()["sources"]``)."""
    store = next((s for s in sources if s["origin"] == Origin.CACHE.value), None)
    if store is None:
        return ["Shared store: none (MAINTENANCE_MODE_CACHE is not set)"]
    where = store["label"].removeprefix("the shared store ")
    if store["ok"]:
        return [f"Shared store: {where} (reachable)"]
    if store["ok"] is None:
        return [f"Shared store: {where} (not read yet)"]
    if str(store["error"]).startswith("unusable: "):
        return [
            f"Shared store: {where} (UNUSABLE: {store['error'].removeprefix('unusable: ')}; "
            "on|off --write and unset refuse to run until it is fixed)"
        ]
    return [
        f"Shared store: {where} (UNREACHABLE: {store['error']}; stale since "
        f"{store['stale_since']}: running processes keep the values they last read from "
        "it, and one that starts now counts it as absent)"
    ]


def render(data: dict[str, Any], write: Callable[[str], None], error: Callable[[str], str]) -> None:
    """``data`` (``Status.as_dict()``) as text, one ``write`` per line; ``error`` styles
    the problem lines. Control characters from live values are shown escaped, never sent
    raw to the terminal."""

    def out(line: str) -> None:
        write(printable(line))

    out(f"Maintenance is {'ACTIVE' if data['active'] else 'not active'}: {data['reason']}.")
    if data["read_only"]:
        out(
            "Read-only mode: safe methods (GET, HEAD, OPTIONS) without a body pass, and "
            "sign-in, sign-out and set_language"
        )
    window = data["window"]
    if window is None:
        out("Window: none (active whenever MAINTENANCE_MODE is on)")
    else:
        out(
            f"Window: {window['starts_at'] or 'open'} to {window['ends_at'] or 'open'} "
            f"({window['when']})"
        )
    scheduled = data["variables"].get("MAINTENANCE_MODE_SCHEDULE", {}).get("value")
    for key, label in (("current", "Current window"), ("next", "Next window")):
        occurrence = data.get(key) if scheduled else None  # else "Window:" says it all
        if occurrence is not None:
            write(
                f"{label}: {occurrence['starts_at'] or 'open'} to {occurrence['ends_at'] or 'open'}"
            )
    if data["retry_after"] is not None:
        out(f"Retry-After: {data['retry_after']} s")
    platform = data["platform"]
    out(f"Platform: {platform['name'] or '?'} ({platform['reason']})")
    if data["config_path"]:
        problem = data["config_error"]
        out(f"Mounted config: {data['config_path']}" + (f" ({problem})" if problem else ""))
    else:
        out("Mounted config: none (MAINTENANCE_MODE_CONFIG_PATH is not set)")
    for line in source_lines(data["sources"]):
        out(line)
    for source in data["sources"]:
        for note in source["notes"]:
            out(f"Skipped in {source['label']}: {note}")
    change = data["last_change"]
    if change is not None:
        state = "on" if change["active"] else "off"
        out(f"Last change seen here: {change['at']}, maintenance {state} ({change['cause']})")
    for source in data["sources"]:
        if source["changed_at"]:
            line = f"Last change of {source['label']}: {source['changed_at']}"
            if source.get("changed_by"):
                line += f", by {printable(source['changed_by'])}"
            if source.get("reason"):
                line += f": {printable(source['reason'])}"
            out(line)
        if source.get("report_error"):
            out(f"Fleet report to {source['label']} failing: {source['report_error']}")
    out("")
    width = max(len(name) for name in data["variables"])
    out(f"  {'variable':<{width}}  {'from':<11}  value")
    for name, item in data["variables"].items():
        value = _text_value(item["value"])
        if name == "MAINTENANCE_MODE_RETRY_AFTER" and item["value"] is None:
            # Unset means derived, not absent: say what the header will carry.
            value = (
                "(the seconds left until ENDS_AT)"
                if data["variables"]["MAINTENANCE_MODE_ENDS_AT"]["value"]
                else f"({DEFAULT_RETRY_AFTER})"
            )
        out(f"  {name:<{width}}  {item['origin']:<11}  {value}")
    for problem in data["problems"]:
        write(error(printable(f"Problem: {problem}")))


def dumps(data: dict[str, Any]) -> str:
    """``data`` as the ``status --json`` text."""
    return json.dumps(data, indent=2)
