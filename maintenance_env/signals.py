"""``maintenance_changed``: sent once per process when maintenance starts or stops here.

Connect a receiver to notify people, pause queue consumers or count maintenance time::

    from django.dispatch import receiver
    from maintenance_env.signals import maintenance_changed

    @receiver(maintenance_changed)
    def on_maintenance(sender, *, active, previous, status, **kwargs):
        ...

It is also sent once when a process's runtime starts (its first use in that process: the
first request, or the first ``is_active()``), with ``previous=None`` and cause ``"start"``,
so that a receiver learns the state a process starts in (a worker started during read-only
maintenance).

The arguments: ``active`` (bool, the new state), ``previous`` (bool, the state before;
``None`` at the start),
``status`` (a :class:`maintenance_env.api.Status` as the change left it) and ``change``
(a :class:`Change`: when, and what caused it). ``sender`` is
:class:`maintenance_env.live.Runtime`. A receiver that raises is logged (ERROR on the
``maintenance_env`` logger, with its traceback) and never breaks the request, the task or
the other receivers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.dispatch import Signal

__all__ = ["CAUSES", "Change", "fleet_changed", "maintenance_changed"]

#: Sent with ``active``, ``previous``, ``status`` and ``change``; see the module's docs.
maintenance_changed = Signal()

#: Sent in exactly one process of the fleet per change (a write, or a window opening or
#: closing), with ``active`` (bool), ``previous`` (bool, or ``None`` when unknown),
#: ``change`` (a :class:`maintenance_env.history.Change`: when, by whom, why), and
#: ``read_only``, ``message`` and ``ends_at`` as the change left them. Without a shared
#: store it is sent by the process that writes. See :mod:`maintenance_env.claims`.
fleet_changed = Signal()

#: What can cause a change, as :attr:`Change.cause` gives it: a live source (its origin:
#: ``"cache"`` for the shared store, ``"config file"`` for the mounted config), the
#: schedule (``STARTS_AT`` or ``ENDS_AT`` passing), a test override, or the process's
#: ``start`` (``previous`` is then ``None``).
CAUSES = ("cache", "config file", "schedule", "override", "start")


@dataclass(frozen=True)
class Change:
    """One change of the effective state in this process.

    ``at`` is when this process noticed it (an aware UTC datetime): for a window opening
    or closing, at most one ``MAINTENANCE_MODE_RELOAD_INTERVAL`` after the instant itself.
    ``cause`` is one of :data:`CAUSES`.
    """

    at: dt.datetime
    active: bool
    previous: bool | None
    cause: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: ``at`` as ISO 8601 UTC text (``...Z``)."""
        return {
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "active": self.active,
            "previous": self.previous,
            "cause": self.cause,
        }
