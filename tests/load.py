"""Client threads for the load tests of real servers: started together, stopped together.

Each load test keeps its own request and check (what it sends and what it accepts); this
module owns the threads: :func:`start` starts one daemon thread per argument, :func:`stop`
sets the stop event, joins every thread within a bound and fails if one is still running.
A client's own loop is bounded too (a request count, and a deadline where it sleeps).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

__all__ = ["JOIN_TIMEOUT", "start", "stop"]

#: Seconds each client thread may take to notice the stop event (a bound, not an assertion).
JOIN_TIMEOUT = 60.0

Argument = TypeVar("Argument")


def start(
    client: Callable[[Argument], None], arguments: Iterable[Argument]
) -> list[threading.Thread]:
    """One started daemon thread running ``client(argument)`` per argument."""
    threads = [threading.Thread(target=client, args=(a,), daemon=True) for a in arguments]
    for thread in threads:
        thread.start()
    return threads


def stop(event: threading.Event, threads: list[threading.Thread]) -> None:
    """Set ``event``, join every thread within :data:`JOIN_TIMEOUT` seconds each.

    Raises ``AssertionError`` naming how many are still running.
    """
    event.set()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    alive = [thread for thread in threads if thread.is_alive()]
    assert not alive, f"{len(alive)} client thread(s) did not finish"
