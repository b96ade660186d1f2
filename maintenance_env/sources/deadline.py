"""A deadline the package enforces itself on a call to the shared store, whatever the
backend and its client do with their own timeouts (some have none, some never return).

:class:`Deadline` runs the call in a short-lived daemon thread and waits for it at most so
many seconds. A call that has not returned is abandoned, never waited for again; while it
hangs past its deadline, the next call fails at once instead of starting another thread,
so a hung store costs at most one blocked thread per store. The thread closes the database
connections it opened (a ``DatabaseCache``), so nothing is left behind for another thread
or a fork.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Deadline", "DeadlineExceeded"]

T = TypeVar("T")


class DeadlineExceeded(Exception):
    """A call to the store did not return in time (the message says which and how long)."""


class _Outcome(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.hung_after = 0.0  # time.monotonic() past which it counts as hung
        self.value: T | None = None
        self.error: BaseException | None = None


def _close_thread_connections() -> None:
    """Close the database connections of this thread, if Django's database layer is in
    use at all (a ``DatabaseCache`` store): connections are per thread, and this thread ends."""
    db = sys.modules.get("django.db")
    if db is not None:
        for connection in db.connections.all(initialized_only=True):
            connection.close()


class Deadline:
    """Calls with a deadline, one at a time per instance (per store)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self.after_fork()

    def after_fork(self) -> None:
        """A child has no thread of its parent's: forget the call in flight, if any."""
        self._lock = threading.Lock()
        self._pending: _Outcome[object] | None = None

    def call(self, function: Callable[[], T], seconds: float, what: str) -> T:
        """``function()``'s result, or what it raised, if it returns within ``seconds``.

        Raises :class:`DeadlineExceeded` ("Timeout: ``what`` did not answer within N s")
        when it does not, or at once while a previous call is still hung past its own deadline.
        """
        outcome: _Outcome[T] = _Outcome()
        outcome.hung_after = time.monotonic() + seconds
        with self._lock:
            pending = self._pending
            if (
                pending is not None
                and not pending.done.is_set()
                and time.monotonic() > pending.hung_after
            ):
                # The same words as the hung call's: one log line per kind of trouble.
                raise DeadlineExceeded(f"Timeout: {what} did not answer within {seconds:g} s")
            self._pending = outcome  # type: ignore[assignment]

        def run() -> None:
            try:
                outcome.value = function()
            except BaseException as exc:  # handed to the caller
                outcome.error = exc
            finally:
                try:
                    _close_thread_connections()
                finally:
                    outcome.done.set()

        thread = threading.Thread(target=run, name=self._name, daemon=True)
        thread.asker = threading.get_ident()  # type: ignore[attr-defined]  # who waits for it
        thread.start()
        if not outcome.done.wait(seconds):
            raise DeadlineExceeded(f"Timeout: {what} did not answer within {seconds:g} s")
        if outcome.error is not None:
            raise outcome.error
        return outcome.value  # type: ignore[return-value]
