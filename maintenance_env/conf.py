"""The configuration, as earlier releases named it: re-exports of where each piece lives now.

- :mod:`maintenance_env.variables`: every variable and :class:`Config`;
- :mod:`maintenance_env.config`: resolution with provenance;
- :mod:`maintenance_env.live`: the per-process runtime and the live sources;
- :mod:`maintenance_env.policy`: the per-request policy (``State`` is its old name).
"""

from __future__ import annotations

from maintenance_env.config import Layer, Problem, Resolution, base_layers, resolve
from maintenance_env.live import Runtime, get_runtime, get_state, load_runtime, reset
from maintenance_env.policy import Policy, health_key
from maintenance_env.variables import (
    DEFAULT_HEALTH_PATHS,
    DEFAULT_MESSAGE,
    DEFAULT_RETRY_AFTER,
    DEFAULT_TEMPLATE,
    SCHEDULE_ORDER_ID,
    TEMPLATE_MISSING_ID,
    VARIABLES,
    Config,
    Origin,
    Variable,
)

#: The per-request policy's earlier name.
State = Policy

__all__ = [
    "DEFAULT_HEALTH_PATHS",
    "DEFAULT_MESSAGE",
    "DEFAULT_RETRY_AFTER",
    "DEFAULT_TEMPLATE",
    "SCHEDULE_ORDER_ID",
    "TEMPLATE_MISSING_ID",
    "VARIABLES",
    "Config",
    "Layer",
    "Origin",
    "Policy",
    "Problem",
    "Resolution",
    "Runtime",
    "State",
    "Variable",
    "base_layers",
    "get_runtime",
    "get_state",
    "health_key",
    "load_runtime",
    "reset",
    "resolve",
]
