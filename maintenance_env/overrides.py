"""The test override layer: values that outrank every source while a
:class:`maintenance_env.testing.override` is in force.

Process-global, so it survives ``override_settings`` resetting the runtime; every runtime
reads it when it resolves, and :mod:`maintenance_env.runtime` applies a change to the
process's runtime at once.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

__all__ = ["OVERRIDES", "override_layer"]


class OverrideStack:
    """The test override layer: (token, values by variable name), oldest first; later
    entries win, variable by variable. Process-global, so it survives ``override_settings``
    resetting the runtime; :mod:`maintenance_env.runtime` applies a change at once."""

    def __init__(self) -> None:
        self._entries: list[tuple[object, Mapping[str, object]]] = []
        self.after_fork()

    def after_fork(self) -> None:
        """A fresh lock (another thread may have held this one at a fork)."""
        self._lock = threading.Lock()

    def layer(self) -> dict[str, object]:
        """The values every override in force sets, by variable name (the newest wins)."""
        if not self._entries:
            return {}
        with self._lock:
            entries = list(self._entries)
        merged: dict[str, object] = {}
        for _token, values in entries:
            merged.update(values)
        return merged

    def push(self, values: Mapping[str, object]) -> object:
        """Add ``values`` on top; returns the token :meth:`pop` takes."""
        token = object()
        with self._lock:
            self._entries.append((token, dict(values)))
        return token

    def pop(self, token: object) -> None:
        """Take the override of ``token`` away (in any order; unknown tokens are ignored)."""
        with self._lock:
            self._entries[:] = [entry for entry in self._entries if entry[0] is not token]


#: The process's override layer (:class:`maintenance_env.testing.override` fills it).
OVERRIDES = OverrideStack()


def override_layer() -> dict[str, object]:
    """The values every override in force sets, by variable name (the newest wins)."""
    return OVERRIDES.layer()
