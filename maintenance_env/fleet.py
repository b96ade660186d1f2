"""Fleet operations through the shared store: process reports, the change history, and
the once-per-fleet claim (contract section 10).

Everything here uses only Django's cache API (``get``, ``get_many``, ``set``, ``add``,
``delete`` and timeouts), so it works alike on Redis, Memcached and the database cache:
there is no key listing in that API, so nothing here lists or scans keys.

**Process reports.** Each serving process claims the lowest free *slot*,
``maintenance_env:process:<n>``, with ``add`` (atomic on every backend: two processes never
hold one slot) and a timeout of :func:`report_ttl` (3 intervals, at least 30 s). It renews
the slot with one ``set`` per interval, and checks that the slot is still its own in the
``get_many`` the store already does each interval (:meth:`Reporter.keys_to_read`): a process
that was paused past its timeout, and whose slot another process took, claims a new one. A
reader (:func:`live_reports`) fetches slots in chunks of :data:`CHUNK` with ``get_many`` up
to the high-water mark ``maintenance_env:process:high`` (the highest slot ever claimed plus
one, raised by a claimer, never lowered within its timeout), and on past it until a chunk
is empty. A process that died stops renewing, and its report expires by itself.

**History.** :func:`record_change` prepends a :class:`Change` to one key,
``maintenance_env:history``, a JSON list bounded to :data:`HISTORY_LIMIT` entries; writers
serialise on a short ``add`` lock (see :func:`record_change` for what concurrent writers
see). :func:`history` reads it back, newest first.

**Once per fleet.** For each change (a write's ``changed_at``, or a window's edge instant)
every process calls :meth:`Reporter.claim`; one ``add`` of ``maintenance_env:claim:<instant>``
decides the one process that sends :data:`maintenance_env.signals.fleet_changed`. The winner
marks the claim done (:meth:`Reporter.done`) once sent; a claim still not done after
:func:`claim_bound` seconds is taken over by the next attempt key, also with ``add``.

Where it is wired in: the store's reader thread
(:meth:`maintenance_env.sources.store.SharedStore._report`, after each good read) reports
this process's state from :meth:`maintenance_env.live.Runtime.serving`, with the slot, the
high-water mark and the open claims read in the ``get_many`` it does anyway, and claims
each change it sees (a write's ``changed_at``, or a window's edge), sending
``fleet_changed`` outside any call's deadline when it wins; the writer
(:func:`maintenance_env.writes.write`) records the change with :func:`record_change`, or,
without a store, sends ``fleet_changed`` itself; the app's ``ready`` connects the webhook
(:func:`maintenance_env.webhook.connect`).

In steady state (a slot held, no open claim) that is one extra call per interval, the
``set``; the slot, the high-water mark and open claims ride on the existing ``get_many``.
Reporting failures are the store's failures: the caller handles them as a failing read
(section 8), and nothing here is ever called from a request.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import json
import logging
import os
import secrets
import socket
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.core.cache.backends.base import BaseCache

__all__ = [
    "CHUNK",
    "HISTORY_KEY",
    "HISTORY_LIMIT",
    "PROCESS_PREFIX",
    "SERVING",
    "Change",
    "FleetError",
    "Report",
    "Reporter",
    "State",
    "claim_bound",
    "default_by",
    "history",
    "laggards",
    "live_reports",
    "printable",
    "record_change",
    "report",
    "report_ttl",
    "reporter",
    "send_fleet_changed",
]

logger = logging.getLogger("maintenance_env")

PREFIX = "maintenance_env:"
#: A process's slot is this prefix and a number from 0.
PROCESS_PREFIX = PREFIX + "process:"
#: The highest slot ever claimed plus one (an int), renewed with the reports' timeout.
HIGH_WATER_KEY = PROCESS_PREFIX + "high"
HISTORY_KEY = PREFIX + "history"
HISTORY_LOCK_KEY = PREFIX + "history:lock"
CLAIM_PREFIX = PREFIX + "claim:"
#: The last changes kept by :func:`record_change`.
HISTORY_LIMIT = 50
#: Slots read per ``get_many`` by :func:`live_reports`.
CHUNK = 100
#: The most slots a fleet may hold: readers and claimers never look past it, whatever the
#: store's high-water mark says.
MAX_SLOTS = 100_000
#: A report is renewed at least this often (seconds), whatever the reload interval.
MAX_REPORT_EVERY = 10.0
#: A report not renewed within this many intervals expires (at least :data:`MIN_TTL` s).
TTL_INTERVALS = 3
MIN_TTL = 30.0
#: How long a done claim is remembered (seconds): a process that comes back later than
#: this from a pause does not send again an event of a change that old.
CLAIM_MEMORY = 24 * 3600
#: Attempt keys per change: a claim taken over more times than this is given up (logged).
MAX_ATTEMPTS = 5
#: What a process serves, as a report says.
SERVING = ("on", "read-only", "off")
#: The longest ``--reason``/``--by`` text kept (characters).
MAX_TEXT = 500


class FleetError(Exception):
    """A fleet operation cannot be done (no store, a bad argument); the message says why."""


def report_ttl(interval: float) -> float:
    """Seconds a report lives without renewal: 3 reporting periods, at least 30 s.

    The period is ``interval`` capped at :data:`MAX_REPORT_EVERY` (a report is renewed at
    least every 10 s), so a process that died drops out within ``report_ttl`` seconds.
    """
    period = min(max(float(interval), 0.0), MAX_REPORT_EVERY)
    return max(TTL_INTERVALS * period, MIN_TTL)


def claim_bound(interval: float) -> float:
    """Seconds after which a claim whose winner never marked it done is taken over."""
    return report_ttl(interval)


def printable(text: object) -> str:
    """``text`` safe to print on one line of a terminal, a log or a chat message: every
    control or format character (C0, C1, DEL, bidi overrides, zero-width) is written as
    its ``\\xNN``/``\\uNNNN`` escape, and a backslash as ``\\\\`` so that an escape cannot be
    forged. Any other value is turned into text first."""
    out: list[str] = []
    for char in str(text):
        if char == "\\":
            out.append("\\\\")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def check_text(option: str, value: str | None) -> str | None:
    """``--reason``/``--by`` text as it will be recorded: stripped, ``None`` when empty.

    Raises :class:`FleetError` naming the option when longer than :data:`MAX_TEXT`
    characters. Control characters are kept as data and escaped where printed."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise FleetError(f"{option} is {len(text)} characters long: at most {MAX_TEXT}")
    return text


