"""Once per fleet: which one process sends ``fleet_changed`` for a change (contract
section 10).

For each change (a write's ``changed_at``, or a window's edge instant) every process calls
:meth:`Claims.claim`; one ``add`` of ``maintenance_env:claim:<instant>`` decides the one
process that sends :data:`maintenance_env.signals.fleet_changed`. The winner marks the claim
done (:meth:`Claims.done`) once sent; a claim still not done after :func:`claim_bound`
seconds is taken over by the next attempt key, also with ``add``. A process that lost a
claim keeps it open and checks it in the store's periodic ``get_many``
(:meth:`Claims.keys_to_read`), so watching costs no call of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from django.core.cache.backends.base import BaseCache

from maintenance_env.history import Change
from maintenance_env.printing import printable
from maintenance_env.reports import PREFIX, decode_json, report_ttl

__all__ = ["CLAIM_MEMORY", "MAX_ATTEMPTS", "Claims", "claim_bound", "send_fleet_changed"]

logger = logging.getLogger("maintenance_env")

CLAIM_PREFIX = PREFIX + "claim:"
#: How long a done claim is remembered (seconds): a process that comes back later than
#: this from a pause does not send again an event of a change that old.
CLAIM_MEMORY = 24 * 3600
#: Attempt keys per change: a claim taken over more times than this is given up (logged).
MAX_ATTEMPTS = 5


def claim_bound(interval: float) -> float:
    """Seconds after which a claim whose winner never marked it done is taken over: a
    report's lifetime (:func:`maintenance_env.reports.report_ttl`)."""
    return report_ttl(interval)


class Claims:
    """One process's claims. ``who`` is the process's name and token, as the winner's
    claim records it."""

    def __init__(self, name: str, token: str) -> None:
        self.name = name
        self.token = token
        #: Changes whose claim this process lost, and may have to take over:
        #: instant -> (attempt seen, when first seen).
        self.open_claims: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def keys_to_read(self) -> list[str]:
        """The done marker and current attempt of each open claim, for the store's
        periodic ``get_many``."""
        keys = []
        for instant, (attempt, _since) in list(self.open_claims.items()):
            keys += [_done_key(instant), _attempt_key(instant, attempt)]
        return keys

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
        who = json.dumps({"by": self.name, "t": self.token, "at": now})
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
            held = decode_json(found.get(_attempt_key(instant, attempt)))
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
