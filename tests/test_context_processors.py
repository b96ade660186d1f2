"""The ``maintenance`` template variable: active, upcoming, or nothing."""

from __future__ import annotations

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
    assert Client().get("/banner/").content == b"upcoming 2999-03-06T02:00:00+00:00"


@override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_MESSAGE="hi")
def test_active_for_exempt_visitors() -> None:
    context = maintenance(RequestFactory().get("/"))["maintenance"]
    assert context["active"] is True
    assert context["message"] == "hi"


@override_settings(MAINTENANCE_MODE=False, MAINTENANCE_MODE_STARTS_AT="2999-03-06T02:00:00Z")
def test_a_window_without_the_switch_is_not_announced() -> None:
    assert maintenance(RequestFactory().get("/"))["maintenance"]["upcoming"] is False