def default_by() -> str:
    """Who changes the state when nobody says: the OS user at the host name."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


def _iso(instant: float) -> str:
    moment = dt.datetime.fromtimestamp(instant, dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _decode(raw: object) -> dict[str, Any] | None:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str):
        return None
    try:
        found = json.loads(raw)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


# --- reports --------------------------------------------------------------------------------


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
        found = _decode(raw)
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
            _text_or_none(found.get("c")),
            float(reported),
            float(expires),
            slot,
            token,
        )


def slot_key(slot: int) -> str:
    """The cache key of slot ``slot``."""
    return f"{PROCESS_PREFIX}{slot}"


def _high(found: Mapping[str, Any]) -> int:
    value = found.get(HIGH_WATER_KEY)
    return value if isinstance(value, int) and value >= 0 else 0


def live_reports(cache: BaseCache, *, now: float | None = None) -> list[Report]:
    """Every live process's report, by slot, read with ``get_many`` in chunks of
    :data:`CHUNK` slots: up to the high-water mark, then on until a chunk is empty.

    A process that re-claimed a slot may briefly show in two; only its newest report is
    kept. Reports past their own expiry (``now``, POSIX seconds, default the clock) are
    left out even where a backend has not dropped them yet. Cache errors propagate.
    """
    now = time.time() if now is None else now
    newest: dict[str, Report] = {}
    start, high = 0, None
    for _chunk in range(MAX_SLOTS // CHUNK):
        keys = [slot_key(n) for n in range(start, start + CHUNK)]
        found = cache.get_many(keys + ([HIGH_WATER_KEY] if high is None else []))
        if high is None:
            high = _high(found)
        any_found = False
        for n in range(start, start + CHUNK):
            report_ = Report.decode(found.get(slot_key(n)), n)
            if report_ is None:
                continue
            any_found = True
            if report_.expires_at < now:
                continue
            known = newest.get(report_.token)
            if known is None or known.reported_at < report_.reported_at:
                newest[report_.token] = report_
        start += CHUNK
        if not any_found and start >= high:
            break
    return sorted(newest.values(), key=lambda r: r.slot)


class Reporter:
    """This process's slot and open claims. Use :func:`reporter` for the process's own."""

    def __init__(self, host: str | None = None, pid: int | None = None) -> None:
        self.host = host or socket.gethostname()
        self.pid = os.getpid() if pid is None else pid
        self.token = secrets.token_hex(6)
        #: The slot held, or ``None`` before the first claim.
        self.slot: int | None = None
        #: Changes whose claim this process lost, and may have to take over:
        #: instant -> (attempt seen, when first seen).
        self.open_claims: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    # -- the slot ------------------------------------------------------------------------

    def keys_to_read(self) -> list[str]:
        """Keys to add to the store's periodic ``get_many``: this process's slot, the
        high-water mark, and the done marker and current attempt of each open claim."""
        keys = [HIGH_WATER_KEY]
        if self.slot is not None:
            keys.append(slot_key(self.slot))
        for instant, (attempt, _since) in self.open_claims.items():
            keys += [_done_key(instant), _attempt_key(instant, attempt)]
        return keys

    def _value(self, state: State, now: float) -> tuple[str, float]:
        ttl = report_ttl(state.interval)
        value = Report(
            self.host, self.pid, state.serving, state.changed_at, now, now + ttl, -1, self.token
        ).encode()
        return value, ttl

    def report(
        self,
        cache: BaseCache,
        state: State,
        now: float,
        *,
        found: Mapping[str, Any] | None = None,
    ) -> None:
        """Report ``state`` at ``now`` (POSIX seconds). ``found`` is what the store's
        ``get_many`` returned for :meth:`keys_to_read` this interval: with it, a held slot
        costs one ``set``; without it, a ``get_many`` more. Cache errors propagate."""
        with self._lock:
            if found is None:
                found = cache.get_many(self.keys_to_read())
            value, ttl = self._value(state, now)
            if self.slot is not None:
                held = Report.decode(found.get(slot_key(self.slot)), self.slot)
                if held is not None and held.token == self.token:
                    cache.set(slot_key(self.slot), value, timeout=ttl)
                    self._raise_high(cache, found, self.slot, ttl)
                    return
                if held is None and cache.add(slot_key(self.slot), value, timeout=ttl):
                    self._raise_high(cache, found, self.slot, ttl)
                    return
                logger.info(
                    "maintenance_env: slot %s of %s is taken by another process; "
                    "claiming a new one",
                    self.slot,
                    printable(f"{self.host}:{self.pid}"),
                )
                self.slot = None
            self.slot = self._claim_slot(cache, value, ttl, _high(found))
            self._raise_high(cache, found, self.slot, ttl, force=True)

    def _claim_slot(self, cache: BaseCache, value: str, ttl: float, high: int) -> int:
        """The lowest free slot, taken with ``add``: free slots below the high-water mark
        are found with ``get_many`` in chunks, then tried in order."""
        start = 0
        for _chunk in range(MAX_SLOTS // CHUNK):
            keys = [slot_key(n) for n in range(start, start + CHUNK)]
            found = cache.get_many(keys)
            for n in range(start, start + CHUNK):
                if slot_key(n) not in found and cache.add(slot_key(n), value, timeout=ttl):
                    return n
            start += CHUNK
        raise FleetError(f"no free process slot in the store below {MAX_SLOTS:,}")

    def _raise_high(
        self,
        cache: BaseCache,
        found: Mapping[str, Any],
        slot: int,
        ttl: float,
        *,
        force: bool = False,
    ) -> None:
        """Raise the high-water mark to ``slot + 1`` when it is lower (or unset); the
        holder of the highest slot renews it only when it is about to be missing."""
        high = found.get(HIGH_WATER_KEY)
        if force or not isinstance(high, int) or high < slot + 1:
            current = _high(found)
            cache.set(HIGH_WATER_KEY, max(current, slot + 1), timeout=max(ttl * 10, 3600))

    def leave(self, cache: BaseCache) -> None:
        """Give up the slot at once (a clean shutdown); errors propagate."""
        with self._lock:
            if self.slot is not None:
                cache.delete(slot_key(self.slot))
                self.slot = None

    # -- once per fleet --------------------------------------------------------------------

    def claim(
        self,
        cache: BaseCache,
        instant: str,
        now: float,
        *,
        interval: float = 1.0,
        found: Mapping[str, Any] | None = None,
    ) -> bool:
        """Whether this process is the one to send ``fleet_changed`` for ``instant`` (a
        change's ``changed_at`` or a window's edge, ISO text). Call it when the change is
        first seen, and each interval after while it is in :attr:`open_claims` (pass the
        interval's ``get_many`` result as ``found``). ``True`` at most once per change in
        the fleet while the winner lives; a winner that died without :meth:`done` within
        :func:`claim_bound` seconds is replaced by the next attempt's winner."""
        bound = claim_bound(interval)
        who = json.dumps({"by": f"{self.host}:{self.pid}", "t": self.token, "at": now})
        with self._lock:
            if instant not in self.open_claims:
                # First seen: one `add`, no read.
                if cache.add(_attempt_key(instant, 0), who, timeout=CLAIM_MEMORY):
                    return True
                self.open_claims[instant] = (0, now)
                return False
            attempt, since = self.open_claims[instant]
            if found is None:
                found = cache.get_many([_done_key(instant), _attempt_key(instant, attempt)])
            if found.get(_done_key(instant)) is not None:
                self.open_claims.pop(instant, None)
                return False
            held = _decode(found.get(_attempt_key(instant, attempt)))
            taken_at = held.get("at") if held else None
            if isinstance(taken_at, (int, float)) and now - float(taken_at) < bound:
                return False
            # The winner died holding the claim (or the store lost it): the next attempt.
            attempt += 1
            if attempt >= MAX_ATTEMPTS:
                self.open_claims.pop(instant, None)
                logger.error(
                    "maintenance_env: fleet_changed for the change at %s was claimed %s "
                    "times and never sent; giving up",
                    printable(instant),
                    MAX_ATTEMPTS,
                )
                return False
            if cache.add(_attempt_key(instant, attempt), who, timeout=CLAIM_MEMORY):
                self.open_claims.pop(instant, None)
                logger.warning(
                    "maintenance_env: took over fleet_changed for the change at %s "
                    "(its claim was not done within %ss)",
                    printable(instant),
                    bound,
                )
                return True
            self.open_claims[instant] = (attempt, since)
            return False

    def done(self, cache: BaseCache, instant: str) -> None:
        """Mark the claim of ``instant`` done: ``fleet_changed`` was sent."""
        cache.set(_done_key(instant), "1", timeout=CLAIM_MEMORY)


def _claim_name(instant: str) -> str:
    # Memcached keys: at most 250 bytes, no spaces or control characters.
    safe = "".join(c if c.isascii() and (c.isalnum() or c in ":.-_+") else "_" for c in instant)
    return CLAIM_PREFIX + safe[:64]


def _attempt_key(instant: str, attempt: int) -> str:
    name = _claim_name(instant)
    return name if attempt == 0 else f"{name}:{attempt}"


def _done_key(instant: str) -> str:
    return _claim_name(instant) + ":done"


_reporter: Reporter | None = None
_reporter_lock = threading.Lock()


def reporter() -> Reporter:
    """This process's :class:`Reporter`; a forked child gets a new one (never its
    parent's slot)."""
    global _reporter
    with _reporter_lock:
        if _reporter is None or _reporter.pid != os.getpid():
            _reporter = Reporter()
        return _reporter


def after_fork() -> None:
    """In a forked child (called by the package's one at-fork hook, in
    :mod:`maintenance_env.runtime`): no reporter (never the parent's slot), a new lock."""
    global _reporter, _reporter_lock
    _reporter = None
    _reporter_lock = threading.Lock()


def report(cache: BaseCache, state: State, now: float) -> None:
    """Report this process's ``state`` at ``now`` (POSIX seconds) with its own
    :class:`Reporter`: one ``set`` once the slot is held plus a ``get_many`` to check it
    (the refresher saves that one by passing its own read to :meth:`Reporter.report`)."""
    reporter().report(cache, state, now)


# --- history --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Change:
    """One write by the package: when, by whom, why, and what it set.

    ``changed_at`` is ISO 8601 UTC text (the store's ``changed_at``); ``serving`` the state
    written (one of :data:`SERVING`, or ``None`` when the write changed other values only);
    ``source`` what wrote it (``command``, ``admin``, ``api``, ``schedule``). Text fields are
    data: print them through :func:`printable`.
    """

    changed_at: str
    changed_by: str | None = None
    reason: str | None = None
    serving: str | None = None
    source: str = "command"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, found: Mapping[str, Any]) -> Change | None:
        """A history entry read back; ``None`` for anything that is not one."""
        changed_at = found.get("changed_at")
        if not isinstance(changed_at, str):
            return None
        serving = found.get("serving")
        source = found.get("source")
        return cls(
            changed_at,
            _text_or_none(found.get("changed_by")),
            _text_or_none(found.get("reason")),
            serving if serving in SERVING else None,
            source if isinstance(source, str) else "command",
        )


