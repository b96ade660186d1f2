"""Fleet operations through the cache API alone: slots, expiry, claims, history (section 10).

Each test runs on Django's LocMemCache and on its DatabaseCache (SQLite), the two ends of
what the design may use: no key listing, only get_many/set/add and timeouts. Expiry is
driven by a frozen clock (time-machine), which both backends read.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.management.commands.createcachetable import Command as CreateCacheTable

from maintenance_env import claims, fleet, history, printing, reports
from maintenance_env.fleet import Reporter
from maintenance_env.history import Change
from maintenance_env.reports import State

START = dt.datetime(2040, 6, 1, 5, 6, 7, tzinfo=dt.timezone.utc)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def _locmem() -> BaseCache:
    return LocMemCache(f"fleet-{uuid.uuid4().hex}", {"OPTIONS": {"MAX_ENTRIES": 100_000}})


@pytest.fixture(params=["locmem", "db"])
def cache(request: pytest.FixtureRequest) -> BaseCache:
    if request.param == "locmem":
        return _locmem()
    request.getfixturevalue("db")
    table = f"fleet_cache_{uuid.uuid4().hex[:8]}"
    command = CreateCacheTable()
    command.verbosity = 0
    command.create_table("default", table, False)
    return DatabaseCache(table, {"OPTIONS": {"MAX_ENTRIES": 100_000, "CULL_FREQUENCY": 0}})


def _now() -> float:
    return dt.datetime.now(dt.timezone.utc).timestamp()


ON = State("on", "2040-06-01T05:06:07Z", 1.0)
OFF = State("off", None, 1.0)


class Counting:
    """A cache wrapper that counts the calls made through it."""

    def __init__(self, cache: BaseCache) -> None:
        self.cache = cache
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.cache, name)
        if name in ("get", "get_many", "set", "set_many", "add", "delete", "delete_many"):

            def counted(*args: Any, **kwargs: Any) -> Any:
                self.calls.append(name)
                return target(*args, **kwargs)

            return counted
        return target


def test_each_process_claims_the_lowest_free_slot(cache: BaseCache, clock: Any) -> None:
    a, b, c = Reporter("web-1", 11), Reporter("web-1", 12), Reporter("web-2", 11)
    for reporter in (a, b, c):
        reporter.report(cache, OFF, _now())
    assert (a.slot, b.slot, c.slot) == (0, 1, 2)
    reports = fleet.live_reports(cache)
    assert [(r.host, r.pid, r.serving) for r in reports] == [
        ("web-1", 11, "off"),
        ("web-1", 12, "off"),
        ("web-2", 11, "off"),
    ]
    b.leave(cache)
    d = Reporter("web-3", 7)
    d.report(cache, ON, _now())
    assert d.slot == 1
    assert {r.name for r in fleet.live_reports(cache)} == {"web-1:11", "web-2:11", "web-3:7"}


def test_a_report_expires_unless_renewed(cache: BaseCache, clock: Any) -> None:
    live, dead = Reporter("web", 1), Reporter("web", 2)
    for reporter in (live, dead):
        reporter.report(cache, ON, _now())
    ttl = reports.report_ttl(1.0)
    assert ttl == 30.0
    for _step in range(4):
        clock.shift(ttl / 3)
        live.report(cache, ON, _now())
    assert [r.pid for r in fleet.live_reports(cache)] == [1]


def test_the_ttl_is_three_intervals_at_least_30_s_and_renewed_every_10_s() -> None:
    assert reports.report_ttl(0.5) == 30.0
    assert reports.report_ttl(20.0) == 30.0  # renewed every 10 s: 3 x 10
    assert reports.report_ttl(5.0) == 30.0


def test_a_held_slot_costs_one_set_per_interval(cache: BaseCache, clock: Any) -> None:
    reporter = Reporter("web", 1)
    reporter.report(cache, OFF, _now())
    counting = Counting(cache)
    for _interval in range(5):
        clock.shift(1)
        found = cache.get_many(reporter.keys_to_read())  # rides on the store's own read
        reporter.report(counting, ON, _now(), found=found)  # type: ignore[arg-type]
    assert counting.calls == ["set"] * 5
    assert fleet.live_reports(cache)[0].serving == "on"


def test_a_paused_process_whose_slot_was_taken_claims_another(cache: BaseCache, clock: Any) -> None:
    paused, other = Reporter("web", 1), Reporter("web", 2)
    paused.report(cache, ON, _now())
    clock.shift(reports.report_ttl(1.0) + 1)
    other.report(cache, ON, _now())
    assert other.slot == 0
    paused.report(cache, ON, _now(), found=cache.get_many(paused.keys_to_read()))
    assert paused.slot == 1
    assert sorted(r.pid for r in fleet.live_reports(cache)) == [1, 2]


def test_readers_find_every_slot_past_chunks_and_holes(cache: BaseCache, clock: Any) -> None:
    reporters = [Reporter("web", pid) for pid in range(fleet.CHUNK * 2 + 30)]
    for reporter in reporters:
        reporter.report(cache, OFF, _now())
    # A whole chunk left empty in the middle: the high-water mark carries the reader past it.
    for reporter in reporters[fleet.CHUNK : fleet.CHUNK * 2]:
        reporter.leave(cache)
    found = fleet.live_reports(cache)
    assert len(found) == fleet.CHUNK + 30
    assert found[-1].slot == fleet.CHUNK * 2 + 29


def test_a_report_that_is_not_one_is_ignored(cache: BaseCache, clock: Any) -> None:
    cache.set(fleet.slot_key(0), "not json", 60)
    cache.set(fleet.slot_key(1), '{"h": "x"}', 60)
    Reporter("web", 3).report(cache, OFF, _now())
    assert [r.pid for r in fleet.live_reports(cache)] == [3]


def test_a_forked_child_gets_a_reporter_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = fleet.reporter()
    assert fleet.reporter() is parent
    monkeypatch.setattr("maintenance_env.fleet.os.getpid", lambda: parent.pid + 1)
    child = fleet.reporter()
    assert child is not parent
    assert child.token != parent.token


def test_state_refuses_an_unknown_serving() -> None:
    with pytest.raises(ValueError, match="serving='maybe'"):
        State("maybe", None, 1.0)


# --- claims ---------------------------------------------------------------------------------


def test_one_claim_wins_among_racing_threads() -> None:
    cache = _locmem()
    reporters = [Reporter("web", pid) for pid in range(16)]
    won: list[int] = []
    barrier = threading.Barrier(len(reporters), timeout=10)

    def race(reporter: Reporter) -> None:
        barrier.wait()
        if reporter.claims.claim(cache, "2040-06-01T05:06:07Z", _now()):
            won.append(reporter.pid)

    threads = [threading.Thread(target=race, args=(r,)) for r in reporters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(won) == 1


def test_a_done_claim_closes_and_a_dead_winner_is_taken_over(cache: BaseCache, clock: Any) -> None:
    winner, loser, late = Reporter("a", 1), Reporter("b", 2), Reporter("c", 3)
    assert winner.claims.claim(cache, "T1", _now())
    assert not loser.claims.claim(cache, "T1", _now())
    assert "T1" in loser.claims.open_claims
    winner.claims.done(cache, "T1")
    clock.shift(1)
    assert not loser.claims.claim(cache, "T1", _now())
    assert loser.claims.open_claims == {}
    # A winner that dies before marking done: taken over after the bound, once.
    assert winner.claims.claim(cache, "T2", _now())
    assert not loser.claims.claim(cache, "T2", _now())
    assert not late.claims.claim(cache, "T2", _now())
    clock.shift(1)
    assert not loser.claims.claim(cache, "T2", _now())  # still within the bound
    clock.shift(claims.claim_bound(1.0))
    results = [loser.claims.claim(cache, "T2", _now()), late.claims.claim(cache, "T2", _now())]
    assert results.count(True) == 1


def test_claim_keys_are_memcached_safe() -> None:
    key = claims._done_key("2040-06-01 05:06:07\n+00:00" + "x" * 300)
    assert len(key) < 250
    assert " " not in key
    assert "\n" not in key


# --- history --------------------------------------------------------------------------------


def test_history_keeps_the_last_50_newest_first(cache: BaseCache, clock: Any) -> None:
    for n in range(60):
        history.record_change(cache, Change(f"2040-06-01T05:{n:02d}:00Z", "ops@h", f"step {n}"))
    changes = history.history(cache)
    assert len(changes) == history.HISTORY_LIMIT
    assert changes[0].reason == "step 59"
    assert changes[-1].reason == "step 10"


def test_concurrent_writers_lose_no_entry() -> None:
    cache = _locmem()
    barrier = threading.Barrier(8, timeout=10)

    def write(n: int) -> None:
        barrier.wait()
        history.record_change(cache, Change(f"2040-06-01T05:06:{n:02d}Z", f"w{n}", None))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(c.changed_by or "" for c in history.history(cache)) == [f"w{n}" for n in range(8)]


def test_a_writer_that_cannot_take_the_lock_writes_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = _locmem()
    cache.add(history.HISTORY_LOCK_KEY, "someone else", 60)
    ticks = iter(range(100))
    history.record_change(
        cache,
        Change("2040-06-01T05:06:07Z", "ops", "why"),
        lock_timeout=3,
        clock=lambda: float(next(ticks)),
        sleep=lambda _s: None,
    )
    assert [c.reason for c in history.history(cache)] == ["why"]
    assert "a concurrent entry may be missing" in caplog.text


def test_a_history_that_is_not_json_reads_as_empty(caplog: pytest.LogCaptureFixture) -> None:
    cache = _locmem()
    cache.set(history.HISTORY_KEY, "{oops", None)
    assert history.history(cache) == []
    assert "not JSON" in caplog.text


def test_text_is_printed_escaped() -> None:
    assert printing.printable("a\x1b[2Jb\r\nc\u202ed\\e") == "a\\x1b[2Jb\\x0d\\x0ac\\u202ed\\\\e"


@pytest.mark.parametrize(("processes", "reads"), [(10, 2), (250, 4)])
def test_a_reader_costs_what_the_docs_say(processes: int, reads: int, clock: Any) -> None:
    """docs/live-sources.md: ceil(N / 100) + 1 get_many calls per read."""
    cache = _locmem()
    for pid in range(processes):
        Reporter("web", pid).report(cache, OFF, _now())
    counting = Counting(cache)
    assert len(fleet.live_reports(counting)) == processes  # type: ignore[arg-type]
    assert counting.calls == ["get_many"] * reads


def test_the_module_report_uses_this_process_reporter(clock: Any) -> None:
    cache = _locmem()
    fleet.report(cache, ON, _now())
    fleet.report(cache, OFF, _now())
    (found,) = fleet.live_reports(cache)
    assert (found.pid, found.serving, found.token) == (os.getpid(), "off", fleet.reporter().token)


def test_a_lost_store_is_reclaimed_in_the_same_slot(clock: Any) -> None:
    cache = _locmem()
    reporter = Reporter("web", 1)
    reporter.report(cache, OFF, _now())
    cache.clear()  # flushed or evicted
    reporter.report(cache, ON, _now(), found=cache.get_many(reporter.keys_to_read()))
    assert reporter.slot == 0
    assert [r.serving for r in fleet.live_reports(cache)] == ["on"]


def test_a_bogus_high_water_mark_bounds_the_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fleet, "MAX_SLOTS", 500)
    cache = _locmem()
    cache.set(fleet.HIGH_WATER_KEY, 10**9, None)
    counting = Counting(cache)
    assert fleet.live_reports(counting) == []  # type: ignore[arg-type]
    assert len(counting.calls) == 500 // fleet.CHUNK
