"""The change history in the shared store: when, by whom, why (contract section 10).

:func:`record_change` prepends a :class:`Change` to one key, ``maintenance_env:history``, a
JSON list bounded to :data:`HISTORY_LIMIT` entries; writers serialise on a short ``add``
lock (see :func:`record_change` for what concurrent writers see). :func:`history` reads it
back, newest first. Only Django's cache API is used (``get``, ``set``, ``add``,
``delete``), so it works alike on Redis, Memcached and the database cache.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.core.cache.backends.base import BaseCache

from maintenance_env.printing import printable
from maintenance_env.reports import PREFIX, SERVING, text_or_none

__all__ = ["HISTORY_KEY", "HISTORY_LIMIT", "MAX_TEXT", "Change", "history", "record_change"]

logger = logging.getLogger("maintenance_env")

HISTORY_KEY = PREFIX + "history"
HISTORY_LOCK_KEY = PREFIX + "history:lock"
#: The last changes kept by :func:`record_change`.
HISTORY_LIMIT = 50
#: The longest ``changed_by``/``reason`` text kept (characters).
MAX_TEXT = 500


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
            text_or_none(found.get("changed_by")),
            text_or_none(found.get("reason")),
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
