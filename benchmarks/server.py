"""Part 4: real gunicorn servers (2 sync workers each, 127.0.0.1) under a bounded load.

One server per configuration, all started up front, then loaded in turn for several
rounds in a shuffled order: requests/s and latency percentiles, medians over rounds.
The load generator is ``wrk`` when installed (Debian: ``apt-get install wrk``), otherwise
a small threaded Python client; both are bounded in time, the Python one in requests too.
"""

from __future__ import annotations

import http.client
import importlib.util
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.inprocess import (
    DMM_CACHE_OFF,
    DMM_CACHE_ON,
    STORE_OFF,
    STORE_ON,
    store_url,
    write_store,
)
from tests.kubelet import ConfigMapVolume
from tests.redis_server import RedisServer

__all__ = ["LoadResult", "measure"]

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Path(__file__).resolve().parent / "gunicorn.conf.py"


@dataclass(frozen=True)
class Setup:
    name: str
    stack: str  # BENCH_STACK
    environ: dict[str, str]
    dmm_state: str | None  # django-maintenance-mode's state file content
    status: int
    mounted: dict[str, str] | None = None  # a config directory for MAINTENANCE_MODE_CONFIG_PATH
    #: Needs the benchmark's redis-server: ours reads the store (MAINTENANCE_MODE_CACHE,
    #: the database of ``inprocess.STORE_DB``), dmm keeps its state there (CacheBackend).
    redis: bool = False


SETUPS = (
    Setup("bare", "bare", {}, None, 200),
    Setup("ours off", "ours", {"MAINTENANCE_MODE": "off"}, None, 200),
    Setup("ours off, mounted", "ours", {}, None, 200, {"MAINTENANCE_MODE": "off"}),
    Setup("ours on", "ours", {"MAINTENANCE_MODE": "on"}, None, 503),
    Setup(STORE_OFF, "ours", {}, None, 200, redis=True),
    Setup(STORE_ON, "ours", {}, None, 503, redis=True),
    Setup("dmm off", "dmm", {}, "0", 200),
    Setup("dmm on", "dmm", {}, "1", 503),
    Setup(
        DMM_CACHE_OFF,
        "dmm",
        {"BENCH_DMM_BACKEND": "cache", "BENCH_DMM_DB": "2"},
        None,
        200,
        redis=True,
    ),
    Setup(
        DMM_CACHE_ON,
        "dmm",
        {"BENCH_DMM_BACKEND": "cache", "BENCH_DMM_DB": "3"},
        None,
        503,
        redis=True,
    ),
)
#: Measured again while the redis-server is stopped (SIGSTOP): ours keeps serving from what
#: it last read; django-maintenance-mode's cache backend waits on the server per request.
HUNG = (STORE_OFF, DMM_CACHE_OFF)
HUNG_SUFFIX = ", store hung"
#: The same servers measured in the same phase with the store healthy, side by side.
HEALTHY_SUFFIX = ", store healthy"
#: Seconds the server is stopped before a hung run starts: longer than the store's socket
#: timeout (1 s), so that every worker's reads already fail (the steady hung state).
HANG_FIRST = 1.5


@dataclass
class LoadResult:
    name: str
    rps: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)  # seconds
    p90: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    errors: int = 0

    def median(self, what: str) -> float:
        return float(statistics.median(getattr(self, what)))


def cpu_split() -> tuple[set[int], set[int]] | None:
    """(CPUs for the load generator, CPUs for the servers), or None when not possible.

    On a small machine the scheduler sometimes puts the load generator on the same CPU as
    a worker and sometimes not, which makes throughput bimodal; pinning them apart makes
    each run measure the server's CPU cost per request.
    """
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return {cpus[0]}, set(cpus[1:])


def _pinned(cpus: set[int] | None) -> Callable[[], None] | None:
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_status(port: int, path: str = "/", timeout: float = 2.0) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept": "text/html"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


