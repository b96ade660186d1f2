"""The fleet parts of ``maintenance_mode``: ``status --fleet``, ``history`` and ``--wait``.

Functions only; the command calls them. Every text from the store (host names, ``--by``,
``--reason``) is printed through :func:`maintenance_env.printing.printable`, so it can never
move the cursor, rewrite a line or hide in a terminal; JSON carries it as data.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence

from django.core.cache.backends.base import BaseCache

from maintenance_env.fleet import FleetError, live_reports
from maintenance_env.history import Change, history
from maintenance_env.printing import printable
from maintenance_env.reports import SERVING, Report, iter_serving, laggards

__all__ = [
    "NO_STORE",
    "WaitResult",
    "fleet_json",
    "fleet_text",
    "history_json",
    "history_text",
    "laggards",
    "run_fleet",
    "run_history",
    "run_wait",
    "wait_for_fleet",
    "wait_interval",
]

NO_STORE = (
    "--wait needs the shared store: set MAINTENANCE_MODE_CACHE so that the processes report "
    "what they serve"
)


def _change_line(change: Change | None) -> str:
    if change is None:
        return "Last change: none recorded"
    line = f"Last change: {printable(change.changed_at)}"
    if change.serving:
        line += f", {change.serving}"
    line += f", by {printable(change.changed_by or 'unknown')}"
    if change.reason:
        line += f": {printable(change.reason)}"
    return line


def fleet_json(
    reports: Sequence[Report], last: Change | None, changed_at: str | None
) -> dict[str, object]:
    """``status --fleet --json``: processes by what they serve, laggards, the last change."""
    groups = iter_serving(reports)
    return {
        "processes": len(reports),
        "serving": {name: [r.as_dict() for r in groups[name]] for name in SERVING},
        "changed_at": changed_at,
        "laggards": [r.as_dict() for r in laggards(reports, None, changed_at)],
        "last_change": last.as_dict() if last is not None else None,
    }


def fleet_text(reports: Sequence[Report], last: Change | None, changed_at: str | None) -> str:
    """``status --fleet``: one block per state served, laggards named, the last change."""
    lines = [f"Fleet: {len(reports)} live process{'es' if len(reports) != 1 else ''}"]
    if not reports:
        lines.append("  none has reported within its expiry (are the servers running?)")
    for name, group in iter_serving(reports).items():
        if group:
            names = ", ".join(r.name for r in group)
            lines.append(f"  {name}: {len(group)} ({names})")
    behind = laggards(reports, None, changed_at)
    if behind:
        lines.append(
            f"  not applied the change at {printable(changed_at)}: "
            + ", ".join(r.name for r in behind)
        )
    lines.append(_change_line(last))
    return "\n".join(lines)


def history_text(changes: Sequence[Change]) -> str:
    """``history``: one line per change, newest first, every text escaped."""
    if not changes:
        return "No change recorded in the shared store."
    lines = []
    for change in changes:
        line = f"{printable(change.changed_at)}  {change.serving or '-':9}  "
        line += f"{printable(change.changed_by or 'unknown')} ({printable(change.source)})"
        if change.reason:
            line += f": {printable(change.reason)}"
        lines.append(line)
    return "\n".join(lines)


def history_json(changes: Sequence[Change]) -> str:
    """``history --json``: a JSON list, newest first."""
    return json.dumps([c.as_dict() for c in changes], indent=2)


@dataclasses.dataclass(frozen=True)
class WaitResult:
    """How ``--wait`` ended: ``exit_code`` 0 when every live process serves ``target``,
    1 at the timeout; ``count`` live processes; ``elapsed`` seconds; ``laggards`` at the
    end (empty on success); ``text`` the line to print."""

    exit_code: int
    target: str
    count: int
    elapsed: float
    laggards: tuple[Report, ...]
    text: str

    @property
    def ok(self) -> bool:
        """Whether the whole fleet serves the target."""
        return self.exit_code == 0


def wait_for_fleet(
    cache: BaseCache | None,
    target: str,
    timeout: float = 60.0,
    interval: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    *,
    changed_at: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], float] = time.time,
    read: Callable[[], list[Report]] | None = None,
) -> WaitResult:
    """Wait until every live process serves ``target`` (``on``, ``read-only`` or ``off``)
    and, with ``changed_at``, has applied that change; read the reports every ``interval``
    seconds, for at most ``timeout`` seconds by ``clock``. ``read`` reads the reports
    instead of ``cache`` (the command's store, under the package's deadline).

    A process whose report expired (it died) is not waited for; one that stopped
    reporting but has not expired yet (paused, hung) is a laggard. Raises
    :class:`~maintenance_env.fleet.FleetError` without a store (``cache`` is ``None``) or
    for a bad argument; cache errors propagate.
    """
    if cache is None and read is None:
        raise FleetError(NO_STORE)
    if target not in SERVING:
        raise FleetError(f"target={target!r}: expected one of {', '.join(SERVING)}")
    if timeout < 0 or interval <= 0:
        raise FleetError(f"--timeout {timeout} and interval {interval}: expected >= 0 and > 0")
    start = clock()
    reports: list[Report] = []
    behind: list[Report] = []
    for _round in range(int(timeout / interval) + 2):
        reports = read() if read is not None else live_reports(cache, now=now())  # type: ignore[arg-type]
        behind = laggards(reports, target, changed_at)
        elapsed = clock() - start
        if not behind:
            count = len(reports)
            if count:
                text = f"All {count} live process{'es' if count != 1 else ''} serve {target}"
            else:
                text = f"No live process reports to the store: nothing serves other than {target}"
            return WaitResult(0, target, count, elapsed, (), f"{text} (after {elapsed:.1f}s).")
        if elapsed >= timeout:
            break
        sleep(max(min(interval, timeout - elapsed), 0.0))
    elapsed = clock() - start
    names = ", ".join(f"{r.name} ({r.serving})" for r in behind)
    text = (
        f"Timed out after {elapsed:.1f}s: {len(behind)} of {len(reports)} live processes "
        f"do not serve {target} yet: {names}"
    )
    return WaitResult(1, target, len(reports), elapsed, tuple(behind), text)


def last_change(cache: BaseCache) -> Change | None:
    """The newest recorded change, or ``None``."""
    changes = history(cache)
    return changes[0] if changes else None


def wait_interval(reload_interval: float) -> float:
    """How often ``--wait`` reads the reports (seconds): a quarter of the reload interval,
    between 0.05 and 0.5, so that it sees the last process within that of its report."""
    return max(min(reload_interval / 4, 0.5), 0.05)


def run_wait(
    write: Callable[[str], None],
    read: Callable[[], list[Report]],
    target: str,
    changed_at: str | None,
    timeout: float,
    reload_interval: float,
) -> int:
    """``on|off --write --wait``: wait for the fleet, print how it ended, return the exit
    code (0: every live process serves ``target``; 1: the timeout, laggards named)."""
    result = wait_for_fleet(
        None, target, timeout, wait_interval(reload_interval), changed_at=changed_at, read=read
    )
    write(result.text)
    return result.exit_code


def run_fleet(
    write: Callable[[str], None],
    reports: Sequence[Report],
    changes: Sequence[Change],
    changed_at: str | None,
    *,
    as_json: bool,
) -> None:
    """``status --fleet [--json]``."""
    last = changes[0] if changes else None
    if as_json:
        write(json.dumps(fleet_json(reports, last, changed_at), indent=2))
    else:
        write(fleet_text(reports, last, changed_at))


def run_history(write: Callable[[str], None], changes: Sequence[Change], *, as_json: bool) -> None:
    """``history [--json]``."""
    write(history_json(changes) if as_json else history_text(changes))
