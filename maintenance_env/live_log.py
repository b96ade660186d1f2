"""What a runtime logs about its live sources and its changes: each kind of trouble once
per change, and its recovery once, so that the log volume is bounded by the kinds of
trouble, not by the number of requests or the size of the config."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from maintenance_env.config import Problem, Resolution, shown
from maintenance_env.sources.base import LiveSource, Snapshot
from maintenance_env.sources.dotenv import summarise
from maintenance_env.variables import VARIABLES, Origin

__all__ = ["SourceLog", "changed", "settled"]

logger = logging.getLogger("maintenance_env")

Key = tuple[object, ...]


def _is_live(name: str) -> bool:
    var = VARIABLES.get(name)
    return var is None or var.live  # unknown names never reach here: the sources drop them


class SourceLog:
    """One runtime's memory of what it logged: :meth:`begin` a resolution, report each
    source and problem, :meth:`end`; a line already logged at the last resolution is not
    logged again."""

    def __init__(self) -> None:
        self._logged: frozenset[Key] = frozenset()
        self._now: set[Key] = set()

    def begin(self) -> None:
        """Start collecting what is wrong now."""
        self._now = set()

    def end(self) -> None:
        """What was collected becomes what was logged."""
        self._logged = frozenset(self._now)

    def _new(self, key: Key) -> bool:
        self._now.add(key)
        return key not in self._logged

    def source(self, source: LiveSource, snapshot: Snapshot) -> None:
        """Log what is wrong with one source once per change, and its recovery once."""
        origin = source.origin
        if snapshot.error is not None and snapshot.kind != "pending":
            if self._new(("source", origin, snapshot.error)):
                if origin is Origin.CACHE:
                    kept = getattr(source, "last_read", None) is not None
                    logger.error(
                        "maintenance_env: %s %s; %s (MAINTENANCE_MODE_CACHE)",
                        source.label,
                        snapshot.error,
                        "keeping the values last read from it"
                        if kept
                        else "it counts as absent until it is read",
                    )
                else:
                    logger.error(
                        "maintenance_env: %s %s; ignoring it until it is back "
                        "(MAINTENANCE_MODE_CONFIG_PATH)",
                        source.label,
                        snapshot.error,
                    )
        elif snapshot.error is None and any(
            k[0] == "source" and k[1] is origin for k in self._logged
        ):
            logger.warning("maintenance_env: %s is readable again", source.label)
        for note in snapshot.notes:
            if self._new(("note", origin, note)):
                logger.warning("maintenance_env: %s: %s", source.label, note)
        names = sorted(name for name in snapshot.values if not _is_live(name))
        if names and self._new(("names", origin, tuple(names))):
            logger.warning(
                "maintenance_env: %s in %s %s read only from the environment or settings; ignored",
                summarise(names),
                source.label,
                "is" if len(names) == 1 else "are",
            )

    def problem(self, problem: Problem, previous: Resolution, labels: Mapping[Origin, str]) -> None:
        """Log a bad live value once, with the value kept instead."""
        if self._new(("problem", problem.name, problem.message)):
            logger.error(
                "maintenance_env: %s; keeping %s=%r (%s)",
                problem,
                problem.name,
                shown(problem.name, previous),
                labels.get(problem.origin, problem.origin.value),
            )


def changed(resolution: Resolution, previous: Resolution, labels: Mapping[Origin, str]) -> None:
    """One INFO line: the live sources changed the configuration."""
    origins = {o for o in resolution.origins.values() if o.live} | {
        o for o in previous.origins.values() if o.live
    }
    where = ", ".join(labels[o] for o in labels if o in origins) or "the live sources"
    logger.info(
        "maintenance_env: configuration changed from %s: maintenance %s",
        where,
        "on" if resolution.config.enabled else "off",
    )


def settled(cause: str, active: bool) -> None:
    """One INFO line for a change of the effective state that no source's line told."""
    state = "active" if active else "not active"
    if cause == "schedule":
        verb = "opened" if active else "closed"
        logger.info("maintenance_env: the maintenance window %s: maintenance %s", verb, state)
    elif cause == "override":
        logger.info("maintenance_env: a test override made maintenance %s", state)
    # A live source's change was logged as "configuration changed" already.
