"""Fleet reports and claims across real processes on a real redis-server (section 10)."""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import Any

import pytest
from django.core.cache.backends.redis import RedisCache

from maintenance_env import fleet
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis

PROCESSES = 4
INSTANTS = ("2040-06-01T05:06:07Z", "2040-06-01T06:00:00Z", "2040-06-01T07:00:00Z")


def _cache(url: str) -> RedisCache:
    return RedisCache(url, {"OPTIONS": {"socket_timeout": 5, "socket_connect_timeout": 5}})


def _child(url: str, barrier: Any, results: Any, stop: Any) -> None:
    cache = _cache(url)
    reporter = fleet.reporter()  # this process's own, never the parent's
    reporter.report(cache, fleet.State("on", INSTANTS[0], 1.0), time.time())
    barrier.wait(30)
    wins = [reporter.claim(cache, instant, time.time()) for instant in INSTANTS]
    results.put((os.getpid(), reporter.slot, wins))
    stop.wait(30)  # keep the slot while the parent reads


def test_every_process_reports_and_each_change_has_one_winner(redis_server: RedisServer) -> None:
    context = multiprocessing.get_context("fork")
    barrier, results, stop = context.Barrier(PROCESSES), context.Queue(), context.Event()
    children = [
        context.Process(target=_child, args=(redis_server.url, barrier, results, stop))
        for _n in range(PROCESSES)
    ]
    for child in children:
        child.start()
    try:
        found = [results.get(timeout=60) for _n in range(PROCESSES)]
        reports = fleet.live_reports(_cache(redis_server.url))
        assert sorted(r.pid for r in reports) == sorted(c.pid for c in children)
        assert sorted(slot for _pid, slot, _wins in found) == list(range(PROCESSES))
        assert {r.serving for r in reports} == {"on"}
        for n, _instant in enumerate(INSTANTS):
            assert [wins[n] for _pid, _slot, wins in found].count(True) == 1
    finally:
        stop.set()
        for child in children:
            child.join(30)
            if child.is_alive():
                child.kill()
    assert [child.exitcode for child in children] == [0] * PROCESSES
