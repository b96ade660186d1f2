"""A value read from the shared store is in force on the next request, not an interval later.

The store's refresher thread reads once per ``MAINTENANCE_MODE_RELOAD_INTERVAL``; if the
request path then also waited for its own interval before picking up what was read, the
two periods would add up and a flip could take twice the interval to be seen (measured
through real servers: up to 2 x 0.25 s). These tests read the store by hand
(``read_now``, what the refresher does) and need no clock.
"""

from __future__ import annotations

from collections.abc import Callable

from maintenance_env.live import Runtime
from maintenance_env.sources.store import SharedStore

Env = Callable[..., None]


def test_a_read_of_the_store_is_picked_up_by_the_next_request(env: Env) -> None:
    # An hour between polls: only the refresher's publication can make the change seen.
    env(MAINTENANCE_MODE_CACHE="default", MAINTENANCE_MODE_RELOAD_INTERVAL="3600")
    writer = SharedStore("default", ["MAINTENANCE_MODE"], 3600, background=False)
    writer.write({"MAINTENANCE_MODE": "off"})
    runtime = Runtime(background=False)
    try:
        runtime.refresh()
        assert runtime.state().config.enabled is False

        writer.write({"MAINTENANCE_MODE": "on"})
        assert runtime.store is not None
        assert runtime.store.read_now() is None  # what the refresher does once per interval

        assert runtime.state().config.enabled is True
    finally:
        writer.write({"MAINTENANCE_MODE": None})
        runtime.close()


def test_nothing_new_in_the_store_leaves_the_policy_alone(env: Env) -> None:
    env(MAINTENANCE_MODE_CACHE="default", MAINTENANCE_MODE_RELOAD_INTERVAL="3600")
    writer = SharedStore("default", ["MAINTENANCE_MODE"], 3600, background=False)
    writer.write({"MAINTENANCE_MODE": "on"})
    runtime = Runtime(background=False)
    try:
        policy = runtime.refresh()
        assert runtime.store is not None
        runtime.store.read_now()  # the same values again: nothing is published

        assert runtime.state() is policy
    finally:
        writer.write({"MAINTENANCE_MODE": None})
        runtime.close()
