"""Part 3: how long after a change every process serves the new state, against
``MAINTENANCE_MODE_RELOAD_INTERVAL``: a kubelet-style swap of the mounted config, or a
write to the shared store (a redis-server) as ``maintenance_mode on --write`` makes it.

Each worker is a separate process (as gunicorn's are) running the middleware on a request
about every half millisecond and reporting, with a wall-clock timestamp, each change of
the status it serves. The parent changes the source at a random moment and takes the time
just before the change starts, so a measured delay is an upper bound.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from tests.kubelet import ConfigMapVolume

__all__ = ["ReloadResult", "measure"]

MOUNTED = "mounted config"
STORE = "shared store"
TICK = 0.0005  # seconds between two requests of one worker
WORKER_LIFETIME = 120.0  # a worker never outlives this, whatever the parent does


def _worker(index: int, source: dict[str, str], interval: float, reports: Any, stop: Event) -> None:
    """Serve requests until told to stop; report (index, status, time) on each change.
    ``source``: the variables naming the live source (the mounted config or the store)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    os.environ["BENCH_STACK"] = "ours"
    os.environ.update(source)
    os.environ["MAINTENANCE_MODE_RELOAD_INTERVAL"] = repr(interval)
    import django

    django.setup()
    from benchmarks import stacks
    from maintenance_env.middleware import MaintenanceModeMiddleware

    middleware = MaintenanceModeMiddleware(stacks.trivial_get_response)
    request = stacks.prebuilt_request()
    last = 0
    deadline = time.monotonic() + WORKER_LIFETIME
    while not stop.is_set() and time.monotonic() < deadline:
        status = middleware(request).status_code
        if status != last:
            reports.put((index, status, time.time()))
            last = status
        time.sleep(TICK)


@dataclass
class ReloadResult:
    interval: float
    processes: int
    swaps: list[list[float]]  # per swap, each process's delay in seconds
    source: str = MOUNTED
    #: The shared store only: per write, seconds from the last process serving the new
    #: state until ``--wait`` (its reading of the fleet's reports) returned.
    wait_after_last: list[float] = field(default_factory=list)
    #: The shared store only: the store's commands per process per interval in steady
    #: state (every slot held, no change to claim): the read and the fleet report.
    calls_per_interval: float | None = None

    @property
    def wait_worst(self) -> float | None:
        return max(self.wait_after_last) if self.wait_after_last else None

    @property
    def all_switched(self) -> list[float]:
        """Per swap: the delay until every process served the new state."""
        return [max(delays) for delays in self.swaps]

    @property
    def median(self) -> float:
        return statistics.median(self.all_switched)

    @property
    def worst(self) -> float:
        return max(self.all_switched)


def _wait_for(
    reports: Any, processes: int, status: int, since: float, timeout: float
) -> list[float]:
    """The delay after ``since`` at which each process first served ``status``."""
    seen: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < processes:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(
                f"only {len(seen)} of {processes} processes switched to "
                f"{status} within {timeout:.1f} s"
            )
        try:
            index, got, at = reports.get(timeout=left)
        except queue.Empty:
            continue
        if got == status and index not in seen:
            seen[index] = at - since
    return list(seen.values())


Writer = Callable[[str], None]


class _StoreWriter:
    """The benchmark's writes to the store, and what ``--wait`` needs after each one."""

    def __init__(self, url: str) -> None:
        from maintenance_env.cache_build import build_cache
        from maintenance_env.sources.store import SharedStore

        self.url = url
        self.store = SharedStore(url, ["MAINTENANCE_MODE"], 1.0, background=False)
        # Built once: the write itself is timed, not a connection set-up.
        self.cache = build_cache(url)
        self.store.write({"MAINTENANCE_MODE": "off"}, cache=self.cache)
        import redis

        self.client = redis.Redis.from_url(url)

    def __call__(self, value: str) -> None:
        self.store.write({"MAINTENANCE_MODE": value}, cache=self.cache)

    def wait(self, value: str, interval: float) -> float:
        """``--wait`` for the last write: ``time.time()`` when every report shows it."""
        from maintenance_env.management.fleet_text import wait_for_fleet, wait_interval

        result = wait_for_fleet(
            None,
            value,
            30.0,
            wait_interval(interval),
            changed_at=self.store.written_at,
            read=self.store.live_reports,
        )
        if not result.ok:
            raise RuntimeError(result.text)
        return time.time()

    def commands(self) -> int:
        """Commands the store has served so far (Redis ``INFO commandstats``), leaving out
        this benchmark's own: the ``INFO`` itself and a connection's set-up (``CLIENT
        SETINFO``, ``SELECT``, ``HELLO``), which a new connection sends before it."""
        stats = self.client.info("commandstats")
        return sum(
            int(v["calls"])
            for k, v in stats.items()
            if isinstance(v, dict) and not k.startswith(OWN_COMMANDS)
        )

    def close(self) -> None:
        self.client.close()


