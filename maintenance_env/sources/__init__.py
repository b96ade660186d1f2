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
from maintenance_env.sources.dotenv import Dotenv, parse_dotenv, read_dotenv
from maintenance_env.sources.mounted import (
    MAX_FILE_BYTES,
    MountedConfig,
    NotReadable,
    read_mounted,
    read_regular_file,
)
from maintenance_env.sources.process import environment_values, settings_values
from maintenance_env.sources.writing import (
    WriteRefused,
    delete_value,
    write_value,
    write_values,
)
from maintenance_env.variables import PREFIX

__all__ = [
    "MAX_FILE_BYTES",
    "PREFIX",
    "Dotenv",
    "LiveSource",
    "MountedConfig",
    "NotReadable",
    "Snapshot",
    "WriteRefused",
    "delete_value",
    "environment_values",
    "parse_dotenv",
    "read_dotenv",
    "read_mounted",
    "read_regular_file",
    "settings_values",
    "write_value",
    "write_values",
]
