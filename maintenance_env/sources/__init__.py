"""Where raw values come from, one module per source, behind one interface.

- :mod:`~maintenance_env.sources.process`: the environment and Django settings, read when
  the configuration is loaded;
- :mod:`~maintenance_env.sources.mounted`: the mounted config (a ConfigMap volume or a dotenv
  file), polled with ``os.stat``;
- :mod:`~maintenance_env.sources.store`: the shared store, a Django cache read off the
  request path.

The live ones implement :class:`~maintenance_env.sources.base.LiveSource`. Nothing here
parses values (see :mod:`maintenance_env.parsers`) or decides precedence (see
:mod:`maintenance_env.config`).
"""

from __future__ import annotations

from maintenance_env.sources.base import LiveSource, Snapshot
from maintenance_env.sources.dotenv import parse_dotenv
from maintenance_env.sources.mounted import MountedConfig, read_mounted
from maintenance_env.sources.process import environment_values, settings_values
from maintenance_env.sources.writing import delete_value, write_value
from maintenance_env.variables import PREFIX

__all__ = [
    "PREFIX",
    "LiveSource",
    "MountedConfig",
    "Snapshot",
    "delete_value",
    "environment_values",
    "parse_dotenv",
    "read_mounted",
    "settings_values",
    "write_value",
]