#: ``INFO commandstats`` names of the benchmark's own commands (``cmdstat_client|setinfo``).
OWN_COMMANDS = ("cmdstat_info", "cmdstat_client", "cmdstat_select", "cmdstat_hello")


def fresh_database(redis_url: str, number: int) -> str:
    """``redis_url`` on database ``number``, emptied (``FLUSHDB``): each measured interval
    starts with no report of an earlier run's processes, which a ``--wait`` would rightly
    count as laggards until they expire (3 intervals, at least 30 s)."""
    import redis

    url = f"{redis_url.rsplit('/', 1)[0]}/{number}"
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


def _mounted(tmp: Path, interval: float) -> tuple[dict[str, str], Writer]:
    volume = ConfigMapVolume(tmp / f"config-{interval}", {"MAINTENANCE_MODE": "off"})
    return {"MAINTENANCE_MODE_CONFIG_PATH": str(volume.root)}, lambda value: volume.update(
        {"MAINTENANCE_MODE": value}
    )


def _store(url: str) -> tuple[dict[str, str], _StoreWriter]:
    return {"MAINTENANCE_MODE_CACHE": url}, _StoreWriter(url)


def measure(
    intervals: tuple[float, ...] = (0.25, 1.0),
    *,
    processes: int = 4,
    swaps: int = 6,
    seed: int = 4,
    redis_url: str | None = None,
) -> list[ReloadResult]:
    """For each interval: ``swaps`` alternating on/off changes seen by ``processes``
    workers, of the mounted config, or of the shared store at ``redis_url`` when given
    (a running redis-server; ``MAINTENANCE_MODE`` is written there)."""
    rng = random.Random(seed)
    context = multiprocessing.get_context("spawn")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-reload-") as tmp:
        for interval in intervals:
            if redis_url is None:
                source, write = _mounted(Path(tmp), interval)
            else:
                # Databases 0 and 1 hold the in-process cases' keys (inprocess.STORE_DB),
                # 2 django-maintenance-mode's, 6 the django-redis row's (offpath).
                source, write = _store(fresh_database(redis_url, 4 + intervals.index(interval)))
            reports = context.Queue()
            stop = context.Event()
            workers = [
                context.Process(
                    target=_worker, daemon=True, args=(i, source, interval, reports, stop)
                )
                for i in range(processes)
            ]
            for worker in workers:
                worker.start()
            try:
                _wait_for(reports, processes, 200, 0.0, timeout=60.0)
                swapped: list[list[float]] = []
                waits: list[float] = []
                calls_per_interval = None
                if isinstance(write, _StoreWriter):
                    # Steady state: every slot held, no change to claim, nothing but the
                    # processes using the store, for three intervals.
                    time.sleep(interval + 0.5)
                    before, quiet = write.commands(), time.monotonic()
                    time.sleep(3 * interval)
                    calls = write.commands() - before
                    served = (time.monotonic() - quiet) / interval
                    calls_per_interval = calls / processes / served
                active = False
                for _ in range(swaps):
                    time.sleep(rng.uniform(0.05, interval + 0.05))  # a random phase
                    active = not active
                    swapped_at = time.time()
                    write("on" if active else "off")
                    confirmed = (
                        write.wait("on" if active else "off", interval)
                        if isinstance(write, _StoreWriter)
                        else None
                    )
                    delays = _wait_for(
                        reports, processes, 503 if active else 200, swapped_at, interval + 5.0
                    )
                    swapped.append(delays)
                    if confirmed is not None:
                        waits.append(max(0.0, confirmed - (swapped_at + max(delays))))
                result = ReloadResult(
                    interval, processes, swapped, MOUNTED if redis_url is None else STORE
                )
                if redis_url is not None:
                    result.wait_after_last = waits
                    result.calls_per_interval = calls_per_interval
                results.append(result)
            finally:
                if isinstance(write, _StoreWriter):
                    write.close()
                stop.set()
                for worker in workers:
                    worker.join(timeout=5.0)
                    if worker.is_alive():
                        worker.terminate()
                        worker.join(timeout=5.0)
    return results
