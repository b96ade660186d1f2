"""Fleet reports and claims across real processes on real cache servers (section 10):
redis-server and memcached, each through Django's own backend, forked processes each
reporting from its own slot and racing for the same claims."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from typing import Any

import pytest
from django.core.cache.backends.base import BaseCache

from maintenance_env import fleet, history, reports
from maintenance_env.history import Change
from tests.redis_server import RedisServer
from tests.store_servers import MemcachedServer

PROCESSES = 4
INSTANTS = ("2040-06-01T04:00:00Z", "2040-06-01T06:00:00Z", "2040-06-01T07:00:00Z")


def _cache(kind: str, location: str) -> BaseCache:
    if kind == "redis":
        from django.core.cache.backends.redis import RedisCache

        return RedisCache(location, {"OPTIONS": {"socket_timeout": 5, "socket_connect_timeout": 5}})
    from django.core.cache.backends.memcached import PyMemcacheCache

    return PyMemcacheCache(location, {"OPTIONS": {"timeout": 5, "connect_timeout": 5}})


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("memcached", marks=pytest.mark.memcached),
    ]
)
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    if request.param == "redis":
        redis: RedisServer = request.getfixturevalue("redis_server")
        yield "redis", redis.url
    else:
        memcached: MemcachedServer = request.getfixturevalue("memcached_server")
        yield "memcached", memcached.location


def _pid(process: BaseProcess) -> int:
    """A started process's id (``pid`` is None only before ``start()``)."""
    assert process.pid is not None
    return process.pid


def _child(kind: str, location: str, barrier: Any, results: Any, stop: Any) -> None:
    cache = _cache(kind, location)
    reporter = fleet.reporter()  # this process's own, never the parent's
    reporter.report(cache, reports.State("on", INSTANTS[0], 1.0), time.time())
    barrier.wait(30)
    wins = [reporter.claims.claim(cache, instant, time.time()) for instant in INSTANTS]
    history.record_change(cache, Change(INSTANTS[0], f"pid {os.getpid()}", None, "on"))
    results.put((os.getpid(), reporter.slot, wins))
    stop.wait(30)  # keep the slot while the parent reads


def test_every_process_reports_and_each_change_has_one_winner(server: tuple[str, str]) -> None:
    kind, location = server
    context = multiprocessing.get_context("fork")
    barrier, results, stop = context.Barrier(PROCESSES), context.Queue(), context.Event()
    children = [
        context.Process(target=_child, args=(kind, location, barrier, results, stop))
        for _n in range(PROCESSES)
    ]
    for child in children:
        child.start()
    try:
        found = [results.get(timeout=60) for _n in range(PROCESSES)]
        cache = _cache(kind, location)
        reports = fleet.live_reports(cache)
        assert sorted(r.pid for r in reports) == sorted(_pid(c) for c in children)
        assert sorted(slot for _pid, slot, _wins in found) == list(range(PROCESSES))
        assert {r.serving for r in reports} == {"on"}
        for n, _instant in enumerate(INSTANTS):
            assert [wins[n] for _pid, _slot, wins in found].count(True) == 1
        # Concurrent writers of the history, each in its own process: none lost.
        assert sorted(c.changed_by or "" for c in history.history(cache)) == sorted(
            f"pid {c.pid}" for c in children
        )
    finally:
        stop.set()
        for child in children:
            child.join(30)
            if child.is_alive():
                child.kill()
    assert [child.exitcode for child in children] == [0] * PROCESSES


def _reporting(kind: str, location: str, serving: Any, stop: Any) -> None:
    cache = _cache(kind, location)
    reporter = fleet.reporter()
    for _round in range(3000):  # at most about 5 minutes
        if stop.is_set():
            break
        state = reports.State(serving.value.decode(), None, 0.1)
        reporter.report(cache, state, time.time())
        stop.wait(0.1)


def test_wait_sees_a_flip_and_names_a_stopped_process(server: tuple[str, str]) -> None:
    from maintenance_env.management.fleet_text import wait_for_fleet

    kind, location = server
    context = multiprocessing.get_context("fork")
    serving, stop = context.Array(ctypes.c_char, b"off      "), context.Event()

    def set_serving(value: str) -> None:
        serving.value = value.encode()

    set_serving("off")
    children = [
        context.Process(target=_reporting, args=(kind, location, serving, stop)) for _n in range(3)
    ]
    for child in children:
        child.start()
    cache = _cache(kind, location)
    try:
        for _try in range(300):  # every child reports within about 30 s
            if len(fleet.live_reports(cache)) == 3:
                break
            time.sleep(0.1)
        assert wait_for_fleet(cache, "off", 30, 0.1).count == 3
        set_serving("on")
        result = wait_for_fleet(cache, "on", 30, 0.1)
        assert (result.exit_code, result.count) == (0, 3)
        stopped = children[1]
        os.kill(_pid(stopped), signal.SIGSTOP)
        try:
            set_serving("read-only")
            result = wait_for_fleet(cache, "read-only", 2, 0.1)
            assert result.exit_code == 1
            assert [r.pid for r in result.laggards] == [stopped.pid]
            assert f"{socket.gethostname()}:{stopped.pid} (on)" in result.text
        finally:
            os.kill(_pid(stopped), signal.SIGCONT)
    finally:
        stop.set()
        for child in children:
            child.join(30)
            if child.is_alive():
                child.kill()
