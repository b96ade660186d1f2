"""The ``maintenance`` template variable: active, upcoming, or nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client, RequestFactory, override_settings

from maintenance_env.context_processors import maintenance


def test_nothing_by_default() -> None:
    assert Client().get("/banner/").content == b"none"
    context = maintenance(RequestFactory().get("/"))["maintenance"]
    assert context["active"] is False
    assert context["upcoming"] is False


@override_settings(
    MAINTENANCE_MODE=True,
    MAINTENANCE_MODE_STARTS_AT="2999-03-06T02:00:00Z",
    MAINTENANCE_MODE_ENDS_AT="2999-03-06T04:00:00Z",
)
def test_an_announced_window_is_upcoming() -> None:
    with time_machine.travel(dt.datetime(2999, 3, 5, 3, tzinfo=dt.timezone.utc), tick=False):
        assert Client().get("/banner/").content == b"upcoming 2999-03-06T02:00:00+00:00"


@override_settings(
    MAINTENANCE_MODE=True,
    MAINTENANCE_MODE_STARTS_AT="2999-03-06T02:00:00Z",
    MAINTENANCE_MODE_ENDS_AT="2999-03-06T04:00:00Z",
)
def test_a_window_is_announced_only_from_announce_seconds_before() -> None:
    with time_machine.travel(dt.datetime(2999, 3, 5, 1, tzinfo=dt.timezone.utc), tick=False):
        assert Client().get("/banner/").content == b"none"
    later = dt.datetime(2999, 3, 5, 1, tzinfo=dt.timezone.utc)
    with override_settings(MAINTENANCE_MODE_ANNOUNCE=90000), time_machine.travel(later, tick=False):
        context = maintenance(RequestFactory().get("/"))["maintenance"]
    assert context["upcoming"] is True
    assert context["next_starts_at"] == dt.datetime(2999, 3, 6, 2, tzinfo=dt.timezone.utc)
    assert context["next_ends_at"] == dt.datetime(2999, 3, 6, 4, tzinfo=dt.timezone.utc)


SUNDAYS = {
    "MAINTENANCE_MODE": True,
    "MAINTENANCE_MODE_SCHEDULE": "sun 01:00-02:00",
    "MAINTENANCE_MODE_SCHEDULE_TIME_ZONE": "Europe/Berlin",
    "MAINTENANCE_MODE_READ_ONLY_FIRST": 600,
    "MAINTENANCE_MODE_ANNOUNCE": 3600,
}


@pytest.mark.parametrize(
    ("at", "phase", "active", "read_only", "upcoming"),
    [
        ((2026, 12, 5, 22, 59), "off", False, False, False),
        ((2026, 12, 5, 23, 30), "upcoming", False, False, True),
        ((2026, 12, 6, 0, 5), "read-only", True, True, False),
        ((2026, 12, 6, 0, 30), "active", True, False, False),
        ((2026, 12, 6, 1, 0), "off", False, False, False),
    ],
)
def test_a_schedule_through_its_phases(
    at: tuple[int, int, int, int, int], phase: str, active: bool, read_only: bool, upcoming: bool
) -> None:
    # Sundays 01:00-02:00 in Berlin (CET, UTC+1): 00:00-01:00 UTC on 2026-12-06.
    with (
        override_settings(**SUNDAYS),
        time_machine.travel(dt.datetime(*at, tzinfo=dt.timezone.utc), tick=False),
    ):
        context = maintenance(RequestFactory().get("/"))["maintenance"]
    assert (context["phase"], context["active"], context["read_only"], context["upcoming"]) == (
        phase,
        active,
        read_only,
        upcoming,
    )
    if active:
        assert context["ends_at"] == dt.datetime(2026, 12, 6, 1, tzinfo=dt.timezone.utc)
    if upcoming:
        assert context["next_starts_at"] == dt.datetime(2026, 12, 6, 0, tzinfo=dt.timezone.utc)


@override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_MESSAGE="hi")
def test_active_for_exempt_visitors() -> None:
    context = maintenance(RequestFactory().get("/"))["maintenance"]
    assert context["active"] is True
    assert context["message"] == "hi"


@override_settings(MAINTENANCE_MODE=False, MAINTENANCE_MODE_STARTS_AT="2999-03-06T02:00:00Z")
def test_a_window_without_the_switch_is_not_announced() -> None:
    assert maintenance(RequestFactory().get("/"))["maintenance"]["upcoming"] is False
