"""The shared store through real servers: one redis-server, a gunicorn and a uvicorn fleet.

gunicorn runs the Procfile's ``web:`` command (2 workers x 4 threads) and uvicorn serves
the same site over ASGI (2 workers); every worker reads ``MAINTENANCE_MODE_CACHE``, one
real redis-server with a password on 127.0.0.1, every ``MAINTENANCE_MODE_RELOAD_INTERVAL``
(0.25 s). The site is the example project with one outer middleware naming the worker
process in ``X-Worker-Pid`` (``tests/live_site.py``), so the tests know which worker
answered each request. Clients open a new connection per request, so that every worker
answers some.

The environment says ``MAINTENANCE_MODE=on`` (the fail-closed default the contract
suggests): what the store says wins while it is readable, the last values read from it stay
in force while it is not, and the environment is back once the store is readable and holds
no key (a store restarted empty).

- Flips by ``manage.py maintenance_mode on|off --write``: only 200/503, every worker
  converges, and the delay from the end of the write to each worker's first new answer is
  at most one second (the mission's bound: "flips a whole fleet within a second"; the one
  timed assertion). The figure itself, against the tighter target of ``RELOAD_INTERVAL`` +
  50 ms, is what ``make bench`` measures and reports: on a shared two-core machine a worker's
  read can start late by the scheduler's whim, which a benchmark reports and a test must not
  fail on.
- Faults, on the real server: hung (SIGSTOP), killed then restarted empty, a wrong
  password, a flood of writes: every request answered, only 200/503, last values kept,
  each failure logged; reads resume once the store is back.

The figures go to ``build/reliability/live-store-servers.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from maintenance_env.cache_build import build_cache
from maintenance_env.sources.store import SharedStore
from tests import sampling, servers
from tests.redis_server import RedisServer, running_redis
from tests.tools import need_tool

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.slow]

RELOAD_INTERVAL = 0.25
#: The bound on a flip: every worker serves the new value within a second of the end of the
#: write, four intervals (the benchmarks report the figure against interval + 50 ms).
FLIP_BOUND = 1.0
WORKERS = 2  # per server
CLIENTS = 3  # client threads per server, each opening a new connection per request
#: Seconds a client waits between two requests: the servers are sampled every few
#: milliseconds without saturating the machine's CPUs (a saturated machine measures its
#: scheduler, not the store).
PAUSE = 0.005
#: Every client loop stops after this many requests or seconds, whatever happens.
MAX_REQUESTS = 40_000
MAX_SECONDS = 120.0
#: A worker that has not converged after this long fails the test (a bound so that the
#: test ends, not the measured property).
SETTLE_BOUND = 20.0
#: Requests in a row from one worker that count as "that worker serves the new value".
STEADY = 5
#: How long the store stays hung or dead while requests are checked (longer than the
#: store's socket timeout of 1 s, so that reads really fail).
OUTAGE = 2.5

ENVIRONMENT_MESSAGE = "Maintenance, said by the environment."
FIGURES = servers.ROOT / "build" / "reliability" / "live-store-servers.json"


# --- the store, watched and written ------------------------------------------------------------


class StoreWatcher:
    """Reads ``MAINTENANCE_MODE`` from the store in a tight loop (bounded) to time a write:
    :meth:`wait_change` returns the start of the last read that still saw the old value,
    a moment before the write's end, so that delays measured from it are upper bounds."""

    def __init__(self, url: str) -> None:
        self.store = SharedStore(url, ["MAINTENANCE_MODE"], RELOAD_INTERVAL, background=False)
        self.cache = build_cache(url)

    def read(self) -> object:
        return self.store.read_once(self.cache).get("MAINTENANCE_MODE")

    def wait_change(self, old: object, timeout: float = 60.0) -> float:
        """``time.time()`` of the start of the last read that saw ``old``."""
        last_old = time.time()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            started = time.time()
            if self.read() != old:
                return last_old
            last_old = started
            time.sleep(0.001)  # a read every ~1 ms: precise enough, and leaves the CPU free
        raise AssertionError(f"the store still holds {old!r} after {timeout:g} s")


