"""Resolution: precedence per variable, the live mounted config, last good values, resets."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

from maintenance_env import runtime, variables
from maintenance_env.live import Runtime
from maintenance_env.sources import mounted as mounted_source
from maintenance_env.variables import VARIABLES, Origin
from tests.kubelet import ConfigMapVolume
from tests.tools import ROOT

CONFIGURATION = ROOT / "docs" / "configuration.md"
UTC = dt.timezone.utc


def test_defaults() -> None:
    runtime = Runtime()
    config = runtime.state().config
    assert config == variables.Config()
    assert config.enabled is False
    assert config.status_code == 503
    assert config.health_paths == ("/healthz", "/readyz", "/livez", "/health", "/up")
    assert config.bypass_cookie_age == 43200
    assert config.reload_interval == 1.0
    assert set(runtime.state().resolution.origins.values()) == {Origin.DEFAULT}
    assert runtime.state().retry_after() == 3600


def test_every_documented_variable_is_known() -> None:
    # docs/configuration.md has one section per variable, in the order of variables.VARIABLES.
    names = re.findall(r"^### `(MAINTENANCE_MODE[A-Z_]*)`$", CONFIGURATION.read_text(), re.M)
    assert names, "no variables found in docs/configuration.md"
    assert list(VARIABLES) == names


def test_environment_beats_settings(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_STATUS_CODE="500")
    with override_settings(MAINTENANCE_MODE=False, MAINTENANCE_MODE_MESSAGE="From settings"):
        resolution = Runtime().state().resolution
    assert resolution.config.enabled is True
    assert resolution.config.message == "From settings"
    assert resolution.origins["MAINTENANCE_MODE"] is Origin.ENVIRONMENT
    assert resolution.origins["MAINTENANCE_MODE_MESSAGE"] is Origin.SETTINGS
    assert resolution.origins["MAINTENANCE_MODE_STATUS_CODE"] is Origin.ENVIRONMENT
    assert resolution.raw["MAINTENANCE_MODE"] == "on"


def test_mounted_config_beats_environment(
    env: Callable[..., None], volume: ConfigMapVolume
) -> None:
    volume.update({"MAINTENANCE_MODE": "off", "MAINTENANCE_MODE_MESSAGE": "from the volume"})
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_CONFIG_PATH=str(volume.root))
    resolution = Runtime().state().resolution
    assert resolution.config.enabled is False
    assert resolution.config.message == "from the volume"
    assert resolution.origins["MAINTENANCE_MODE"] is Origin.CONFIG


@pytest.mark.parametrize("level", ["config", "environment", "settings"])
def test_an_empty_value_counts_as_unset_at_every_level(
    level: str, env: Callable[..., None], volume: ConfigMapVolume
) -> None:
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root))
    with override_settings(MAINTENANCE_MODE_STATUS_CODE=502):
        if level == "config":
            volume.update({"MAINTENANCE_MODE_STATUS_CODE": "  \n"})
        elif level == "environment":
            env(MAINTENANCE_MODE_STATUS_CODE="")
        else:
            env(MAINTENANCE_MODE_STATUS_CODE="")
        with override_settings(MAINTENANCE_MODE_STATUS_CODE="" if level == "settings" else 502):
            config = Runtime().state().config
    assert config.status_code == (503 if level == "settings" else 502)


def test_config_path_and_interval_never_come_from_the_mounted_config(
    env: Callable[..., None], volume: ConfigMapVolume, caplog: pytest.LogCaptureFixture
) -> None:
    volume.update({"MAINTENANCE_MODE_RELOAD_INTERVAL": "99", "MAINTENANCE_MODE_CONFIG_PATH": "/x"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root))
    with caplog.at_level(logging.WARNING, "maintenance_env"):
        runtime = Runtime()
    assert runtime.state().config.reload_interval == 1.0
    assert runtime.state().config.config_path == str(volume.root)
    assert "read only from the environment or settings" in caplog.text


def test_settings_accept_python_types() -> None:
    with override_settings(
        MAINTENANCE_MODE=True,
        MAINTENANCE_MODE_EXCEPT_IPS=["10.0.0.0/8"],
        MAINTENANCE_MODE_EXCEPT_URLS=(r"^/admin/",),
        MAINTENANCE_MODE_ENDS_AT=dt.datetime(2030, 1, 1, tzinfo=UTC),
        MAINTENANCE_MODE_RETRY_AFTER=0,
        MAINTENANCE_MODE_RELOAD_INTERVAL=0,
        MAINTENANCE_MODE_HEALTH_PATHS=[],
    ):
        config = Runtime().state().config
    assert config.enabled is True
    assert str(config.except_ips[0]) == "10.0.0.0/8"
    assert config.except_urls[0].pattern == "^/admin/"
    assert config.ends_at == dt.datetime(2030, 1, 1, tzinfo=UTC)
    assert config.retry_after == 0
    assert config.reload_interval == 0.0
    assert config.health_paths == ()  # an empty list in settings disables health paths


def test_health_paths_disabled_from_the_environment_with_a_lone_comma(
    env: Callable[..., None],
) -> None:
    env(MAINTENANCE_MODE_HEALTH_PATHS=",")
    assert Runtime().state().config.health_paths == ()


def test_every_bad_value_is_reported_at_once(env: Callable[..., None]) -> None:
    env(
        MAINTENANCE_MODE="treu",
        MAINTENANCE_MODE_STATUS_CODE="5xx",
        MAINTENANCE_MODE_EXCEPT_IPS="10.0.0.*",
    )
    problems = Runtime().problems
    assert [p.name for p in problems] == [
        "MAINTENANCE_MODE",
        "MAINTENANCE_MODE_STATUS_CODE",
        "MAINTENANCE_MODE_EXCEPT_IPS",
    ]
    assert all(p.origin is Origin.ENVIRONMENT for p in problems)


def test_load_runtime_refuses_to_start_naming_variable_and_value(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE_RETRY_AFTER="an hour")
    with pytest.raises(
        ImproperlyConfigured, match=r"MAINTENANCE_MODE_RETRY_AFTER='an hour'.*environment"
    ):
        runtime.load_runtime()


def test_schedule_order_is_checked(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE_STARTS_AT="2030-01-02", MAINTENANCE_MODE_ENDS_AT="2030-01-01")
    (problem,) = Runtime().problems
    assert problem.check_id == variables.SCHEDULE_ORDER_ID
    assert "STARTS_AT" in problem.message
    assert "ENDS_AT" in problem.message


def test_missing_template_is_a_problem(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE_TEMPLATE="nope/missing.html")
    (problem,) = Runtime().problems
    assert problem.check_id == variables.TEMPLATE_MISSING_ID
    assert "nope/missing.html" in problem.message


def test_setting_changed_resets_and_environment_is_read_by_a_new_client(
    env: Callable[..., None],
) -> None:
    assert Client().get("/").status_code == 200
    with override_settings(MAINTENANCE_MODE=True):
        assert Client().get("/").status_code == 503
    assert Client().get("/").status_code == 200
    env(MAINTENANCE_MODE="on")
    assert Client().get("/").status_code == 503


# --- the live mounted config ------------------------------------------------------------


class FakeClock:
    """Stands in for time.monotonic in conf, so reload intervals pass on demand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr("maintenance_env.live.time.monotonic", fake)
    return fake


