"""``maintenance_env.override``: outranks every source, restores exactly, in every form."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import unittest
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client, SimpleTestCase, override_settings

import maintenance_env
from maintenance_env import overrides, runtime
from maintenance_env.parsers import InvalidValue
from maintenance_env.testing import override
from maintenance_env.variables import Origin
from tests.kubelet import ConfigMapVolume

UTC = dt.timezone.utc


def snapshot() -> dict[str, Any]:
    """What an override must give back exactly: the state and every value with its origin."""
    data = maintenance_env.status().as_dict()
    del data["last_change"]  # an override's entry and exit are changes: that is the point
    return data


@pytest.fixture(autouse=True)
def no_override_left() -> Any:
    yield
    assert overrides.override_layer() == {}, "an override leaked out of a test"


# --- the problem it solves --------------------------------------------------------------


def test_a_shell_export_beats_override_settings_but_not_override(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="on")  # a developer's `export MAINTENANCE_MODE=on`
    with override_settings(MAINTENANCE_MODE=False):
        assert maintenance_env.is_active() is True  # the environment outranks settings
        assert Client().get("/").status_code == 503
    with override(active=False):
        assert maintenance_env.is_active() is False
        assert Client().get("/").status_code == 200
    assert Client().get("/").status_code == 503


def test_outranks_the_mounted_config_and_the_store(
    env: Callable[..., None], volume: ConfigMapVolume
) -> None:
    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_MESSAGE": "from the file"})
    caches["default"].set("maintenance_env:MAINTENANCE_MODE_STATUS_CODE", "502", timeout=None)
    try:
        env(
            MAINTENANCE_MODE_CONFIG_PATH=str(volume.root),
            MAINTENANCE_MODE_CACHE="default",
            MAINTENANCE_MODE_RELOAD_INTERVAL="3600",
        )
        status = maintenance_env.status()
        assert status.active is True
        assert status.variables["MAINTENANCE_MODE_STATUS_CODE"].value == 502
        with override(active=False, message="from the test", status_code=503):
            status = maintenance_env.status()
            assert status.active is False
            for name in ("MAINTENANCE_MODE", "MAINTENANCE_MODE_MESSAGE"):
                assert status.variables[name].origin is Origin.OVERRIDE
            assert status.variables["MAINTENANCE_MODE_STATUS_CODE"].value == 503
            assert Client().get("/").status_code == 200
        assert maintenance_env.status().variables["MAINTENANCE_MODE_STATUS_CODE"].value == 502
    finally:
        caches["default"].delete("maintenance_env:MAINTENANCE_MODE_STATUS_CODE")


def test_takes_effect_at_once_without_waiting_for_the_interval(
    env: Callable[..., None], volume: ConfigMapVolume
) -> None:
    volume.update({"MAINTENANCE_MODE": "off"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="3600")
    current = runtime.load_runtime()
    with override(active=True):
        assert current.state().is_active() is True
    assert current.state().is_active() is False


# --- active= and the window -------------------------------------------------------------


def test_active_true_means_now_whatever_window_the_sources_announce(
    env: Callable[..., None],
) -> None:
    env(
        MAINTENANCE_MODE="off",
        MAINTENANCE_MODE_STARTS_AT="2999-01-01T00:00:00Z",
        MAINTENANCE_MODE_ENDS_AT="2999-01-02T00:00:00Z",
    )
    with override(active=True):
        assert maintenance_env.is_active() is True
        status = maintenance_env.status()
        assert status.window is None
        assert status.variables["MAINTENANCE_MODE_STARTS_AT"].origin is Origin.OVERRIDE
    assert maintenance_env.is_active() is False


def test_a_window_can_be_given_with_active(env: Callable[..., None]) -> None:
    with override(active=True, starts_at="2999-01-01T00:00:00Z"):
        status = maintenance_env.status()
        assert status.active is False
        assert status.window is not None
        assert status.window.when == "upcoming"
    with override(active=True, ends_at=dt.datetime(2000, 1, 1, tzinfo=UTC)):
        assert maintenance_env.is_active() is False


def test_none_unsets_a_variable_whatever_the_sources_say(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_ENDS_AT="2000-01-01T00:00:00Z")
    assert maintenance_env.is_active() is False
    with override(ends_at=None):
        assert maintenance_env.is_active() is True
        value = maintenance_env.status().variables["MAINTENANCE_MODE_ENDS_AT"]
        assert (value.value, value.origin) == (None, Origin.OVERRIDE)


def test_values_by_short_and_full_name(env: Callable[..., None]) -> None:
    with override(active=True, message="Back at noon", MAINTENANCE_MODE_RETRY_AFTER="60"):
        response = Client().get("/")
        assert b"Back at noon" in response.content
        assert response["Retry-After"] == "60"
    with override(active=True, read_only=True):
        assert Client().get("/").status_code == 200
        assert Client().post("/").status_code == 503
    with override(enabled=True):
        assert maintenance_env.is_active() is True


# --- bad input ----------------------------------------------------------------------


def test_a_bad_value_raises_naming_the_variable() -> None:
    with pytest.raises(InvalidValue, match=r"MAINTENANCE_MODE_RETRY_AFTER='soon' is not valid"):
        override(retry_after="soon")
    with pytest.raises(ValueError, match="MAINTENANCE_MODE_EXCEPT_IPS"):
        override(except_ips=["10.0.0.0/33"])
    with pytest.raises(ValueError, match="MAINTENANCE_MODE_TEMPLATE"):
        override(template="no/such/template.html")
    with pytest.raises(ValueError, match="MAINTENANCE_MODE_STARTS_AT"):
        override(starts_at="2030-01-02", ends_at="2030-01-01")
    with pytest.raises(ValueError, match="MAINTENANCE_MODE_BYPASS_SECRET") as info:
        override(bypass_secret=12345)
    assert "12345" not in str(info.value)  # a secret, even a malformed one, is not shown


def test_unknown_names_and_start_up_variables_are_refused() -> None:
    with pytest.raises(TypeError, match="unknown variable 'mesage'"):
        override(mesage="typo")
    with pytest.raises(TypeError, match="MAINTENANCE_MODE_CACHE"):
        override(cache="default")
    with pytest.raises(TypeError, match="MAINTENANCE_MODE_CONFIG_PATH"):
        override(MAINTENANCE_MODE_CONFIG_PATH="/etc")
    with pytest.raises(TypeError, match="both active= and enabled="):
        override(active=True, enabled=False)
    with pytest.raises(TypeError, match="active='on'"):
        override(active="on")  # type: ignore[arg-type]


# --- restoring exactly --------------------------------------------------------------


def test_restores_exactly_also_on_an_exception(env: Callable[..., None]) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_MESSAGE="from the environment")
    before = snapshot()
    seen: list[dict[str, Any]] = []

    def fail() -> None:
        with override(active=False, message="x"):
            seen.append(snapshot())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail()
    assert seen[0] != before
    assert snapshot() == before


def test_nested_overrides_win_variable_by_variable(env: Callable[..., None]) -> None:
    before = snapshot()
    with override(active=True, message="outer", retry_after=10):
        with override(message="inner"):
            status = maintenance_env.status()
            assert status.active is True
            assert status.variables["MAINTENANCE_MODE_MESSAGE"].value == "inner"
            assert status.variables["MAINTENANCE_MODE_RETRY_AFTER"].value == 10
        assert maintenance_env.status().variables["MAINTENANCE_MODE_MESSAGE"].value == "outer"
    assert snapshot() == before


def test_exits_out_of_order_still_restore(env: Callable[..., None]) -> None:
    before = snapshot()
    outer, inner = override(active=True), override(message="inner")
    outer.enable()
    inner.enable()
    outer.disable()  # as overlapping tasks may do
    assert maintenance_env.is_active() is False
    assert maintenance_env.status().variables["MAINTENANCE_MODE_MESSAGE"].value == "inner"
    inner.disable()
    assert snapshot() == before


def test_the_same_override_entered_twice(env: Callable[..., None]) -> None:
    on = override(active=True)
    with on:
        with on:
            assert maintenance_env.is_active() is True
        assert maintenance_env.is_active() is True
    assert maintenance_env.is_active() is False


def test_survives_override_settings_resetting_the_runtime(env: Callable[..., None]) -> None:
    with override(active=True):
        with override_settings(MAINTENANCE_MODE=False, MAINTENANCE_MODE_MESSAGE="settings"):
            assert maintenance_env.is_active() is True
            assert Client().get("/").status_code == 503
        assert maintenance_env.is_active() is True
        runtime.reset()
        assert maintenance_env.is_active() is True
    assert maintenance_env.is_active() is False


def test_threads_entering_and_leaving_leave_nothing_behind(env: Callable[..., None]) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for _ in range(20):
                with override(message=f"thread {n}"):
                    maintenance_env.is_active()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert overrides.override_layer() == {}
    assert maintenance_env.status().variables["MAINTENANCE_MODE_MESSAGE"].origin is Origin.DEFAULT


# --- as a decorator -----------------------------------------------------------------


def test_decorates_a_function_and_keeps_its_name(env: Callable[..., None]) -> None:
    @override(active=True)
    def check(x: int) -> tuple[int, bool]:
        """Docs."""
        return x, maintenance_env.is_active()

    assert check(1) == (1, True)
    assert check.__name__ == "check"
    assert check.__doc__ == "Docs."
    assert maintenance_env.is_active() is False


async def test_decorates_an_async_function(env: Callable[..., None]) -> None:
    @override(active=True)
    async def check() -> bool:
        await asyncio.sleep(0)
        return maintenance_env.is_active()

    assert asyncio.iscoroutinefunction(check)
    assert await check() is True
    assert maintenance_env.is_active() is False


def test_decorates_a_test_case_class(env: Callable[..., None]) -> None:
    seen: list[tuple[str, bool]] = []

    @override(active=True, message="class-wide")
    class Tests(SimpleTestCase):
        def setUp(self) -> None:
            seen.append(("setUp", maintenance_env.is_active()))

        def test_one(self) -> None:
            seen.append(("one", maintenance_env.is_active()))
            assert Client().get("/").status_code == 503

        async def test_async(self) -> None:
            seen.append(("async", maintenance_env.is_active()))

    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(Tests).run(result)
    assert result.errors == []
    assert result.failures == []
    assert result.testsRun == 2
    assert all(active for _, active in seen), seen
    assert {name for name, _ in seen} == {"setUp", "one", "async"}
    assert maintenance_env.is_active() is False


@override(active=True)
class TestAPytestClass:
    def test_methods_are_decorated(self) -> None:
        assert maintenance_env.is_active() is True

    async def test_async_methods_too(self) -> None:
        assert maintenance_env.is_active() is True


@override(active=True, message="decorated")
def test_as_a_decorator_on_a_pytest_test(client: Client) -> None:
    assert b"decorated" in client.get("/").content


def test_cannot_decorate_something_else() -> None:
    with pytest.raises(TypeError):
        override(active=True)(42)


# --- the pytest fixture -------------------------------------------------------------


def test_the_pytest_fixture(maintenance_override: Callable[..., override]) -> None:
    assert maintenance_env.is_active() is False
    maintenance_override(active=True)
    assert maintenance_env.is_active() is True
    maintenance_override(message="later wins")
    assert maintenance_env.status().variables["MAINTENANCE_MODE_MESSAGE"].value == "later wins"


def test_the_pytest_fixture_cleaned_up_after_itself() -> None:
    assert overrides.override_layer() == {}
    assert maintenance_env.is_active() is False


def test_the_plugin_is_registered_by_entry_point(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("maintenance_env")
    assert plugin is not None
    assert plugin.__name__ == "maintenance_env.pytest_plugin"
