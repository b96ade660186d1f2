"""The two sources read at start-up: the process environment and Django settings."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["environment_values", "settings_values"]


def environment_values(
    names: Iterable[str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The raw text of each variable set in the process environment.

    Values are taken literally: unlike ``environ.Env.get_value``, a value that starts
    with ``$`` is not a reference to another variable (a message may cost "$5").
    """
    source = os.environ if environ is None else environ
    return {name: source[name] for name in names if name in source}


def settings_values(names: Iterable[str], settings: Any) -> dict[str, object]:
    """The value of each Django setting that is defined (it may be any Python object)."""
    missing = object()
    found: dict[str, object] = {}
    for name in names:
        value = getattr(settings, name, missing)
        if value is not missing:
            found[name] = value
    return found
