"""The schedule wired in: ``is_active``, ``status()``, ``Retry-After``, the JSON body and
the read-only first part of a window, through the middleware and the Python API.

The clock is frozen (time-machine) at fixed instants; nothing depends on today's date.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import time_machine
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

import maintenance_env
from maintenance_env import runtime

UTC = dt.timezone.utc
# Sundays 01:00-02:00 in Berlin: 2026-12-06 00:00-01:00 UTC (CET is UTC+1).
SUNDAYS: dict[str, Any] = {
    "MAINTENANCE_MODE": True,
    "MAINTENANCE_MODE_SCHEDULE": "sun 01:00-02:00",
    "MAINTENANCE_MODE_SCHEDULE_TIME_ZONE": "Europe/Berlin",
}


def at(*args: int) -> Any:
    return time_machine.travel(dt.datetime(*args, tzinfo=UTC), tick=False)  # type: ignore[arg-type,misc]


@override_settings(**SUNDAYS)
def test_active_only_inside_a_window() -> None:
    with at(2026, 12, 5, 23, 59):
        assert maintenance_env.is_active() is False
        assert Client().get("/").status_code == 200
    with at(2026, 12, 6, 0, 0):
        assert maintenance_env.is_active() is True
        response = Client().get("/", HTTP_ACCEPT="application/json")
        assert response.status_code == 503
        assert response["Retry-After"] == "3600"
        body = json.loads(response.content)
        assert body["ends_at"] == "2026-12-06T01:00:00Z"
        assert body["retry_after"] == 3600
    with at(2026, 12, 6, 0, 45):
        response = Client().get("/", HTTP_ACCEPT="application/json")
        assert response["Retry-After"] == "900"
    with at(2026, 12, 6, 1, 0):
        assert maintenance_env.is_active() is False


@override_settings(**SUNDAYS)
def test_the_switch_still_rules() -> None:
    with override_settings(MAINTENANCE_MODE=False), at(2026, 12, 6, 0, 30):
        assert maintenance_env.is_active() is False


@override_settings(**SUNDAYS, MAINTENANCE_MODE_ENDS_AT="2026-12-06T00:30:00Z")
def test_with_a_one_off_window_only_both() -> None:
    with at(2026, 12, 6, 0, 15):
        response = Client().get("/", HTTP_ACCEPT="application/json")
        assert json.loads(response.content)["ends_at"] == "2026-12-06T00:30:00Z"
    with at(2026, 12, 6, 0, 45):
        assert maintenance_env.is_active() is False


@override_settings(**SUNDAYS)
def test_status_shows_the_current_and_next_windows() -> None:
    with at(2026, 12, 2, 13):
        info = maintenance_env.status()
        assert info.active is False
        assert info.phase == "off"
        assert info.current is None
        assert info.next is not None
        assert info.next.starts_at == dt.datetime(2026, 12, 6, 0, tzinfo=UTC)
        assert "no window of MAINTENANCE_MODE_SCHEDULE" in info.reason
        assert "2026-12-06T00:00:00Z" in info.reason
    with at(2026, 12, 6, 0, 30):
        data = maintenance_env.status().as_dict()
        assert data["phase"] == "active"
        assert data["current"]["ends_at"] == "2026-12-06T01:00:00Z"
        assert data["next"]["starts_at"] == "2026-12-13T00:00:00Z"
        assert data["variables"]["MAINTENANCE_MODE_SCHEDULE"]["value"] == "sun 01:00-02:00"
        assert data["variables"]["MAINTENANCE_MODE_SCHEDULE_TIME_ZONE"]["value"] == "Europe/Berlin"


@override_settings(**SUNDAYS, MAINTENANCE_MODE_READ_ONLY_FIRST=600)
def test_the_first_seconds_of_a_window_are_read_only() -> None:
    with at(2026, 12, 6, 0, 5):
        assert Client().get("/").status_code == 200
        assert Client().post("/").status_code == 503
        assert maintenance_env.status().read_only is True
    with at(2026, 12, 6, 0, 10):
        assert Client().get("/").status_code == 503
        assert maintenance_env.status().read_only is False


@override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_SCHEDULE_TIME_ZONE="UTC")
def test_the_zone_defaults_to_time_zone() -> None:
    with override_settings(MAINTENANCE_MODE_SCHEDULE="sun 01:00-02:00", TIME_ZONE="Asia/Tokyo"):
        runtime.reset()
        with at(2026, 12, 6, 1, 30):
            assert maintenance_env.is_active() is True  # the zone set wins
    with override_settings(
        MAINTENANCE_MODE_SCHEDULE="sun 01:00-02:00",
        MAINTENANCE_MODE_SCHEDULE_TIME_ZONE=None,
        TIME_ZONE="Asia/Tokyo",
    ):
        with at(2026, 12, 6, 1, 30):
            assert maintenance_env.is_active() is False
        with at(2026, 12, 5, 16, 30):  # Sunday 01:30 in Tokyo
            assert maintenance_env.is_active() is True


@pytest.mark.parametrize(
    ("name", "value", "says", "check_id"),
    [
        ("MAINTENANCE_MODE_SCHEDULE", "sun 01:00-02:00, mon 1am-2am", "'mon 1am-2am'", "E025"),
        ("MAINTENANCE_MODE_SCHEDULE_TIME_ZONE", "Europe/Nowhere", "Europe/Nowhere", "E026"),
        ("MAINTENANCE_MODE_READ_ONLY_FIRST", "-1", "MAINTENANCE_MODE_READ_ONLY_FIRST", "E027"),
        ("MAINTENANCE_MODE_ANNOUNCE", "1d", "MAINTENANCE_MODE_ANNOUNCE", "E028"),
    ],
)
def test_bad_values_are_check_errors_naming_them(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str, check_id: str
) -> None:
    monkeypatch.setenv(name, value)
    runtime.reset()
    errors = [m for m in run_checks() if m.id == f"maintenance_env.{check_id}"]
    assert len(errors) == 1
    assert says in errors[0].msg
    assert errors[0].hint
    with pytest.raises(ImproperlyConfigured, match=name):
        maintenance_env.is_active()


@override_settings(
    **SUNDAYS, MAINTENANCE_MODE_READ_ONLY_FIRST=600, MAINTENANCE_MODE_RELOAD_INTERVAL=0
)
def test_the_signal_fires_at_each_edge_and_phase_change() -> None:
    from maintenance_env import runtime as live
    from maintenance_env.signals import maintenance_changed

    seen: list[tuple[bool, bool, bool]] = []

    def receiver(sender: object, *, active: bool, previous: bool, status: Any, **kw: Any) -> None:
        if kw["change"].cause != "start":  # the start is announced too (previous=None)
            seen.append((active, previous, status.read_only))

    maintenance_changed.connect(receiver, weak=False)
    try:
        with at(2026, 12, 5, 23, 59):
            live.load_runtime()
            maintenance_env.is_active()
        for minute in (0, 5, 10, 30):
            with at(2026, 12, 6, 0, minute):
                maintenance_env.is_active()
                maintenance_env.is_active()
        with at(2026, 12, 6, 1, 0):
            maintenance_env.is_active()
    finally:
        maintenance_changed.disconnect(receiver)
    # off -> read-only -> full -> off: one signal each, none between.
    assert seen == [
        (True, False, True),
        (True, True, False),
        (False, True, False),
    ]


@override_settings(**SUNDAYS)
def test_the_status_command_shows_the_windows() -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    with at(2026, 12, 6, 0, 30):
        call_command("maintenance_mode", "status", stdout=out)
    text = out.getvalue()
    assert "Current window: 2026-12-06T00:00:00Z to 2026-12-06T01:00:00Z" in text
    assert "Next window: 2026-12-13T00:00:00Z to 2026-12-13T01:00:00Z" in text
    assert "in a window of MAINTENANCE_MODE_SCHEDULE until 2026-12-06T01:00:00Z" in text


@override_settings(**SUNDAYS)
def test_the_middleware_asks_again_exactly_at_the_next_edge() -> None:
    """Outside a window the middleware compares the clock with the end of the quiet period
    the policy found (``Policy.quiet_until``), and asks again from that instant on."""
    edge = dt.datetime(2026, 12, 6, 0, 0, tzinfo=UTC).timestamp()
    with at(2026, 12, 5, 23, 0):
        assert Client().get("/").status_code == 200
        assert runtime.get_state().quiet_until == edge
    with at(2026, 12, 5, 23, 59, 59):
        assert Client().get("/").status_code == 200
    with at(2026, 12, 6, 0, 0):
        assert Client().get("/").status_code == 503
    with at(2026, 12, 6, 1, 0):
        assert Client().get("/").status_code == 200
        # a quiet period again: it ends no later than next Sunday's window (the plan may
        # look again before it, never after)
        assert edge + 3600 < runtime.get_state().quiet_until <= edge + 7 * 86400
