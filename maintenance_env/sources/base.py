"""What every live source gives: a :class:`Snapshot`, and the :class:`LiveSource` interface."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from maintenance_env.variables import Origin

__all__ = ["LiveSource", "Snapshot"]


@dataclass(frozen=True)
class Snapshot:
    """What a live source holds now: the raw values to use, and what is wrong, if anything.

    ``values`` are what resolution should use from this source: each source decides what
    that is while it fails (the mounted config counts as absent; the shared store keeps the
    last values it read). ``error`` says why the source could not be read, for the logs,
    ``status`` and the checks; ``None`` when it was read. ``notes`` say what was read
    around (skipped), without making the source unreadable.
    """

    values: Mapping[str, str | bytes] = field(default_factory=dict)
    error: str | None = None
    kind: str = "missing"  # "directory", "file", "cache" or "missing"
    #: False when the kubelet kept swapping ``..data`` during every attempt to read one
    #: whole payload: ``values`` may then mix two versions and must not be used.
    settled: bool = True
    #: What was skipped while reading, one line each, bounded in number and length: lines
    #: of a dotenv file that could not be parsed, unknown ``MAINTENANCE_MODE_*`` names,
    #: files that are not regular files. Logged once per change; shown by ``status``.
    notes: tuple[str, ...] = ()


class LiveSource(Protocol):
    """A source that may change while the process runs (the mounted config, the store).

    ``poll()`` is called on the request path at most once per reload interval per process,
    under a lock only tried, never waited for. It must not wait on the network.
    """

    origin: Origin
    #: How logs and ``status`` name it, credentials masked: "the mounted config /etc/x".
    label: str

    def poll(self) -> Snapshot | None:
        """A new snapshot if anything changed since the last poll, else ``None``."""
        ...

    def after_fork(self) -> None:
        """In a child right after a fork: drop what belongs to the parent (locks, threads,
        connections, values read by the parent). Must not do any I/O."""
        ...
