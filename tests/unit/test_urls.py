"""``maintenance_env.urls``: ``status.json`` passes maintenance, says no secret nor origin,
and is never cached."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.test import Client, override_settings
from django.urls import include, path

from maintenance_env import runtime

urlpatterns = [path("maintenance/", include("maintenance_env.urls"))]

KEYS = {
    "active",
    "read_only",
    "message",
    "starts_at",
    "ends_at",
    "retry_after",
    "next_starts_at",
    "next_ends_at",
}


def later(hours: float) -> str:
    moment = dt.datetime.fromtimestamp(int(time.time() + hours * 3600), dt.timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture(autouse=True)
def urls() -> object:
    with override_settings(ROOT_URLCONF=__name__):
        yield


@override_settings(
    MAINTENANCE_MODE=True,
    MAINTENANCE_MODE_READ_ONLY=True,
    MAINTENANCE_MODE_MESSAGE="Back soon",
    MAINTENANCE_MODE_BYPASS_SECRET="s3cret-s3cret-s3cret-s3cret",
)
def test_status_json_passes_maintenance_and_says_no_secret() -> None:
    runtime.reset()
    ends = later(2)
    with override_settings(MAINTENANCE_MODE_ENDS_AT=ends):
        runtime.reset()
        response = Client().get("/maintenance/status.json")
    assert response.status_code == 200
    data = response.json()
    assert set(data) == KEYS
    assert data["active"] is True
    assert data["read_only"] is True
    assert data["message"] == "Back soon"
    assert data["ends_at"] == ends
    assert isinstance(data["retry_after"], int)
    assert data["next_starts_at"] is None
    body = response.content.decode()
    assert "s3cret" not in body
    assert "settings" not in body  # no origin
    assert "no-cache" in response["Cache-Control"]
    assert "max-age=0" in response["Cache-Control"]


def test_status_json_when_a_window_is_to_come() -> None:
    starts, ends = later(1), later(2)
    with override_settings(MAINTENANCE_MODE_STARTS_AT=starts, MAINTENANCE_MODE_ENDS_AT=ends):
        runtime.reset()
        data = Client().get("/maintenance/status.json").json()
    assert data["active"] is False
    assert (data["next_starts_at"], data["next_ends_at"]) == (starts, ends)
    assert data["retry_after"] is None


def test_status_json_refuses_a_post() -> None:
    runtime.reset()
    assert Client().post("/maintenance/status.json").status_code == 405
