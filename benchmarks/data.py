"""One benchmark run as data: what ``python -m benchmarks`` measured, saved as JSON
(``benchmarks/results.json``) so that :mod:`benchmarks.report` can render the tables from
it again without measuring (``python -m benchmarks.report``).

Times are seconds, per operation and per round (:class:`benchmarks.timing.Result`), per
process and per change (:class:`benchmarks.reload.ReloadResult`), and per server round
(:class:`benchmarks.server.LoadResult`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from benchmarks.reload import ReloadResult
from benchmarks.server import LoadResult
from benchmarks.timing import Result

__all__ = ["Run", "ServerSetup", "load", "save"]

#: Bumped when the shape changes: a file of another version is refused, not misread.
VERSION = 1


@dataclasses.dataclass
class ServerSetup:
    """How the real servers were loaded: the load generator (as shown), rounds per
    configuration, seconds per run, connections."""

    generator: str
    rounds: int
    duration: float
    connections: int


@dataclasses.dataclass
class Run:
    """Everything one run measured, and where: ``machine`` and ``notes`` are Markdown
    lines (the machine, rows left out and why); ``seconds`` how long the run took."""

    machine: list[str]
    notes: list[str]
    measured: dict[str, Result]
    adaptations: list[dict[str, Any]]
    seconds: float = 0.0
    quick: bool = False
    reload: list[ReloadResult] | None = None
    flips: list[ReloadResult] | None = None
    loaded: dict[str, LoadResult] | None = None
    server: ServerSetup | None = None


def save(run: Run, path: Path) -> None:
    """Write ``run`` to ``path`` as JSON."""
    data = dataclasses.asdict(run)
    data["version"] = VERSION
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def load(path: Path) -> Run:
    """The run saved at ``path``. Raises ``ValueError`` for a file of another version."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.pop("version", None) != VERSION:
        raise ValueError(f"{path} is not a version {VERSION} benchmark run: run make bench")
    return Run(
        machine=data["machine"],
        notes=data["notes"],
        measured={name: Result(**r) for name, r in data["measured"].items()},
        adaptations=data["adaptations"],
        seconds=data["seconds"],
        quick=data["quick"],
        reload=None if data["reload"] is None else [ReloadResult(**r) for r in data["reload"]],
        flips=None if data["flips"] is None else [ReloadResult(**r) for r in data["flips"]],
        loaded=None
        if data["loaded"] is None
        else {name: LoadResult(**r) for name, r in data["loaded"].items()},
        server=None if data["server"] is None else ServerSetup(**data["server"]),
    )