def test_live_change_is_seen_after_the_interval_not_before(
    env: Callable[..., None], volume: ConfigMapVolume, clock: FakeClock
) -> None:
    volume.update({"MAINTENANCE_MODE": "off"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="2")
    runtime = Runtime()
    assert runtime.state().enabled is False
    volume.update({"MAINTENANCE_MODE": "on"})
    clock.now += 1.9
    assert runtime.state().enabled is False  # within the interval: not even a stat
    clock.now += 0.2
    assert runtime.state().enabled is True


def test_interval_zero_checks_every_time(env: Callable[..., None], volume: ConfigMapVolume) -> None:
    volume.update({"MAINTENANCE_MODE": "off"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    runtime = Runtime()
    for value in ("on", "off", "yes", "no"):
        volume.update({"MAINTENANCE_MODE": value})
        assert runtime.state().enabled is (value in ("on", "yes"))


def test_unchanged_config_is_not_read_again(
    env: Callable[..., None], volume: ConfigMapVolume, monkeypatch: pytest.MonkeyPatch
) -> None:
    volume.update({"MAINTENANCE_MODE": "on"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    runtime = Runtime()
    state = runtime.state()
    reads: list[str] = []
    monkeypatch.setattr(mounted_source, "read_mounted", lambda path: reads.append(path))
    for _ in range(50):
        assert runtime.state() is state
    assert reads == []


def test_bad_live_value_keeps_the_last_good_one_and_logs_once(
    env: Callable[..., None], volume: ConfigMapVolume, caplog: pytest.LogCaptureFixture
) -> None:
    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_STATUS_CODE": "503"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    runtime = Runtime()
    assert runtime.state().enabled is True
    with caplog.at_level(logging.ERROR, "maintenance_env"):
        volume.update({"MAINTENANCE_MODE": "of", "MAINTENANCE_MODE_STATUS_CODE": "503"})
        for _ in range(20):
            assert runtime.state().enabled is True  # the last good value stays
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        assert "MAINTENANCE_MODE='of'" in errors[0].getMessage()
        assert "keeping MAINTENANCE_MODE=True" in errors[0].getMessage()
        # Another key changes while the bad value stays: not logged again.
        volume.update({"MAINTENANCE_MODE": "of", "MAINTENANCE_MODE_STATUS_CODE": "502"})
        assert runtime.state().config.status_code == 502
        assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1
    volume.update({"MAINTENANCE_MODE": "off"})
    assert runtime.state().enabled is False


def test_bad_value_at_first_read_falls_back_to_the_environment(
    env: Callable[..., None], volume: ConfigMapVolume, caplog: pytest.LogCaptureFixture
) -> None:
    volume.update({"MAINTENANCE_MODE": "maybe"})
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_CONFIG_PATH=str(volume.root))
    with caplog.at_level(logging.ERROR, "maintenance_env"):
        current = runtime.load_runtime()  # never fatal: the mounted config is live
    assert current.state().enabled is True
    assert current.state().resolution.origins["MAINTENANCE_MODE"] is Origin.ENVIRONMENT
    assert "MAINTENANCE_MODE='maybe'" in caplog.text


def test_live_schedule_in_wrong_order_keeps_the_last_good_window(
    env: Callable[..., None], volume: ConfigMapVolume, caplog: pytest.LogCaptureFixture
) -> None:
    volume.update(
        {"MAINTENANCE_MODE_STARTS_AT": "2030-01-01", "MAINTENANCE_MODE_ENDS_AT": "2030-01-02"}
    )
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    runtime = Runtime()
    volume.update(
        {"MAINTENANCE_MODE_STARTS_AT": "2030-01-03", "MAINTENANCE_MODE_ENDS_AT": "2030-01-02"}
    )
    with caplog.at_level(logging.ERROR, "maintenance_env"):
        config = runtime.state().config
    assert (config.starts_at, config.ends_at) == (
        dt.datetime(2030, 1, 1, tzinfo=UTC),
        dt.datetime(2030, 1, 2, tzinfo=UTC),
    )
    assert "not before" in caplog.text


def test_live_missing_template_keeps_the_last_good_one(
    env: Callable[..., None], volume: ConfigMapVolume, caplog: pytest.LogCaptureFixture
) -> None:
    volume.update({"MAINTENANCE_MODE_TEMPLATE": "custom_maintenance.html"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    runtime = Runtime()
    assert runtime.state().config.template == "custom_maintenance.html"
    volume.update({"MAINTENANCE_MODE_TEMPLATE": "typo.html"})
    with caplog.at_level(logging.ERROR, "maintenance_env"):
        assert runtime.state().config.template == "custom_maintenance.html"
    assert "typo.html" in caplog.text


def test_missing_config_counts_as_absent_and_is_logged_once(
    env: Callable[..., None], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    volume = ConfigMapVolume(tmp_path / "cm", {"MAINTENANCE_MODE": "off"})
    env(
        MAINTENANCE_MODE="on",
        MAINTENANCE_MODE_CONFIG_PATH=str(volume.root),
        MAINTENANCE_MODE_RELOAD_INTERVAL="0",
    )
    runtime = Runtime()
    assert runtime.state().enabled is False
    import shutil

    shutil.rmtree(volume.root)
    with caplog.at_level(logging.WARNING, "maintenance_env"):
        for _ in range(10):
            assert runtime.state().enabled is True  # the environment's value, now
        assert len([r for r in caplog.records if "does not exist" in r.getMessage()]) == 1
        assert runtime.state().resolution.source_error == "does not exist"
        ConfigMapVolume(volume.root, {"MAINTENANCE_MODE": "off"})
        assert runtime.state().enabled is False
        assert "readable again" in caplog.text


def test_unknown_key_in_mounted_config_is_warned_about(
    env: Callable[..., None], volume: ConfigMapVolume, caplog: pytest.LogCaptureFixture
) -> None:
    volume.update({"MAINTENANCE_MODE_MESAGE": "typo"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root))
    with caplog.at_level(logging.WARNING, "maintenance_env"):
        Runtime()
    assert "MAINTENANCE_MODE_MESAGE" in caplog.text
    assert "not a known variable" in caplog.text


def test_polling_is_safe_under_threads(env: Callable[..., None], volume: ConfigMapVolume) -> None:
    volume.update({"MAINTENANCE_MODE": "off"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    runtime = Runtime()
    errors: list[BaseException] = []
    seen: set[bool] = set()
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                seen.add(runtime.state().enabled)
                time.sleep(0)  # let the writer run: this is about safety, not speed
        except BaseException as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for i in range(100):
        volume.update({"MAINTENANCE_MODE": "on" if i % 2 else "off"})
    volume.update({"MAINTENANCE_MODE": "on"})
    stop.set()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert runtime.state().enabled is True
    assert seen == {True, False}


def test_state_window_and_retry_after() -> None:
    start = dt.datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    with override_settings(
        MAINTENANCE_MODE=True,
        MAINTENANCE_MODE_STARTS_AT="2030-01-01",
        MAINTENANCE_MODE_ENDS_AT="2030-01-01T01:00:00Z",
    ):
        state = Runtime().state()
    assert not state.is_active(start - 1)
    assert state.is_active(start)
    assert state.is_active(start + 3599)
    assert not state.is_active(start + 3600)  # ENDS_AT is exclusive
    assert state.retry_after(start) == 3600
    assert state.retry_after(start + 3599.5) == 1
    with override_settings(MAINTENANCE_MODE=True, MAINTENANCE_MODE_RETRY_AFTER=0):
        assert Runtime().state().retry_after() is None
    with override_settings(
        MAINTENANCE_MODE=True,
        MAINTENANCE_MODE_RETRY_AFTER=120,
        MAINTENANCE_MODE_ENDS_AT="2030-01-01",
    ):
        assert Runtime().state().retry_after(start - 10_000) == 120


def test_the_first_read_is_not_logged_as_a_change(
    env: Callable[..., None], volume: ConfigMapVolume, caplog: pytest.LogCaptureFixture
) -> None:
    volume.update({"MAINTENANCE_MODE": "on"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    with caplog.at_level(logging.INFO, "maintenance_env"):
        runtime = Runtime()
        assert runtime.state().enabled is True
        assert "configuration changed" not in caplog.text
        volume.update({"MAINTENANCE_MODE": "off"})
        assert runtime.state().enabled is False
    assert "configuration changed" in caplog.text
    assert "maintenance off" in caplog.text
