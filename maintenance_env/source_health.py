"""The health of each live source as one process sees it: :class:`SourceHealth`, and
:func:`source_health`, which reads it off a runtime (for :func:`maintenance_env.status`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass

from django.utils.dateparse import parse_datetime

from maintenance_env import live
from maintenance_env.variables import VARIABLES, Origin

#: The variable naming the shared store.
CACHE_VARIABLE = "MAINTENANCE_MODE_CACHE"

__all__ = ["SourceHealth", "source_health"]


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
    config's files, or when ``maintenance_mode`` last wrote the store. ``changed_by`` and
    ``reason`` are who made that write and why (the store only); ``report_error`` why this
    process's fleet report failed last, if it did (the store only, contract section 10).
    """

    origin: Origin
    label: str
    ok: bool | None
    error: str | None
    last_read: dt.datetime | None
    stale_since: dt.datetime | None
    notes: tuple[str, ...] = ()
    changed_at: dt.datetime | None = None
    changed_by: str | None = None
    reason: str | None = None
    report_error: str | None = None


def _moment(timestamp: float | None) -> dt.datetime | None:
    return None if timestamp is None else dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)


def _changed_at(runtime: live.Runtime, origin: Origin) -> dt.datetime | None:
    """When a live source last changed: the store's own record of the last write, or the
    newest modification time among the mounted config and its variables' files."""
    if origin is Origin.CACHE:
        written = runtime.store.changed_at if runtime.store is not None else None
        try:
            moment = parse_datetime(written) if isinstance(written, str) else None
        except ValueError:  # well-formed but impossible (a hand-written record)
            return None
        if moment is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return moment
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


def _unusable_store(runtime: live.Runtime) -> SourceHealth | None:
    """A ``MAINTENANCE_MODE_CACHE`` that is set but refused: shown as a store that cannot
    be used, never as "no store" (the servers that read it would disagree)."""
    problem = next((p for p in runtime.base.problems if p.name == CACHE_VARIABLE), None)
    if problem is None or runtime.store is not None:
        return None
    where = VARIABLES[CACHE_VARIABLE].show(problem.raw)
    return SourceHealth(
        Origin.CACHE,
        f"the shared store {where}",
        False,
        f"unusable: {problem}",
        None,
        None,
    )


def source_health(runtime: live.Runtime) -> tuple[SourceHealth, ...]:
    """Each live source of ``runtime``, highest precedence first."""
    found = []
    unusable = _unusable_store(runtime)
    if unusable is not None:
        found.append(unusable)
    for source in runtime.sources:
        origin = source.origin
        snapshot = runtime.snapshots.get(origin)
        store = runtime.store if origin is Origin.CACHE else None
        if store is not None:
            snapshot = store.snapshot
            last_read, failing_since = store.last_read, store.failing_since
        else:
            last_read = runtime.health.read_at.get(origin)
            failing_since = runtime.health.failing_since.get(origin)
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
                store.changed_by if store is not None else None,
                store.reason if store is not None else None,
                store.report_error if store is not None else None,
            )
        )
    return tuple(found)
