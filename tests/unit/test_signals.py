"""``maintenance_changed``: once per process and change, from live sources, the schedule and
overrides; receivers that raise never break anything."""

from __future__ import annotations

import asyncio
import logging
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

import maintenance_env
from maintenance_env import live, policy, runtime, status_report
from maintenance_env.api import Status
from maintenance_env.signals import Change, maintenance_changed
from maintenance_env.testing import override
from tests.kubelet import ConfigMapVolume


class Received:
    """A receiver that records what it got: changes in ``calls``, the one signal of each
    process's start (``previous=None``) in ``starts``."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.starts: list[dict[str, Any]] = []

    def __call__(self, sender: object, **kwargs: Any) -> None:
        call = {"sender": sender, **kwargs}
        (self.starts if kwargs["change"].cause == "start" else self.calls).append(call)

    @property
    def states(self) -> list[tuple[bool, bool]]:
        return [(c["active"], c["previous"]) for c in self.calls]


@pytest.fixture
def received() -> Iterator[Received]:
    receiver = Received()
    maintenance_changed.connect(receiver, weak=False)
    yield receiver
    maintenance_changed.disconnect(receiver)


class Clock:
    """``time.time()`` and ``time.monotonic()`` as the runtime and the policy see them."""

    def __init__(self, wall: float) -> None:
        self.wall = wall
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    import time

    fake = Clock(time.time())
    namespace = types.SimpleNamespace(time=lambda: fake.wall, monotonic=lambda: fake.mono)
    for module in (live, policy, status_report):
        monkeypatch.setattr(module, "time", namespace)
    return fake


# --- live sources -------------------------------------------------------------------


def test_sent_once_when_the_mounted_config_flips_it(
    env: Callable[..., None], volume: ConfigMapVolume, received: Received
) -> None:
    volume.update({"MAINTENANCE_MODE": "off"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    client = Client()
    assert client.get("/").status_code == 200
    assert received.calls == []  # starting up is not a change...
    assert [(c["active"], c["previous"]) for c in received.starts] == [(False, None)]  # ...but said

    volume.update({"MAINTENANCE_MODE": "on"})
    for _ in range(3):
        assert client.get("/").status_code == 503
    assert maintenance_env.is_active() is True
    (call,) = received.calls
    assert call["sender"] is live.Runtime
    assert (call["active"], call["previous"]) == (True, False)
    assert isinstance(call["status"], Status)
    assert call["status"].active is True
    change = call["change"]
    assert isinstance(change, Change)
    assert (change.active, change.previous, change.cause) == (True, False, "config file")

    volume.update({"MAINTENANCE_MODE": "off"})
    assert client.get("/").status_code == 200
    assert received.states == [(True, False), (False, True)]


def test_a_change_that_keeps_the_state_sends_nothing(
    env: Callable[..., None], volume: ConfigMapVolume, received: Received
) -> None:
    volume.update({"MAINTENANCE_MODE": "on"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    assert maintenance_env.is_active() is True
    volume.update({"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_MESSAGE": "new words"})
    assert maintenance_env.status().variables["MAINTENANCE_MODE_MESSAGE"].value == "new words"
    assert received.calls == []


def test_logged_once_per_change(
    env: Callable[..., None],
    volume: ConfigMapVolume,
    received: Received,
    caplog: pytest.LogCaptureFixture,
) -> None:
    volume.update({"MAINTENANCE_MODE": "off"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    maintenance_env.is_active()
    with caplog.at_level(logging.INFO, "maintenance_env"):
        volume.update({"MAINTENANCE_MODE": "on"})
        for _ in range(3):
            maintenance_env.is_active()
    lines = [r for r in caplog.records if r.name == "maintenance_env"]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert "configuration changed" in lines[0].getMessage()


def test_private_runtimes_send_nothing(
    env: Callable[..., None], volume: ConfigMapVolume, received: Received
) -> None:
    """A management command's or a check's runtime is not the process's view."""
    volume.update({"MAINTENANCE_MODE": "off"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    private = live.Runtime()
    volume.update({"MAINTENANCE_MODE": "on"})
    assert private.state().is_active() is True
    assert private.last_change is not None
    assert received.calls == []


# --- the schedule -------------------------------------------------------------------


def test_the_window_opening_and_closing_is_noticed_within_one_interval(
    env: Callable[..., None], clock: Clock, received: Received, caplog: pytest.LogCaptureFixture
) -> None:
    import datetime as dt

    def iso(offset: float) -> str:
        return dt.datetime.fromtimestamp(clock.wall + offset, dt.timezone.utc).isoformat()

    env(
        MAINTENANCE_MODE="on",
        MAINTENANCE_MODE_STARTS_AT=iso(100),
        MAINTENANCE_MODE_ENDS_AT=iso(200),
        MAINTENANCE_MODE_RELOAD_INTERVAL="10",
    )
    current = runtime.load_runtime()
    assert current.state().is_active() is False  # this first look sets the next tick
    clock.advance(105)  # past STARTS_AT, and a tick is due
    with caplog.at_level(logging.INFO, "maintenance_env"):
        assert current.state().is_active() is True
    assert received.states == [(True, False)]
    assert received.calls[0]["change"].cause == "schedule"
    assert "the maintenance window opened" in caplog.text

    clock.advance(90)  # at 195 s: a tick, still inside the window
    assert current.state().is_active() is True
    clock.advance(6)  # at 201 s: past ENDS_AT, the next tick is due at 205 s
    assert current.state().is_active() is False  # requests see it at once...
    assert received.states == [(True, False)]  # ...the signal waits for the tick
    clock.advance(4)
    current.state()
    assert received.states == [(True, False), (False, True)]
    assert received.calls[1]["change"].cause == "schedule"
    for _ in range(5):
        clock.advance(10)
        current.state()
    assert len(received.calls) == 2


def test_without_a_window_or_a_live_source_requests_do_not_tick(
    env: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    env(MAINTENANCE_MODE="on")
    current = runtime.load_runtime()

    def monotonic() -> float:
        raise AssertionError("the off path (and this one) must not read the clock")

    current.state()  # the first use announces the start, once, through the slow branch
    monkeypatch.setattr(live, "time", types.SimpleNamespace(monotonic=monotonic))
    for _ in range(3):
        assert current.state().enabled is True


# --- overrides ----------------------------------------------------------------------


def test_overrides_send_it_too(env: Callable[..., None], received: Received) -> None:
    maintenance_env.is_active()  # the process has its runtime
    with override(active=True):
        assert received.states == [(True, False)]
        assert received.calls[0]["change"].cause == "override"
        with override(message="same state"):
            pass
        assert len(received.calls) == 1
    assert received.states == [(True, False), (False, True)]


# --- receivers that fail ------------------------------------------------------------


def test_a_failing_receiver_is_logged_and_breaks_nothing(
    env: Callable[..., None],
    volume: ConfigMapVolume,
    received: Received,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(sender: object, **kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    volume.update({"MAINTENANCE_MODE": "off"})
    env(MAINTENANCE_MODE_CONFIG_PATH=str(volume.root), MAINTENANCE_MODE_RELOAD_INTERVAL="0")
    client = Client()
    assert client.get("/").status_code == 200  # the start: before the broken receiver
    maintenance_changed.connect(broken, weak=False)
    try:
        volume.update({"MAINTENANCE_MODE": "on"})
        with caplog.at_level(logging.ERROR):
            assert client.get("/").status_code == 503
    finally:
        maintenance_changed.disconnect(broken)
    assert received.states == [(True, False)]  # the other receiver still ran
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "receiver bug" in errors[0].getMessage()
    assert errors[0].exc_info is not None


def test_async_receivers_outside_an_event_loop(env: Callable[..., None]) -> None:
    got: list[bool] = []

    async def receiver(sender: object, *, active: bool, change: Change, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        if change.cause != "start":
            got.append(active)

    maintenance_changed.connect(receiver, weak=False)
    try:
        maintenance_env.is_active()
        with override(active=True):
            pass
    finally:
        maintenance_changed.disconnect(receiver)
    assert got == [True, False]


async def test_under_an_event_loop_receivers_run_in_a_task(env: Callable[..., None]) -> None:
    got: list[tuple[str, bool]] = []

    async def async_receiver(sender: object, *, active: bool, change: Change, **kw: Any) -> None:
        if change.cause != "start":
            got.append(("async", active))

    def sync_receiver(sender: object, *, active: bool, change: Change, **kwargs: Any) -> None:
        if change.cause != "start":
            got.append(("sync", active))

    maintenance_changed.connect(async_receiver, weak=False)
    maintenance_changed.connect(sync_receiver, weak=False)
    try:
        maintenance_env.is_active()
        with override(active=True):
            for _ in range(500):  # bounded: the task runs within a few loop steps
                if len(got) == 2:
                    break
                await asyncio.sleep(0.01)
    finally:
        maintenance_changed.disconnect(async_receiver)
        maintenance_changed.disconnect(sync_receiver)
    assert sorted(got[:2]) == [("async", True), ("sync", True)]


def test_sent_once_at_the_start_with_previous_none(
    env: Callable[..., None], received: Received
) -> None:
    env(MAINTENANCE_MODE="on", MAINTENANCE_MODE_READ_ONLY="on")
    client = Client()
    for _ in range(3):
        client.get("/")
    assert maintenance_env.is_active()
    assert len(received.starts) == 1
    start = received.starts[0]
    assert (start["active"], start["previous"], start["change"].cause) == (True, None, "start")
    assert start["status"].read_only  # a worker started during read-only maintenance knows it
    assert received.calls == []


def test_a_forked_child_announces_its_own_start(
    env: Callable[..., None], received: Received
) -> None:
    env(MAINTENANCE_MODE="off")
    maintenance_env.is_active()
    assert len(received.starts) == 1
    runtime.get_runtime().after_fork()  # what the at-fork hook does in the child
    maintenance_env.is_active()
    maintenance_env.is_active()
    assert len(received.starts) == 2
