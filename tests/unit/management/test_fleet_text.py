"""The command's fleet parts: status --fleet, history, and --wait against fake reports."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any, cast

import pytest
import time_machine
from django.core.cache.backends.locmem import LocMemCache

from maintenance_env import fleet, history, reports
from maintenance_env.fleet import Reporter
from maintenance_env.history import Change
from maintenance_env.management import fleet_text
from maintenance_env.reports import State

START = dt.datetime(2040, 6, 1, 5, 6, 7, tzinfo=dt.timezone.utc)
APPLIED = "2040-06-01T05:06:07Z"


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def cache() -> LocMemCache:
    return LocMemCache(f"fleet-text-{uuid.uuid4().hex}", {})


def _now() -> float:
    return dt.datetime.now(dt.timezone.utc).timestamp()


def test_wait_without_a_store_is_a_clear_error() -> None:
    with pytest.raises(
        fleet.FleetError, match="--wait needs the shared store: set MAINTENANCE_MODE_CACHE"
    ):
        fleet_text.wait_for_fleet(None, "on", 5, 1, lambda: 0.0)


def test_wait_refuses_an_unknown_target(cache: LocMemCache) -> None:
    with pytest.raises(fleet.FleetError, match="target='up'"):
        fleet_text.wait_for_fleet(cache, "up", 5, 1, lambda: 0.0)


def test_wait_returns_once_every_process_serves_the_target(cache: LocMemCache, clock: Any) -> None:
    fast, slow = Reporter("web-1", 10), Reporter("web-2", 20)
    fast.report(cache, State("on", APPLIED, 1.0), _now())
    slow.report(cache, State("off", None, 1.0), _now())
    rounds: list[float] = []

    def sleep(seconds: float) -> None:
        clock.shift(seconds)
        rounds.append(seconds)
        if len(rounds) == 2:  # the slow one applies the change in the second interval
            slow.report(cache, State("on", APPLIED, 1.0), _now())

    result = fleet_text.wait_for_fleet(cache, "on", 60, 1, _now, changed_at=APPLIED, sleep=sleep)
    assert result.exit_code == 0
    assert result.count == 2
    assert result.elapsed == 2.0
    assert result.text == "All 2 live processes serve on (after 2.0s)."


def test_wait_times_out_naming_the_laggard_and_a_dead_one_drops_out(
    cache: LocMemCache, clock: Any
) -> None:
    live, stopped, dead = Reporter("web-1", 10), Reporter("web-2", 20), Reporter("web-3", 30)
    for reporter in (live, stopped, dead):
        reporter.report(cache, State("off", None, 1.0), _now())
    clock.shift(reports.report_ttl(1.0) - 5)
    # `stopped` renewed a moment before it was paused; `dead` never again.
    stopped.report(cache, State("off", None, 1.0), _now())

    def sleep(seconds: float) -> None:
        clock.shift(seconds)
        live.report(cache, State("on", APPLIED, 1.0), _now())

    result = fleet_text.wait_for_fleet(cache, "on", 10, 1, _now, changed_at=APPLIED, sleep=sleep)
    assert result.exit_code == 1
    assert [r.name for r in result.laggards] == ["web-2:20"]
    assert result.count == 2
    assert "web-2:20 (off)" in result.text
    assert "web-3" not in result.text


def test_wait_with_no_process_reporting_says_so(cache: LocMemCache, clock: Any) -> None:
    result = fleet_text.wait_for_fleet(cache, "off", 5, 1, _now, sleep=clock.shift)
    assert result.exit_code == 0
    assert result.count == 0
    assert "No live process reports" in result.text


def _fleet(cache: LocMemCache) -> list[reports.Report]:
    Reporter("web-1", 10).report(cache, State("on", APPLIED, 1.0), _now())
    Reporter("web-1", 11).report(cache, State("on", APPLIED, 1.0), _now())
    Reporter("web\x1b[31m-2", 20).report(cache, State("off", "2040-06-01T05:00:00Z", 1.0), _now())
    return fleet.live_reports(cache)


def test_status_fleet_groups_processes_and_names_laggards(cache: LocMemCache, clock: Any) -> None:
    reports = _fleet(cache)
    last = Change(APPLIED, "ops@deploy\n-1", "db upgrade\x1b]0;owned\x07", "on")
    text = fleet_text.fleet_text(reports, last, APPLIED)
    assert text.splitlines() == [
        "Fleet: 3 live processes",
        "  on: 2 (web-1:10, web-1:11)",
        "  off: 1 (web\\x1b[31m-2:20)",
        "  not applied the change at 2040-06-01T05:06:07Z: web\\x1b[31m-2:20",
        "Last change: 2040-06-01T05:06:07Z, on, by ops@deploy\\x0a-1: db upgrade\\x1b]0;owned\\x07",
    ]
    found = fleet_text.fleet_json(reports, last, APPLIED)
    assert found["processes"] == 3
    # fleet_json is typed dict[str, object]: its JSON shape, as the status command prints it.
    serving = cast("dict[str, list[dict[str, object]]]", found["serving"])
    laggards = cast("list[dict[str, object]]", found["laggards"])
    assert [r["pid"] for r in serving["on"]] == [10, 11]
    assert [r["pid"] for r in laggards] == [20]
    assert found["last_change"] == last.as_dict()
    json.dumps(found)


def test_history_text_and_json(cache: LocMemCache) -> None:
    history.record_change(cache, Change("2040-06-01T05:00:00Z", "a@h", None, "on", "admin"))
    history.record_change(cache, Change("2040-06-01T06:00:00Z", "b@h", "done\r", "off"))
    changes = history.history(cache)
    assert fleet_text.history_text(changes).splitlines() == [
        "2040-06-01T06:00:00Z  off        b@h (command): done\\x0d",
        "2040-06-01T05:00:00Z  on         a@h (admin)",
    ]
    assert json.loads(fleet_text.history_json(changes))[0]["reason"] == "done\r"
    assert fleet_text.history_text([]) == "No change recorded in the shared store."
    assert fleet_text.last_change(cache) == changes[0]