def command(url: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``manage.py maintenance_mode ARGS`` with the store at ``url``, as an operator runs it."""
    environ = servers.server_environment(
        0, {"MAINTENANCE_MODE_CACHE": url, "MAINTENANCE_MODE_CONFIG_PATH": ""}, tmp
    )
    return subprocess.run(
        [sys.executable, "example_project/manage.py", "maintenance_mode", *args],
        cwd=servers.ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_with_command(url: str, tmp: Path, value: str) -> None:
    """``manage.py maintenance_mode on|off --write``, as an operator runs it."""
    done = command(url, tmp, value, "--write")
    assert done.returncode == 0, done.stdout + done.stderr


# --- the fleet ------------------------------------------------------------------------------


@dataclass
class Fleet:
    redis: RedisServer
    servers: list[servers.Server]
    tmp: Path
    #: Every worker's process id, per server, seen answering before the tests start.
    pids: dict[str, set[int]] = field(default_factory=dict)

    def write(self, value: str) -> None:
        write_with_command(self.redis.url, self.tmp, value)

    def write_direct(self, **values: str | None) -> None:
        """Write through the store's own writer in this process (no command start-up)."""
        SharedStore(self.redis.url, list(values), RELOAD_INTERVAL, background=False).write(values)

    def output(self) -> str:
        return sampling.output(self.servers)

    def sampler(self) -> sampling.Sampler:
        """CLIENTS threads per server, each GET ``/pid`` on a new connection every PAUSE s,
        trying again after a failure (an outage test wants every request tried)."""
        return sampling.Sampler(
            self.servers,
            clients=CLIENTS,
            pause=PAUSE,
            retry_errors=True,
            max_requests=MAX_REQUESTS,
            max_seconds=MAX_SECONDS,
        )


def start(kind: str, tmp: Path, url: str) -> contextlib.AbstractContextManager[servers.Server]:
    """The Procfile's gunicorn, or uvicorn, serving ``tests.live_site`` with the store."""
    extra = {
        "DJANGO_SETTINGS_MODULE": "tests.live_site",
        "PYTHONPATH": str(servers.ROOT),
        "MAINTENANCE_MODE": "on",
        "MAINTENANCE_MODE_MESSAGE": ENVIRONMENT_MESSAGE,
        "MAINTENANCE_MODE_CACHE": url,
        "MAINTENANCE_MODE_RELOAD_INTERVAL": str(RELOAD_INTERVAL),
        # The example's default mounted config directory is not part of this test.
        "MAINTENANCE_MODE_CONFIG_PATH": "",
        "WEB_CONCURRENCY": str(WORKERS),
    }
    return servers.serve(kind, tmp, extra, workers=WORKERS)


def discover_pids(fleet: Fleet) -> dict[str, set[int]]:
    """Every worker's pid, from concurrent requests (bounded): WORKERS per server."""
    return sampling.discover_pids(fleet.sampler, WORKERS, SETTLE_BOUND)


def converge(
    fleet: Fleet,
    sampler: sampling.Sampler,
    status: int,
    since: float,
    *,
    settled: bool = True,
) -> sampling.Converged:
    """Until every worker of the fleet answered ``status`` STEADY times after ``since``."""
    return sampling.converge(
        sampler, fleet.pids, status, since, steady=STEADY, bound=SETTLE_BOUND, settled=settled
    )


def check_answers(sampler: sampling.Sampler, allowed: set[int]) -> None:
    """Every request was answered, with an allowed status and never a traceback."""
    assert sampler.errors == [], sampler.errors[:5]
    statuses = sampler.statuses
    assert set(statuses) <= allowed, statuses
    for sample in sampler.samples:
        if sample.status == 503:
            assert b"maintenance" in sample.body.lower(), sample.body[:300]


@pytest.fixture(scope="module")
def figures() -> Iterator[dict[str, Any]]:
    collected: dict[str, Any] = {}
    yield collected
    if collected:
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        FIGURES.write_text(json.dumps(collected, indent=2) + "\n")


@pytest.fixture(scope="module")
def running_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """One redis-server, the Procfile's gunicorn and a uvicorn, all for the module."""
    executable = need_tool("redis-server")
    tmp = tmp_path_factory.mktemp("store-fleet")
    with running_redis(executable) as redis:
        redis_url = redis.url
        SharedStore(redis_url, ["MAINTENANCE_MODE"], 1, background=False).write(
            {"MAINTENANCE_MODE": "off"}
        )
        with start("gunicorn", tmp, redis_url) as gunicorn, start("uvicorn", tmp, redis_url) as uv:
            fleet = Fleet(redis, [gunicorn, uv], tmp)
            fleet.pids = discover_pids(fleet)
            yield fleet


@pytest.fixture
def fleet(running_fleet: Fleet) -> Iterator[Fleet]:
    """The fleet with the store up, holding ``MAINTENANCE_MODE=off``, seen by every worker."""
    redis = running_fleet.redis
    if redis.paused:
        redis.resume()
    if redis.process is None or redis.process.poll() is not None:
        redis.restart()
    running_fleet.write_direct(MAINTENANCE_MODE="off")
    with running_fleet.sampler() as sampler:
        converge(running_fleet, sampler, 200, time.time())
    yield running_fleet
    for server in running_fleet.servers:
        assert server.process.poll() is None, server.output()
        assert "Traceback" not in server.output(), server.output()


# --- flips ------------------------------------------------------------------------------------


def write_and_converge(fleet: Fleet, value: str, phase: float = 0.0) -> sampling.Converged:
    """``maintenance_mode <value> --write`` after ``phase`` seconds, under requests; every
    worker's delay measured from the end of the write (as seen in the store)."""
    status = 503 if value == "on" else 200
    watcher = StoreWatcher(fleet.redis.url)
    old = watcher.read()
    with fleet.sampler() as sampler:
        time.sleep(phase)
        with ThreadPoolExecutor(1) as pool:
            writing = pool.submit(fleet.write, value)
            written = watcher.wait_change(old)
            result = converge(fleet, sampler, status, written)
            writing.result(timeout=60)
    check_answers(sampler, {200, 503})
    return result


def flip(fleet: Fleet, value: str, rng: random.Random) -> sampling.Converged:
    """One write at a random phase of the workers' reads."""
    return write_and_converge(fleet, value, rng.uniform(0.0, RELOAD_INTERVAL))


def test_flips_reach_every_worker_within_the_interval(
    fleet: Fleet, figures: dict[str, Any]
) -> None:
    rng = random.Random(13)
    values = ["on", "off", "on", "off", "on", "off"]
    # The delay is a property of a real multi-process system measured on a shared machine:
    # when a series misses the bound, the whole series runs once more (and only once), and
    # the second series must meet it. Every other check holds in both series.
    for attempt in range(2):
        results = [flip(fleet, value, rng) for value in values]
        worst = max(r.worst for r in results)
        figures.setdefault("flips", []).append(
            {
                "attempt": attempt + 1,
                "reload_interval_s": RELOAD_INTERVAL,
                "bound_s": FLIP_BOUND,
                "workers": sorted(f"{s}:{p}" for s, ps in fleet.pids.items() for p in ps),
                "delays_s": [r.figures() for r in results],
                "last_old_sent_s": [
                    {f"{s}:{p}": round(d, 4) for (s, p), d in r.last_old.items()} for r in results
                ],
                "worst_s": round(worst, 4),
            }
        )
        if worst <= FLIP_BOUND:
            break
    assert worst <= FLIP_BOUND, (
        f"a worker served the new value {worst * 1000:.0f} ms after the write "
        f"(bound {FLIP_BOUND * 1000:.0f} ms): {figures['flips']}"
    )


# --- faults -----------------------------------------------------------------------------------


def hold(fleet: Fleet, seconds: float) -> sampling.Sampler:
    """Requests for ``seconds`` (bounded by the sampler's own limits)."""
    with fleet.sampler() as sampler:
        time.sleep(seconds)
    return sampler


def wait_for_log(fleet: Fleet, text: str, count: int) -> None:
    """Until every server's output holds ``text`` at least ``count`` times (bounded)."""
    deadline = time.monotonic() + SETTLE_BOUND
    while not all(s.output().count(text) >= count for s in fleet.servers):
        assert time.monotonic() < deadline, f"{text!r} not logged {count} times:\n{fleet.output()}"
        time.sleep(0.05)


KEEPING = "keeping the values last read from it"


def test_a_hung_store_keeps_the_last_values(fleet: Fleet, figures: dict[str, Any]) -> None:
    fleet.redis.pause()  # SIGSTOP: connections accepted by the kernel, never answered
    try:
        sampler = hold(fleet, OUTAGE)
        wait_for_log(fleet, KEEPING, WORKERS)
    finally:
        fleet.redis.resume()
    check_answers(sampler, {200})  # the store said off; the environment's "on" stays out
    assert fleet.redis.password not in fleet.output()

    back = write_and_converge(fleet, "on")  # reads resume: a new write is seen
    figures["hung"] = {
        "outage_s": OUTAGE,
        "statuses_during_outage": dict(sampler.statuses),
        "write_after_resume_seen_by_all_s": round(back.worst, 3),
    }


def test_a_killed_store_then_restarted_empty_is_a_lost_store_until_written(
    fleet: Fleet, figures: dict[str, Any]
) -> None:
    fleet.redis.kill()  # SIGKILL: the port refuses connections
    try:
        during = hold(fleet, OUTAGE)
        wait_for_log(fleet, KEEPING, WORKERS)
    finally:
        # Back on the same port, empty (no persistence): none of the package's keys after
        # reads that found them, so a lost store: the last values stay in force, and the
        # environment's MAINTENANCE_MODE=on does not come back by itself.
        fleet.redis.restart()
    check_answers(during, {200})  # the last value read (off), not the environment's on
    lost = hold(fleet, OUTAGE)  # requests tick: the workers notice (and log) the loss
    wait_for_log(fleet, "lost every key", WORKERS)
    check_answers(lost, {200})

    back = write_and_converge(fleet, "on")  # the package writes again: no longer lost
    wait_for_log(fleet, "is readable again", WORKERS)
    again = write_and_converge(fleet, "off")
    figures["killed"] = {
        "outage_s": OUTAGE,
        "statuses_during_outage": dict(during.statuses),
        "statuses_while_lost": dict(lost.statuses),
        "write_after_restart_seen_by_all_s": round(back.worst, 3),
        "next_write_seen_by_all_s": round(again.worst, 3),
    }


def test_a_flood_of_writes_ends_on_the_last_one(fleet: Fleet, figures: dict[str, Any]) -> None:
    writes = 3_000
    store = SharedStore(fleet.redis.url, ["MAINTENANCE_MODE"], RELOAD_INTERVAL, background=False)
    cache = build_cache(fleet.redis.url)
    deadline = time.monotonic() + 60.0
    with fleet.sampler() as sampler:
        done = 0
        for done in range(1, writes + 1):  # alternating, the last one "on"
            store.write(
                {"MAINTENANCE_MODE": "on" if (writes - done) % 2 == 0 else "off"}, cache=cache
            )
            if time.monotonic() > deadline:
                break
        assert done == writes
        converged = converge(fleet, sampler, 503, time.time(), settled=False)
    check_answers(sampler, {200, 503})
    figures["flood"] = {
        "writes": writes,
        "requests": len(sampler.samples),
        "statuses": dict(sampler.statuses),
        "last_write_seen_by_all_s": round(converged.worst, 3),
    }


def test_a_wrong_password_leaves_the_lower_sources_in_force(
    running_fleet: Fleet, tmp_path: Path
) -> None:
    redis = running_fleet.redis
    if redis.paused:
        redis.resume()
    running_fleet.write_direct(MAINTENANCE_MODE="off")  # readable only with the password
    wrong = "not-the-password"
    url = redis.url_for(password=wrong)
    with start("gunicorn", tmp_path, url) as gunicorn, start("uvicorn", tmp_path, url) as uv:
        fleet = Fleet(redis, [gunicorn, uv], tmp_path)
        fleet.pids = discover_pids(fleet)
        sampler = hold(fleet, OUTAGE)
        wait_for_log(fleet, "maintenance_env: the shared store redis://:***@", WORKERS)
        output = fleet.output()
    # The environment's MAINTENANCE_MODE=on: the store's "off" is never read.
    check_answers(sampler, {503})
    assert all(ENVIRONMENT_MESSAGE.encode() in s.body for s in sampler.samples)
    assert wrong not in output
    assert redis.password not in output
    assert "Traceback" not in output


# --- --wait across the real fleet (contract section 10) -------------------------------------


def test_wait_confirms_every_worker_and_names_a_stopped_one(fleet: Fleet) -> None:
    workers = sum(len(p) for p in fleet.pids.values())
    done = command(
        fleet.redis.url,
        fleet.tmp,
        "on",
        "--write",
        "--wait",
        "--timeout",
        "30",
        "--reason",
        "migrate",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"All {workers} live processes serve on" in done.stdout
    # Every worker, idle or not, reported what it serves: the fleet, grouped.
    fleet_view = json.loads(
        command(fleet.redis.url, fleet.tmp, "status", "--fleet", "--json").stdout
    )
    pids = {r["pid"] for r in fleet_view["serving"]["on"]}
    assert pids == {p for ps in fleet.pids.values() for p in ps}
    assert fleet_view["last_change"]["reason"] == "migrate"
    stopped = min(fleet.pids["gunicorn"])
    os.kill(stopped, signal.SIGSTOP)
    try:
        done = command(fleet.redis.url, fleet.tmp, "off", "--write", "--wait", "--timeout", "3")
    finally:
        os.kill(stopped, signal.SIGCONT)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f":{stopped} (on)" in done.stdout  # named, host and pid, with what it serves
    assert "Timed out after" in done.stdout
    done = command(fleet.redis.url, fleet.tmp, "off", "--write", "--wait", "--timeout", "30")
    assert done.returncode == 0, done.stdout + done.stderr  # back, it applies the change


def test_one_webhook_post_per_fleet_change_across_every_worker(fleet: Fleet) -> None:
    """20 writes and a window's two edges, with 4 workers racing for each: one POST each."""
    from tests.unit.test_webhook import Receiver

    hook = Receiver()
    hook.thread.start()

    def iso(t: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

    try:
        # The URL is live like every option: written to the store, read by every worker.
        fleet.write_direct(MAINTENANCE_MODE_WEBHOOK_URL=hook.url, changed_by="hook")
        hook.wait(1)
        for i in range(20):
            # Spaced by more than the interval, so every worker sees every write.
            fleet.write_direct(MAINTENANCE_MODE="on" if i % 2 == 0 else "off", changed_by=f"w{i}")
            time.sleep(RELOAD_INTERVAL * 2.5)
        starts = int(time.time()) + 2
        fleet.write_direct(
            MAINTENANCE_MODE="on",
            MAINTENANCE_MODE_STARTS_AT=iso(starts),
            MAINTENANCE_MODE_ENDS_AT=iso(starts + 2),
            changed_by="window",
        )
        hook.wait(20 + 1 + 2)
        time.sleep(RELOAD_INTERVAL * 8)  # eight more intervals: nothing is sent twice
    finally:
        fleet.write_direct(
            MAINTENANCE_MODE="off",
            MAINTENANCE_MODE_WEBHOOK_URL=None,
            MAINTENANCE_MODE_STARTS_AT=None,
            MAINTENANCE_MODE_ENDS_AT=None,
        )
        hook.server.shutdown()
        hook.server.server_close()
    by = [body["changed_by"] for body in hook.bodies]
    writes = ["hook", *(f"w{i}" for i in range(20)), "window"]
    assert [b for b in by if b is not None] == writes, by
    # The window's opening and closing, with nobody writing: one each, in that order.
    edges = [body["active"] for body in hook.bodies if body["changed_by"] is None]
    assert edges == [True, False], hook.bodies
    assert len(hook.bodies) == len(writes) + 2


def test_a_killed_worker_drops_out_of_the_wait_when_its_report_expires(fleet: Fleet) -> None:
    killed = min(fleet.pids["gunicorn"])
    os.kill(killed, signal.SIGKILL)  # gunicorn starts a new worker in its place
    started = time.monotonic()
    done = command(fleet.redis.url, fleet.tmp, "on", "--write", "--wait", "--timeout", "90")
    assert done.returncode == 0, done.stdout + done.stderr
    # Its report lived until it expired (30 s at the least), and then it was not waited for.
    assert time.monotonic() - started >= 20
    history = json.loads(command(fleet.redis.url, fleet.tmp, "history", "--json").stdout)
    assert history[0]["serving"] == "on"
    fleet.pids = discover_pids(fleet)  # the new worker, for whatever runs after


# --- --preload and --max-requests through an outage (issue: state a fork leaves behind) ------


def test_preloaded_recycled_workers_never_revive_the_boot_time_value(
    running_fleet: Fleet, tmp_path: Path
) -> None:
    """gunicorn --preload loads the app once in the master, then forks a new worker every
    few requests (--max-requests); through a store outage, no worker serves what the store
    held when the master loaded the app: a worker serves the fleet's last read, or, if it
    was forked during the outage and could not read, the environment's fail-closed value."""
    redis = running_fleet.redis
    if redis.paused:
        redis.resume()
    if redis.process is None or redis.process.poll() is not None:
        redis.restart()
    boot, after = "Boot-time value", "After the boot"
    running_fleet.write_direct(MAINTENANCE_MODE="on", MAINTENANCE_MODE_MESSAGE=boot)
    extra = {
        "DJANGO_SETTINGS_MODULE": "tests.live_site",
        "PYTHONPATH": str(servers.ROOT),
        "MAINTENANCE_MODE": "on",
        "MAINTENANCE_MODE_MESSAGE": ENVIRONMENT_MESSAGE,
        "MAINTENANCE_MODE_CACHE": redis.url,
        "MAINTENANCE_MODE_RELOAD_INTERVAL": str(RELOAD_INTERVAL),
        "MAINTENANCE_MODE_CONFIG_PATH": "",
        "WEB_CONCURRENCY": str(WORKERS),
        # gunicorn's own environment variable, read with the config file's settings.
        "GUNICORN_CMD_ARGS": "--preload --max-requests 25 --max-requests-jitter 5",
    }
    try:
        with servers.serve("gunicorn", tmp_path, extra, log=tmp_path / "g.log") as gunicorn:
            fleet = Fleet(redis, [gunicorn], tmp_path)
            running_fleet.write_direct(MAINTENANCE_MODE_MESSAGE=after)
            deadline = time.monotonic() + SETTLE_BOUND
            for _try in range(10_000):  # until 20 answers in a row are the new value
                if all(after.encode() in sampling.send(gunicorn).body for _ in range(20)):
                    break
                assert time.monotonic() < deadline, gunicorn.output()
            with fleet.sampler() as sampler:
                time.sleep(1.0)
                redis.pause()  # hung: every read in flight or started now times out
                time.sleep(OUTAGE * 1.5)
                redis.resume()
                resumed = time.time()
                time.sleep(2.0)
            output = gunicorn.output()
    finally:
        if redis.paused:
            redis.resume()
        running_fleet.write_direct(MAINTENANCE_MODE="off", MAINTENANCE_MODE_MESSAGE=None)
    check_answers(sampler, {503})
    assert len({s.pid for s in sampler.samples}) > 3 * WORKERS, "workers were not recycled"
    revived = [s for s in sampler.samples if boot.encode() in s.body]
    assert revived == [], f"{len(revived)} answers revived the boot-time value"
    for sample in sampler.samples:
        assert after.encode() in sample.body or ENVIRONMENT_MESSAGE.encode() in sample.body
    # Once the store is back every new worker reads it: the last answers are the new value.
    tail = [
        (round(s.sent - resumed, 3), s.pid, after.encode() in s.body) for s in sampler.samples[-40:]
    ]
    if not all(after.encode() in s.body for s in sampler.samples[-10:]):
        pytest.fail(f"not every last answer is the store's value: {tail}")
    assert "Traceback" not in output
