"""``skip_during_maintenance`` on Celery tasks through a real Redis broker (section 9).

``tests/unit/test_jobs.py`` runs the tasks eagerly (no broker); here a real ``celery worker``
process takes them from a real redis-server (the ``redis_server``
fixture), which is also the result backend and where each task body records its runs.
The worker (``--pool=solo``, and ``prefork`` with two children forked after the app
loaded) starts with ``MAINTENANCE_MODE=on`` and a window from its launch to a few
seconds later (``MAINTENANCE_MODE_STARTS_AT``/``ENDS_AT``, computed from the clock), and
the tasks are sent while the window is open. What proves it:

- a bound task under ``skip_during_maintenance(action="retry")`` is retried by Celery
  (``task.retry(countdown=...)``, the seconds left in the window) and its body runs
  exactly once, after the window's end, returning its result through the backend;
- a task under ``action="skip"`` does not run, its result is ``None``, and the worker's
  log has exactly one WARNING naming it; called after the window, it runs.

This module is also the worker's Celery app (``celery -A tests.integration.test_jobs_broker``): in the
worker, Django is set up from ``DJANGO_SETTINGS_MODULE=tests.settings`` at import. Every
wait is bounded and fails with the worker's log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import celery
import django
import pytest
import redis as redis_py
from django.apps import apps

import maintenance_env
from tests import servers
from tests.redis_server import RedisServer

if not apps.ready:  # the worker process (pytest-django has set Django up already)
    django.setup()

pytestmark = [pytest.mark.redis, pytest.mark.slow]

#: The worker reads its broker, backend and the redis holding the runs from these.
URL_VARIABLE = "JOBS_BROKER_TEST_REDIS"
#: Seconds from the worker's launch to the window's end; doubled (and the worker started
#: again) when it took so long to be ready that less than MIN_LEFT is left.
LEAD = 6
MIN_LEFT = 2.5
START_ATTEMPTS = 3
START_TIMEOUT = 60.0
#: The bound on a task's result (beyond the window's end, for the retried one).
RESULT_TIMEOUT = 60.0

QUEUE = "jobs-broker-test"

app = celery.Celery("jobs_broker", set_as_current=False)
app.conf.update(
    broker_url=os.environ.get(URL_VARIABLE, "memory://"),
    result_backend=os.environ.get(URL_VARIABLE) or None,
    broker_connection_retry_on_startup=True,
    task_default_queue=QUEUE,
)


def _runs() -> redis_py.Redis:
    return redis_py.Redis.from_url(os.environ[URL_VARIABLE])


def _record(key: str) -> dict[str, Any]:
    run = {"pid": os.getpid(), "at": time.time()}
    _runs().rpush(key, json.dumps(run))
    return run


@app.task(name="jobs_broker.sync_orders", bind=True, max_retries=None)
@maintenance_env.skip_during_maintenance(action="retry")
def sync_orders(self: Any, key: str) -> dict[str, Any]:
    return _record(key)


@app.task(name="jobs_broker.refresh_sitemap")
@maintenance_env.skip_during_maintenance(action="skip")
def refresh_sitemap(key: str) -> str:
    _record(key)
    return "ran"


# --- the worker ---------------------------------------------------------------------------


class Worker:
    """A ``celery worker`` subprocess (solo or prefork pool) with its log in ``log``."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path, ends_at: int) -> None:
        self.process = process
        self.log = log
        self.ends_at = ends_at

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited ({self.process.returncode}):\n{self.output()}")
            if " ready." in self.output():
                return
            time.sleep(0.05)
        pytest.fail(f"the worker was not ready within {START_TIMEOUT:g} s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)  # a warm shutdown
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(15)


def _spawn(url: str, tmp: Path, pool: str, attempt: int, lead: int) -> Worker:
    starts_at = math.floor(time.time())
    ends_at = starts_at + lead

    def iso(seconds: int) -> str:
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat()

    environ = {k: v for k, v in os.environ.items() if not k.startswith("MAINTENANCE_MODE")}
    environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "PYTHONPATH": str(servers.ROOT),
            "PYTHONUNBUFFERED": "1",
            URL_VARIABLE: url,
            "MAINTENANCE_MODE": "on",
            "MAINTENANCE_MODE_STARTS_AT": iso(starts_at),
            "MAINTENANCE_MODE_ENDS_AT": iso(ends_at),
        }
    )
    log = tmp / f"worker-{attempt}.log"
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tests.integration.test_jobs_broker",
        "worker",
        f"--pool={pool}",
        "--concurrency=2",
        "--loglevel=INFO",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
        "--hostname",
        f"jobs-broker-{os.getpid()}-{attempt}@%h",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=servers.ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Worker(process, log, ends_at)


