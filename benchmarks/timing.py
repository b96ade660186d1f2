"""Interleaved timing: every configuration is measured in every round, in a shuffled order,
so that drift (CPU frequency, other processes, cache state) hits all of them alike.
Batches are short (a few milliseconds, many rounds) so that most of them run without being
preempted on a busy machine, and the median over rounds is the undisturbed time.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Case", "Result", "interleave", "overhead_share"]


@dataclass
class Case:
    """One configuration.

    ``setup()`` runs before each of its batches, untimed (it may switch global state);
    ``run(n)`` performs ``n`` operations and returns the seconds they took, so that it can
    time only the part that matters (an ``asyncio.run`` around the loop, say).
    """

    name: str
    setup: Callable[[], None]
    run: Callable[[int], float]
    batch: int = 0  # operations per batch; 0 = calibrate


@dataclass
class Result:
    name: str
    per_op: list[float] = field(default_factory=list)  # seconds per operation, one per round

    @property
    def median(self) -> float:
        return statistics.median(self.per_op)

    def ratio(self, other: Result) -> float:
        """Median over rounds of this case's time divided by ``other``'s in the same round:
        pairing rounds cancels the machine's drift, which hits both alike."""
        return statistics.median(a / b for a, b in zip(self.per_op, other.per_op, strict=True))

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median: how noisy this case was."""
        if len(self.per_op) < 4:
            return 0.0
        q1, _, q3 = statistics.quantiles(self.per_op, n=4)
        return (q3 - q1) / self.median


def _calibrate(case: Case, target: float) -> int:
    """Operations per batch so that one batch takes about ``target`` seconds."""
    case.setup()
    n = 1
    for _ in range(30):  # bounded: 2**30 operations is far beyond any target
        elapsed = case.run(n)
        if elapsed >= target / 4:
            return max(1, round(n * target / elapsed))
        n *= 2
    return n


def interleave(
    cases: Sequence[Case], *, rounds: int, target: float = 0.002, seed: int = 4
) -> dict[str, Result]:
    """Measure every case in each of ``rounds`` rounds, in a shuffled order per round."""
    rng = random.Random(seed)
    for case in cases:
        case.setup()
        case.run(max(1, case.batch or 50))  # warm up: imports, template cache, URL cache
        if not case.batch:
            case.batch = _calibrate(case, target)
    results = {case.name: Result(case.name) for case in cases}
    order = list(cases)
    for _ in range(rounds):
        rng.shuffle(order)
        for case in order:
            case.setup()
            # Neither the previous batch's garbage nor the setup's (a reload builds a
            # runtime, and for the shared store a thread and a connection) is charged to
            # this batch: in a server they are made once per process or configuration.
            gc.collect()
            elapsed = case.run(case.batch)
            results[case.name].per_op.append(elapsed / case.batch)
    return results


def timed_loop(call: Callable[[], object]) -> Callable[[int], float]:
    """``run(n)`` for a case that is one synchronous call repeated."""

    def run(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            call()
        return time.perf_counter() - start

    return run


def overhead_share(results: Mapping[str, Result], name: str) -> float:
    """What the middleware alone adds, as a share of one bare request: (``name`` minus
    ``alone/pass-through``) divided by ``wsgi/bare``, round by round, median over rounds
    (a fraction: 0.001 is 0.1%)."""
    passthrough, bare = results["alone/pass-through"], results["wsgi/bare"]
    rounds = zip(results[name].per_op, passthrough.per_op, bare.per_op, strict=True)
    return float(statistics.median((a - p) / w for a, p, w in rounds))