def _read_history(raw: object) -> list[Change]:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str):
        return []
    try:
        entries = json.loads(raw)
    except ValueError:
        logger.error("maintenance_env: the change history in the store is not JSON; ignored")
        return []
    if not isinstance(entries, list):
        return []
    changes = [Change.from_dict(e) for e in entries if isinstance(e, dict)]
    return [c for c in changes if c is not None]


def history(cache: BaseCache) -> list[Change]:
    """The last changes (at most :data:`HISTORY_LIMIT`), newest first. Cache errors
    propagate; an entry that cannot be read is left out."""
    return _read_history(cache.get(HISTORY_KEY))


def record_change(
    cache: BaseCache,
    change: Change,
    *,
    lock_timeout: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Change]:
    """Prepend ``change`` to the history, keeping the last :data:`HISTORY_LIMIT`; returns
    the history as written.

    Concurrent writers serialise on a lock key taken with ``add`` (expiring after
    ``lock_timeout`` s, so a writer that died holding it blocks nobody for longer). A writer
    that cannot take it within ``lock_timeout`` writes anyway and logs a WARNING: one of the
    two concurrent entries may then be missing from the history (never the values written).
    Cache errors propagate.
    """
    token = secrets.token_hex(6)
    deadline = clock() + lock_timeout
    locked = False
    for _try in range(1000):
        if cache.add(HISTORY_LOCK_KEY, token, timeout=max(int(lock_timeout), 1)):
            locked = True
            break
        if clock() >= deadline:
            break
        sleep(0.01)
    if not locked:
        logger.warning(
            "maintenance_env: another writer held the history lock for %ss; writing the change "
            "at %s anyway (a concurrent entry may be missing from the history)",
            lock_timeout,
            printable(change.changed_at),
        )
    try:
        entries = [change, *history(cache)][:HISTORY_LIMIT]
        cache.set(
            HISTORY_KEY,
            json.dumps([e.as_dict() for e in entries], separators=(",", ":")),
            timeout=None,
        )
        return entries
    finally:
        if locked and cache.get(HISTORY_LOCK_KEY) == token:
            cache.delete(HISTORY_LOCK_KEY)


# --- the signal ------------------------------------------------------------------------------


def send_fleet_changed(
    active: bool,
    previous: bool | None,
    change: Change,
    *,
    read_only: bool = False,
    message: str | None = None,
    ends_at: dt.datetime | None = None,
) -> None:
    """Send :data:`maintenance_env.signals.fleet_changed` in this process (the claim's
    winner, or the writer without a store). A receiver that raises is logged and never
    stops the others."""
    from maintenance_env.signals import fleet_changed

    results = fleet_changed.send_robust(
        sender=Change,
        active=active,
        previous=previous,
        change=change,
        read_only=read_only,
        message=message,
        ends_at=ends_at,
    )
    for receiver, result in results:
        if isinstance(result, Exception):
            logger.error(
                "maintenance_env: a fleet_changed receiver (%s) failed",
                getattr(receiver, "__qualname__", receiver),
                exc_info=result,
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
