"""Twelve-factor maintenance mode for Django, driven by the environment or a mounted config.

The Python API, for any code (views, tasks, management commands, tests):

- :func:`is_active` and :func:`status`: this process's view, live sources included;
- :func:`enable` and :func:`disable`: write the live source (:class:`WriteError` if not);
- :class:`override`: for tests, values that outrank every source while in force;
- :func:`skip_during_maintenance`: a job that does not run while maintenance is active;
- :mod:`maintenance_env.signals`: ``maintenance_changed``, sent when the state changes.

Each name is imported on first use, so importing the package (as Django does for
``INSTALLED_APPS``) loads nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from maintenance_env import signals
    from maintenance_env.api import Status, is_active, status
    from maintenance_env.jobs import MaintenanceActive, skip_during_maintenance
    from maintenance_env.testing import override
    from maintenance_env.write_checks import WriteError
    from maintenance_env.writes import disable, enable

__version__ = "0.1.0"

__all__ = [
    "MaintenanceActive",
    "Status",
    "WriteError",
    "disable",
    "enable",
    "is_active",
    "override",
    "signals",
    "skip_during_maintenance",
    "status",
]

_LAZY = {
    "is_active": "maintenance_env.api",
    "status": "maintenance_env.api",
    "Status": "maintenance_env.api",
    "enable": "maintenance_env.writes",
    "disable": "maintenance_env.writes",
    "WriteError": "maintenance_env.write_checks",
    "override": "maintenance_env.testing",
    "skip_during_maintenance": "maintenance_env.jobs",
    "MaintenanceActive": "maintenance_env.jobs",
}


def __getattr__(name: str) -> Any:
    if name == "signals":
        return importlib.import_module("maintenance_env.signals")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
