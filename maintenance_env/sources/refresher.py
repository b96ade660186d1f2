"""The package's only long-lived thread: a :class:`Refresher` calls a read function about
once per pause, in a daemon thread of this process, and backs off while it fails.

The model is a monitor thread that is started per process id: :meth:`Refresher.ensure_running`
costs one comparison once the thread runs in this process, and a child of a fork starts
its own (after :meth:`Refresher.after_fork`, which only replaces locks: no I/O, no thread).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

__all__ = ["Refresher"]

logger = logging.getLogger("maintenance_env")


class Refresher:
    """Calls ``read()`` in a daemon thread named ``name`` until :meth:`stop`.

    ``read()`` returns ``True`` when it worked and ``False`` when it failed (it publishes
    what it read itself, replacing a whole snapshot at once, so readers never see a mix);
    an exception it raises is logged and counts as a failure. Between two reads the thread
    waits ``pause(failures)`` seconds, ``failures`` being the number of failed reads in a
    row (0 after one that worked), or until :meth:`stop`.
    """

    def __init__(self, read: Callable[[], bool], pause: Callable[[int], float], name: str) -> None:
        self._read, self._pause, self._name = read, pause, name
        self._stopped = False
        self.after_fork()

    def after_fork(self) -> None:
        """A fresh child's state: new locks, no thread (the parent's is not copied)."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid: int | None = None

    @property
    def running(self) -> bool:
        """Whether this process's thread has been started (and not stopped)."""
        return self._pid == os.getpid() and not self._stopped

    def ensure_running(self) -> None:
        """Start this process's thread unless it runs already (the hot path: one
        comparison). Does nothing after :meth:`stop` or while the interpreter shuts down."""
        if self._pid == os.getpid():
            return
        with self._lock:
            pid = os.getpid()
            if self._pid == pid or self._stopped:
                return
            thread = threading.Thread(target=self._run, args=(pid,), name=self._name, daemon=True)
            try:
                thread.start()
            except RuntimeError:  # the interpreter is shutting down
                return
            # Last, once the thread runs: a concurrent caller that sees this pid knows it.
            self._pid = pid

    def stop(self) -> None:
        """Stop the thread after its current read (it never starts again)."""
        self._stopped = True
        self._wake.set()

    def _run(self, pid: int) -> None:
        failures = 0
        while not self._stopped and os.getpid() == pid:
            try:
                ok = self._read()
            except Exception:
                logger.exception("maintenance_env: the %s failed", self._name)
                ok = False
            failures = 0 if ok else failures + 1
            self._wake.wait(self._pause(failures))