@contextlib.contextmanager
def worker_in_a_window(url: str, tmp: Path, pool: str) -> Iterator[Worker]:
    """A ready worker whose maintenance window is still open for at least MIN_LEFT s."""
    lead = LEAD
    for attempt in range(START_ATTEMPTS):
        worker = _spawn(url, tmp, pool, attempt, lead)
        try:
            worker.wait_ready()
            if worker.ends_at - time.time() >= MIN_LEFT:
                yield worker
                return
        finally:
            worker.stop()
        lead *= 2
    pytest.fail(f"the worker was never ready {MIN_LEFT:g} s before its window closed")


@pytest.fixture
def client(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[celery.Celery]:
    """A Celery app of this process that sends to (and reads results from) the fixture's
    redis-server: a new one per test, so that no pool outlives its server."""
    url = redis_server.url
    monkeypatch.setenv(URL_VARIABLE, url)
    sender = celery.Celery("jobs_broker_client", broker=url, backend=url, set_as_current=False)
    sender.conf.update(broker_connection_retry_on_startup=True, task_default_queue=QUEUE)
    try:
        yield sender
    finally:
        sender.close()


def _runs_of(key: str) -> list[dict[str, Any]]:
    return [json.loads(item) for item in _runs().lrange(key, 0, -1)]


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_retried_once_after_the_window_and_a_skip_is_logged(
    pool: str, client: celery.Celery, tmp_path: Path
) -> None:
    retried, skipped = "runs:sync_orders", "runs:refresh_sitemap"
    with worker_in_a_window(os.environ[URL_VARIABLE], tmp_path, pool) as worker:
        sent_at = time.time()
        assert sent_at < worker.ends_at  # the window is open: both are sent inside it
        retried_result = client.send_task(sync_orders.name, args=(retried,))
        skipped_result = client.send_task(refresh_sitemap.name, args=(skipped,))

        assert skipped_result.get(timeout=RESULT_TIMEOUT) is None, worker.output()
        assert _runs_of(skipped) == [], worker.output()

        wait = worker.ends_at - time.time() + RESULT_TIMEOUT
        run = retried_result.get(timeout=wait)
        assert run["at"] >= worker.ends_at, (run, worker.ends_at, worker.output())

        # After the window: the skipped task runs when called again; the round trip also
        # lets the worker take whatever else was queued before it.
        again = client.send_task(refresh_sitemap.name, args=(skipped,))
        assert again.get(timeout=RESULT_TIMEOUT) == "ran", worker.output()
        output = worker.output()

    runs = _runs_of(retried)
    assert len(runs) == 1, (runs, output)
    assert runs[0] == run
    # The solo pool runs tasks in the worker process; prefork in a forked child.
    assert (runs[0]["pid"] == worker.process.pid) is (pool == "solo"), (runs, worker.process.pid)
    assert len(_runs_of(skipped)) == 1, output

    retries = [line for line in output.splitlines() if "sync_orders will be retried in" in line]
    assert retries, output
    assert all("maintenance is active" in line for line in retries), retries
    skips = [line for line in output.splitlines() if "refresh_sitemap skipped" in line]
    assert len(skips) == 1, output
    assert "WARNING" in skips[0], skips
    assert "this call will not run" in skips[0], skips
    assert "Traceback" not in output, output
    print(
        f"\n{pool}: retried {len(retries)} time(s), ran at {run['at'] - worker.ends_at:+.3f} s from the end"
    )
