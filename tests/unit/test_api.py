"""``maintenance_env.is_active()`` and ``maintenance_env.status()``: this process's view."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings

import maintenance_env
from maintenance_env import api, runtime
from maintenance_env.status_report import SourceHealth, Status, VariableStatus, Window
from maintenance_env.variables import VARIABLES, Origin
from tests.kubelet import ConfigMapVolume

UTC = dt.timezone.utc


def command_status() -> dict[str, Any]:
    out = StringIO()
    call_command("maintenance_mode", "status", "--json", stdout=out, stderr=StringIO())
    report: dict[str, Any] = json.loads(out.getvalue())
    return report


# --- is_active() ----------------------------------------------------------------------


def test_the_package_exports_the_api() -> None:
    assert maintenance_env.is_active is api.is_active
    assert maintenance_env.status is api.status
    assert maintenance_env.Status is Status
    assert maintenance_env.signals.maintenance_changed is not None
    assert {"is_active", "status", "override", "skip_during_maintenance", "signals"} <= set(
        dir(maintenance_env)
    )
    with pytest.raises(AttributeError):
        maintenance_env.no_such_name  # noqa: B018


def test_is_active_follows_the_environment_and_settings(env: Callable[..., None]) -> None:
    assert maintenance_env.is_active() is False
    with override_settings(MAINTENANCE_MODE=True):
        assert maintenance_env.is_active() is True
    assert maintenance_env.is_active() is False
    env(MAINTENANCE_MODE="on")
    assert maintenance_env.is_active() is True


def test_is_active_follows_the_window(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_STARTS_AT="2999-01-01T00:00:00Z")
    assert maintenance_env.is_active() is False
    env(MAINTENANCE_MODE_STARTS_AT="2000-01-01T00:00:00Z")
    assert maintenance_env.is_active() is True
    env(MAINTENANCE_MODE_ENDS_AT="2001-01-01T00:00:00Z")
    assert maintenance_env.is_active() is False


def test_is_active_follows_the_mounted_config_live(
    env: Callable[..., None], volume: ConfigMapVolume
) -> None:
    volume.update({"MAINTENANCE_MODE": "off"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    assert maintenance_env.is_active() is False
    volume.update({"MAINTENANCE_MODE": "on"})
    assert maintenance_env.is_active() is True  # no new runtime: the same process sees it


def test_is_active_reads_the_shared_store_before_its_first_answer(
    env: Callable[..., None],
) -> None:
    """A worker that has just started does not run a task because the store is unread."""
    from django.core.cache import caches

    caches["default"].set("maintenance_env:MAINTENANCE_MODE", "on", timeout=None)
    try:
        env(MAINTENANCE_MODE_CACHE="default", MAINTENANCE_MODE_RELOAD_INTERVAL="3600")
        assert maintenance_env.is_active() is True
    finally:
        caches["default"].delete("maintenance_env:MAINTENANCE_MODE")


def test_is_active_refuses_a_bad_configuration(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="treu")
    with pytest.raises(ImproperlyConfigured, match="MAINTENANCE_MODE='treu'"):
        maintenance_env.is_active()


# --- status() -------------------------------------------------------------------------


def test_status_is_frozen_and_typed(env: Callable[..., None]) -> None:
    env(
        MAINTENANCE_MODE="on",
        MAINTENANCE_MODE_READ_ONLY="on",
        MAINTENANCE_MODE_ENDS_AT="2999-01-01T00:00:00Z",
        MAINTENANCE_MODE_RETRY_AFTER="120",
        MAINTENANCE_MODE_BYPASS_SECRET="a-long-enough-secret-value",
        MAINTENANCE_MODE_CACHE="redis://:hunter2@127.0.0.1:1/0",  # nothing listens there,
    )
    info = maintenance_env.status()  # the store cannot be reached: status() still answers
    assert isinstance(info, Status)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.active = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        info.variables["MAINTENANCE_MODE"] = VariableStatus(False, Origin.DEFAULT)  # type: ignore[index]
    assert info.active is True
    assert info.read_only is True
    assert info.retry_after == 120
    assert info.window == Window(None, dt.datetime(2999, 1, 1, tzinfo=UTC), "current")
    assert list(info.variables) == list(VARIABLES)
    assert info.variables["MAINTENANCE_MODE"] == VariableStatus(True, Origin.ENVIRONMENT)
    assert info.variables["MAINTENANCE_MODE_ENDS_AT"].value == dt.datetime(2999, 1, 1, tzinfo=UTC)
    assert info.variables["MAINTENANCE_MODE_BYPASS_SECRET"].value == "***"
    assert info.variables["MAINTENANCE_MODE_CACHE"].value == "redis://:***@127.0.0.1:1/0"
    text = json.dumps(info.as_dict())
    assert "hunter2" not in text
    assert "a-long-enough-secret-value" not in text
    (store,) = info.sources
    assert store.origin is Origin.CACHE
    assert store.ok is False
    assert store.error
    assert "hunter2" not in store.label + store.error
    assert store.stale_since is not None
    assert store.last_read is None


def test_status_when_off(env: Callable[..., None]) -> None:
    info = maintenance_env.status()
    assert info.active is False
    assert info.read_only is False
    assert info.retry_after is None
    assert info.window is None
    assert info.sources == ()
    assert info.last_change is None
    assert info.reason == "MAINTENANCE_MODE is off, from the default"


def test_status_reports_mounted_config_health(
    env: Callable[..., None], volume: ConfigMapVolume
) -> None:
    volume.update({"MAINTENANCE_MODE": "on"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    (source,) = maintenance_env.status().sources
    assert source == SourceHealth(
        Origin.CONFIG,
        f"the mounted config {volume.root}",
        True,
        None,
        source.last_read,
        None,
        changed_at=source.changed_at,
    )
    assert source.changed_at is not None
    assert source.last_read is not None
    assert maintenance_env.status().variables["MAINTENANCE_MODE"].origin is Origin.CONFIG

    shutil.rmtree(volume.root)
    (source,) = maintenance_env.status().sources
    assert source.ok is False
    assert source.error
    assert source.stale_since is not None


def test_status_reports_a_bad_configuration_instead_of_raising(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="treu", MAINTENANCE_MODE_PLATFORM="mainframe")
    info = maintenance_env.status()
    assert info.active is False
    assert any("MAINTENANCE_MODE='treu'" in p for p in info.problems)
    assert info.platform.name is None
    assert "MAINTENANCE_MODE_PLATFORM='mainframe'" in info.platform.reason


def test_status_carries_the_last_change(env: Callable[..., None], volume: ConfigMapVolume) -> None:
    volume.update({"MAINTENANCE_MODE": "off"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    runtime.load_runtime()
    assert maintenance_env.status().last_change is None
    volume.update({"MAINTENANCE_MODE": "on"})
    change = maintenance_env.status().last_change
    assert change is not None
    assert (change.active, change.previous, change.cause) == (True, False, "config file")
    assert maintenance_env.status().as_dict()["last_change"]["cause"] == "config file"


# --- status().as_dict() and `maintenance_mode status --json` agree -------------------

#: What status() adds to the command's report (the command will print them once it uses
#: status() itself).
#: Per process: when this process last read each live source, and the last change it saw.
PER_PROCESS = {"sources", "last_change"}


def same_report(ours: dict[str, Any], printed: dict[str, Any]) -> None:
    """The command's JSON and status().as_dict() agree field for field; of the per-process
    fields, the sources agree but for their read times."""
    assert set(ours) == set(printed)
    assert {k: v for k, v in ours.items() if k not in PER_PROCESS} == {
        k: v for k, v in printed.items() if k not in PER_PROCESS
    }
    timeless = [
        {k: v for k, v in s.items() if k not in ("last_read", "stale_since")}
        for s in ours["sources"]
    ]
    assert timeless == [
        {k: v for k, v in s.items() if k not in ("last_read", "stale_since")}
        for s in printed["sources"]
    ]


CASES: dict[str, dict[str, str]] = {
    "default": {},
    "on": {"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_RETRY_AFTER": "90"},
    "window upcoming": {
        "MAINTENANCE_MODE": "on",
        "MAINTENANCE_MODE_STARTS_AT": "2999-12-01T02:00:00Z",
        "MAINTENANCE_MODE_ENDS_AT": "2999-12-01T04:00:00+00:00",
    },
    "window past": {"MAINTENANCE_MODE": "yes", "MAINTENANCE_MODE_ENDS_AT": "2001-01-01"},
    "every kind of value": {
        "MAINTENANCE_MODE": "on",
        "MAINTENANCE_MODE_READ_ONLY": "on",
        "MAINTENANCE_MODE_REFRESH": "30",
        "MAINTENANCE_MODE_RETRY_AFTER": "0",
        "MAINTENANCE_MODE_EXCEPT_URLS": "^/api/, ^/hooks/",
        "MAINTENANCE_MODE_EXCEPT_IPS": "10.0.0.0/8, 2001:db8::1",
        "MAINTENANCE_MODE_BYPASS_SECRET": "a-long-enough-secret-value",
        "MAINTENANCE_MODE_PLATFORM": "heroku",
        "MAINTENANCE_MODE_REDIRECT_URL": "https://status.example.com/",
    },
    "bad values": {"MAINTENANCE_MODE": "treu", "MAINTENANCE_MODE_STATUS_CODE": "204"},
    "bad platform": {"MAINTENANCE_MODE_PLATFORM": "mainframe"},
}


@pytest.mark.parametrize("values", CASES.values(), ids=list(CASES))
def test_as_dict_equals_the_commands_json(env: Callable[..., None], values: dict[str, str]) -> None:
    env(**values)
    printed = command_status()
    ours = maintenance_env.status().as_dict()
    same_report(ours, printed)


@pytest.mark.parametrize("missing", [False, True], ids=["mounted", "mounted but missing"])
def test_as_dict_equals_the_commands_json_with_a_mounted_config(
    env: Callable[..., None], tmp_path: Path, missing: bool
) -> None:
    volume = ConfigMapVolume(
        tmp_path / "config", {"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_MESSAGE": "Soon"}
    )
    if missing:
        shutil.rmtree(volume.root)
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root))
    printed = command_status()
    ours = maintenance_env.status().as_dict()
    same_report(ours, printed)
    assert ours["sources"][0]["ok"] is (not missing)


def test_as_dict_is_json(env: Callable[..., None], volume: ConfigMapVolume) -> None:
    volume.update({"MAINTENANCE_MODE": "on"})
    env(
        MAINTENANCE_MODE_CONFIG_PATH=str(volume.root),
        MAINTENANCE_MODE_STARTS_AT="2000-01-01",
        MAINTENANCE_MODE_EXCEPT_IPS="10.0.0.0/8",
    )
    data = maintenance_env.status().as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["window"] == {
        "starts_at": "2000-01-01T00:00:00Z",
        "ends_at": None,
        "when": "current",
    }
    assert data["sources"][0]["last_read"].endswith("Z")


def test_skipped_lines_are_shown_by_status(env: Callable[..., None], tmp_path: Path) -> None:
    path = tmp_path / "maintenance.env"
    path.write_text(
        "MAINTENANCE_MODE=on\nMAINTENANCE_MODE_MESSAGE: oops\nMAINTENANCE_MODE_TYPO=1\n"
    )
    env(MAINTENANCE_MODE_CONFIG_PATH=str(path))
    notes = maintenance_env.status().as_dict()["sources"][0]["notes"]
    assert any("line 2" in note for note in notes), notes
    assert any("MAINTENANCE_MODE_TYPO" in note for note in notes), notes
    assert command_status()["sources"][0]["notes"] == notes
    out = StringIO()
    call_command("maintenance_mode", "status", stdout=out, stderr=StringIO())
    assert f"Skipped in the mounted config {path}: {notes[0]}" in out.getvalue()


def test_status_says_when_the_mounted_config_last_changed(
    env: Callable[..., None], tmp_path: Path
) -> None:
    path = tmp_path / "maintenance.env"
    path.write_text("MAINTENANCE_MODE=on\n")
    os.utime(path, (1_800_000_000, 1_800_000_000))
    env(MAINTENANCE_MODE_CONFIG_PATH=str(path))
    source = maintenance_env.status().as_dict()["sources"][0]
    assert source["changed_at"] == "2027-01-15T08:00:00Z"
    assert command_status()["sources"][0]["changed_at"] == source["changed_at"]
