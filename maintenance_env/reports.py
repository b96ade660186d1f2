"""What a process reports to the fleet, and how a report is read (contract section 10).

:class:`State` is what a process serves now, :class:`Report` one live process as it last
reported itself (its compact JSON in the store, and back), :func:`laggards` the reports
that have not applied a change. Also the vocabulary shared by the slots
(:mod:`maintenance_env.fleet`), the history (:mod:`maintenance_env.history`) and the
once-per-fleet claims (:mod:`maintenance_env.claims`): the key prefix, what a process
serves, how long a report lives. A bottom layer: the standard library only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from maintenance_env.printing import printable

__all__ = [
    "PREFIX",
    "SERVING",
    "Report",
    "State",
    "decode_json",
    "iter_serving",
    "laggards",
    "report_ttl",
    "text_or_none",
]

#: Every fleet key starts with it (the store's own keys do too: ``cache_url.KEY_PREFIX``).
PREFIX = "maintenance_env:"
#: What a process serves, as a report says.
SERVING = ("on", "read-only", "off")
#: A report is renewed at least this often (seconds), whatever the reload interval.
MAX_REPORT_EVERY = 10.0
#: A report not renewed within this many intervals expires (at least :data:`MIN_TTL` s).
TTL_INTERVALS = 3
MIN_TTL = 30.0


def report_ttl(interval: float) -> float:
    """Seconds a report lives without renewal: 3 reporting periods, at least 30 s.

    The period is ``interval`` capped at :data:`MAX_REPORT_EVERY` (a report is renewed at
    least every 10 s), so a process that died drops out within ``report_ttl`` seconds.
    """
    period = min(max(float(interval), 0.0), MAX_REPORT_EVERY)
    return max(TTL_INTERVALS * period, MIN_TTL)


def text_or_none(value: object) -> str | None:
    """``value`` when it is text, else ``None`` (for values read back from the store)."""
    return value if isinstance(value, str) else None


def decode_json(raw: object) -> dict[str, Any] | None:
    """A JSON object read back from the store (text or UTF-8 bytes); ``None`` for
    anything else."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str):
        return None
    try:
        found = json.loads(raw)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _iso(instant: float) -> str:
    moment = dt.datetime.fromtimestamp(instant, dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclasses.dataclass(frozen=True)
class State:
    """What a process serves now, as the refresher knows it.

    ``serving`` is one of :data:`SERVING`; ``changed_at`` the store's ``changed_at`` it has
    applied (ISO text, ``None`` before any write); ``interval`` the reload interval (s).
    """

    serving: str
    changed_at: str | None
    interval: float

    def __post_init__(self) -> None:
        if self.serving not in SERVING:
            raise ValueError(f"serving={self.serving!r}: expected one of {', '.join(SERVING)}")


@dataclasses.dataclass(frozen=True)
class Report:
    """One live process, as it last reported itself.

    ``reported_at`` and ``expires_at`` are POSIX seconds; ``slot`` is its slot number;
    ``token`` tells two processes with the same host and pid apart (containers).
    """

    host: str
    pid: int
    serving: str
    changed_at: str | None
    reported_at: float
    expires_at: float
    slot: int
    token: str

    @property
    def name(self) -> str:
        """``host:pid``, as laggards are named."""
        return f"{printable(self.host)}:{self.pid}"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, times as ISO 8601 UTC text."""
        return {
            "host": self.host,
            "pid": self.pid,
            "serving": self.serving,
            "changed_at": self.changed_at,
            "reported_at": _iso(self.reported_at),
            "expires_at": _iso(self.expires_at),
            "slot": self.slot,
        }

    def encode(self) -> str:
        """The slot's value: compact JSON (about 150 bytes)."""
        return json.dumps(
            {
                "h": self.host,
                "p": self.pid,
                "s": self.serving,
                "c": self.changed_at,
                "r": round(self.reported_at, 3),
                "e": round(self.expires_at, 3),
                "t": self.token,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, raw: object, slot: int) -> Report | None:
        """A slot's value read back; ``None`` for anything that is not a report."""
        found = decode_json(raw)
        if found is None:
            return None
        host, pid, serving = found.get("h"), found.get("p"), found.get("s")
        reported, expires, token = found.get("r"), found.get("e"), found.get("t")
        if not (
            isinstance(host, str)
            and isinstance(pid, int)
            and serving in SERVING
            and isinstance(reported, (int, float))
            and isinstance(expires, (int, float))
            and isinstance(token, str)
        ):
            return None
        return cls(
            host,
            pid,
            str(serving),
            text_or_none(found.get("c")),
            float(reported),
            float(expires),
            slot,
            token,
        )


def iter_serving(reports: Iterable[Report]) -> dict[str, list[Report]]:
    """``reports`` grouped by what they serve, in the order of :data:`SERVING`."""
    groups: dict[str, list[Report]] = {name: [] for name in SERVING}
    for found in reports:
        groups[found.serving].append(found)
    return groups


def _applied(found: Report, changed_at: str | None) -> bool:
    if changed_at is None:
        return True
    # ISO 8601 UTC texts of one format compare in time order.
    return found.changed_at is not None and found.changed_at >= changed_at


def laggards(reports: Sequence[Report], target: str | None, changed_at: str | None) -> list[Report]:
    """The reports that do not serve ``target`` (one of ``on``, ``read-only``, ``off``;
    ``None``: any) or have not applied the change at ``changed_at``."""
    return [
        r
        for r in reports
        if (target is not None and r.serving != target) or not _applied(r, changed_at)
    ]
