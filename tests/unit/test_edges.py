"""Edge cases the other modules do not reach, found by the branch coverage report."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client, override_settings

from maintenance_env import parsers, runtime, sources
from maintenance_env.live import Runtime


def test_config_path_from_settings_may_be_a_path_object(tmp_path: Path) -> None:
    with override_settings(MAINTENANCE_MODE_CONFIG_PATH=tmp_path):
        config = Runtime().state().config
    assert config.config_path == str(tmp_path)


def test_an_int_with_more_digits_than_python_converts_is_invalid() -> None:
    with pytest.raises(parsers.InvalidValue, match="MAINTENANCE_MODE_RETRY_AFTER"):
        parsers.parse_int("MAINTENANCE_MODE_RETRY_AFTER", "9" * 5000, minimum=0)


def test_a_query_that_only_contains_the_bypass_parameter_name_is_no_bypass(
    env: Callable[..., None],
) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_BYPASS_SECRET="s" * 24)
    response = Client().get("/", {"not_maintenance_bypass": "s" * 24})
    assert response.status_code == 503
    assert "maintenance_bypass" not in response.cookies


def test_the_runtime_is_loaded_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "_runtime", None)
    current = runtime.get_runtime()
    assert runtime.get_runtime() is current


def test_a_failed_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("maintenance_env.sources.writing.os.replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        sources.write_value(str(tmp_path), "MAINTENANCE_MODE", "on")
    assert os.listdir(tmp_path) == []
