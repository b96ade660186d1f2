"""One resolution from what the live sources hold: the test override layer on top, then
each live source's last snapshot (highest precedence first), then the environment and
settings; and which live source a change of the effective state came from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from maintenance_env import live_log
from maintenance_env.config import Layer, Resolution, resolve
from maintenance_env.live_log import SourceLog
from maintenance_env.overrides import override_layer
from maintenance_env.policy import Policy
from maintenance_env.sources.base import LiveSource, Snapshot
from maintenance_env.variables import PREFIX, Origin

__all__ = ["live_cause", "next_policy", "resolve_live"]


def resolve_live(
    sources: Sequence[LiveSource],
    snapshots: Mapping[Origin, Snapshot],
    base: Sequence[Layer],
    previous: Resolution,
    check_template: bool,
    log: SourceLog,
) -> Resolution:
    """Resolve the layers again, ``previous`` supplying the last good value of each bad
    live one; what is wrong with a source or a live value is logged through ``log``."""
    log.begin()
    layers: list[Layer] = []
    overrides = override_layer()
    if overrides:
        layers.append((Origin.OVERRIDE, overrides))
    errors: dict[Origin, str] = {}
    labels = {source.origin: source.label for source in sources}
    for source in sources:
        snapshot = snapshots.get(source.origin)
        if snapshot is None:
            continue
        log.source(source, snapshot)
        if snapshot.error is not None:
            errors[source.origin] = snapshot.error
        values = {k: v for k, v in snapshot.values.items() if k.startswith(PREFIX)}
        layers.append((source.origin, values))
    layers.extend(base)
    resolution = resolve(layers, previous, check_template=check_template, source_errors=errors)
    for problem in resolution.problems:
        if problem.origin.live:
            log.problem(problem, previous, labels)
    log.end()
    return resolution


def live_cause(new: Policy, old: Policy, sources: Sequence[LiveSource]) -> str:
    """The live source (its origin's value) that decides the switch or the window now, or
    decided it before the change."""
    names = ("MAINTENANCE_MODE", "MAINTENANCE_MODE_STARTS_AT", "MAINTENANCE_MODE_ENDS_AT")
    for resolution in (new.resolution, old.resolution):
        for name in names:
            origin = resolution.origins[name]
            if origin.live:
                return origin.value
    return sources[0].origin.value if sources else "schedule"


def next_policy(
    current: Policy, resolution: Resolution, sources: Sequence[LiveSource], *, log: bool
) -> Policy:
    """The policy for ``resolution``: a new one when the configuration or where a value
    came from changed (logged as "configuration changed" when ``log``); else ``current``,
    with ``resolution`` recorded when only what is wrong with a source changed (the
    rendered page is kept)."""
    previous = current.resolution
    if resolution.config != previous.config or resolution.origins != previous.origins:
        if log:
            labels = {source.origin: source.label for source in sources}
            live_log.changed(resolution, previous, labels)
        return Policy(resolution)
    if (resolution.problems, resolution.source_errors) != (
        previous.problems,
        previous.source_errors,
    ):
        # Same configuration, but what is wrong with a source changed: keep the rendered
        # page, record the news for `status` and the checks.
        current.resolution = resolution
    return current