class Server:
    """``gunicorn benchmarks.wsgi`` for one setup, on a free loopback port."""

    def __init__(
        self,
        setup: Setup,
        workdir: Path,
        workers: int = 2,
        cpus: set[int] | None = None,
        redis_url: str | None = None,
    ) -> None:
        self.setup = setup
        self.port = free_port()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("MAINTENANCE_MODE")}
        environ.update(setup.environ)
        if setup.redis:
            if redis_url is None:
                raise ValueError(f"{setup.name!r} needs the benchmark's redis-server")
            environ["BENCH_REDIS_URL"] = redis_url
            if setup.stack == "ours":
                environ["MAINTENANCE_MODE_CACHE"] = store_url(redis_url, setup.name)
        environ["BENCH_STACK"] = setup.stack
        environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
        environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), environ.get("PYTHONPATH", "")])
        if setup.mounted is not None:
            volume = ConfigMapVolume(workdir / f"config-{self.port}", setup.mounted)
            environ["MAINTENANCE_MODE_CONFIG_PATH"] = str(volume.root)
        if setup.dmm_state is not None:
            state = workdir / f"dmm-state-{self.port}.txt"
            state.write_text(setup.dmm_state)
            environ["BENCH_DMM_STATE_FILE"] = str(state)
        self.log = (workdir / f"gunicorn-{self.port}.log").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                str(CONFIG),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "benchmarks.wsgi:application",
            ],
            cwd=ROOT,
            env=environ,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=_pinned(cpus),
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until the server answers with the setup's status (bounded). A worker that reads
        the shared store answers from the lower sources until its refresher's first read
        (a few milliseconds after it starts): a few answers of the other status first."""
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn for {self.setup.name!r} exited; see {self.log.name}")
            try:
                status = get_status(self.port)
            except OSError:
                time.sleep(0.1)
                continue
            if status == self.setup.status:
                return
            if not self.setup.redis:
                break
            time.sleep(0.05)
        raise RuntimeError(
            f"gunicorn for {self.setup.name!r}: status {status}, expected "
            f"{self.setup.status} (waited up to {timeout} s); see {self.log.name}"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


# --- load generators --------------------------------------------------------------------------

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def wrk_load(
    port: int, duration: float, connections: int, cpus: set[int] | None = None
) -> dict[str, float]:
    """One wrk run; returns rps, p50, p90, p99 and non-2xx/3xx responses."""
    wrk = shutil.which("wrk")
    assert wrk is not None
    output = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--latency",
            "-H",
            "Accept: text/html",
            f"http://127.0.0.1:{port}/",
        ],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
        preexec_fn=_pinned(cpus),
    ).stdout
    found: dict[str, float] = {}
    for line in output.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            found["rps"] = float(parts[1])
        elif len(parts) == 2 and parts[0] in {"50%", "90%", "99%"}:
            found["p" + parts[0].rstrip("%")] = _seconds(parts[1])
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            found["non2xx"] = float(parts[-1])
        elif "Socket errors" in line:
            found["errors"] = float(sum(int(n) for n in re.findall(r"\d+", line)))
    return found


def python_load(
    port: int,
    duration: float,
    connections: int,
    cpus: set[int] | None = None,
    max_requests: int = 200_000,
) -> dict[str, float]:
    """A threaded client: ``connections`` threads, one request per connection (gunicorn's
    sync workers close it anyway), until ``duration`` or ``max_requests``."""
    latencies: list[float] = []
    statuses: list[int] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + duration
    budget = [max_requests]

    def client() -> None:
        mine: list[float] = []
        codes: list[int] = []
        while time.monotonic() < deadline:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            start = time.perf_counter()
            try:
                codes.append(get_status(port, timeout=5.0))
            except OSError:
                with lock:
                    errors[0] += 1
                continue
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)
            statuses.extend(codes)

    previous = os.sched_getaffinity(0) if cpus is not None else None
    if cpus is not None:
        os.sched_setaffinity(0, cpus)  # this thread, inherited by the client threads
    try:
        started = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=duration + 30)
        elapsed = time.monotonic() - started
    finally:
        if previous is not None:
            os.sched_setaffinity(0, previous)
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0.0

    return {
        "rps": len(latencies) / elapsed,
        "p50": pct(0.50),
        "p90": pct(0.90),
        "p99": pct(0.99),
        "errors": float(errors[0]),
        "non2xx": float(sum(1 for s in statuses if s >= 400)),
    }


def load_generator() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def _record(result: LoadResult, found: dict[str, float]) -> None:
    result.rps.append(found["rps"])
    for key in ("p50", "p90", "p99"):
        getattr(result, key).append(found[key])
    result.errors += int(found.get("errors", 0))


def _set_dmm_state(redis_url: str, db: str, active: bool) -> None:
    """django-maintenance-mode's state in database ``db`` of the benchmark's Redis, in the
    form its ``CacheBackend`` writes and reads back."""
    from django.core.cache.backends.redis import RedisCache
    from maintenance_mode.backends import CacheBackend

    cache = RedisCache(f"{redis_url.rsplit('/', 1)[0]}/{db}", {})
    cache.set("maintenance_mode", CacheBackend.from_state_to_str_value(active), None)
    cache.close()


def measure(
    *,
    rounds: int = 3,
    duration: float = 3.0,
    connections: int = 4,
    generator: str | None = None,
    seed: int = 4,
    redis: RedisServer | None = None,
) -> dict[str, LoadResult]:
    """Every setup, ``rounds`` times each, interleaved; with ``redis`` (the benchmark's
    running redis-server, the store's keys written by ``inprocess.write_store``) also the
    setups that use it, and then the :data:`HUNG` ones again while it is stopped."""
    run = wrk_load if (generator or load_generator()) == "wrk" else python_load
    rng = random.Random(seed)
    have_dmm = importlib.util.find_spec("maintenance_mode") is not None
    setups = [
        setup
        for setup in SETUPS
        if (have_dmm or setup.stack != "dmm") and (redis is not None or not setup.redis)
    ]
    results = {setup.name: LoadResult(setup.name) for setup in setups}
    split = cpu_split()
    client_cpus, server_cpus = split if split is not None else (None, None)
    redis_url = redis.url if redis is not None else None
    if redis_url is not None:
        write_store(redis_url)
        for setup in setups:
            if setup.redis and setup.stack == "dmm":
                _set_dmm_state(redis_url, setup.environ["BENCH_DMM_DB"], setup.status >= 400)
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        servers = [
            Server(setup, Path(tmp), cpus=server_cpus, redis_url=redis_url) for setup in setups
        ]
        try:
            for server in servers:
                server.wait_ready()
            for server in servers:  # warm up every worker (imports, template loading)
                run(server.port, 1.0, connections, client_cpus)
            order = list(servers)
            for _ in range(rounds):
                rng.shuffle(order)
                for server in order:
                    found = run(server.port, duration, connections, client_cpus)
                    _record(results[server.setup.name], found)
                    expect_errors = server.setup.status >= 400
                    if bool(found.get("non2xx", 0)) != expect_errors:
                        raise RuntimeError(f"{server.setup.name}: unexpected statuses under load")
            if redis is not None:
                hung = [s for s in servers if s.setup.name in HUNG]
                # At most 3 rounds: each holds the server stopped for a while.
                hung_rounds = min(rounds, 3)
                results.update(
                    _measure_hung(hung, redis, hung_rounds, duration, connections, run, client_cpus)
                )
        finally:
            for server in servers:
                server.stop()
    return results


def _measure_hung(
    servers: list[Server],
    redis: RedisServer,
    rounds: int,
    duration: float,
    connections: int,
    run: Callable[..., dict[str, float]],
    client_cpus: set[int] | None,
) -> dict[str, LoadResult]:
    """Each server in ``servers`` loaded with the redis-server healthy, then again while it
    is stopped (SIGSTOP: connections accepted by the kernel, never answered), ``rounds``
    times, side by side; the server is resumed between rounds and at the end, whatever
    happens."""
    results = {
        s.setup.name + suffix: LoadResult(s.setup.name + suffix)
        for s in servers
        for suffix in (HEALTHY_SUFFIX, HUNG_SUFFIX)
    }
    for _ in range(rounds):
        for server in servers:
            found = run(server.port, duration, connections, client_cpus)
            _record(results[server.setup.name + HEALTHY_SUFFIX], found)
        redis.pause()
        try:
            time.sleep(HANG_FIRST)
            for server in servers:
                found = run(server.port, duration, connections, client_cpus)
                _record(results[server.setup.name + HUNG_SUFFIX], found)
        finally:
            redis.resume()
        time.sleep(HANG_FIRST)  # every worker reads the store again before the next round
    return results
