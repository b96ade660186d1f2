"""What ``maintenance_mode on|off`` prints: the plan for one platform, and the list.

The command resolves the platform and the values; this module turns them into text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from maintenance_env import platforms

__all__ = ["STORE_VARIABLE", "render_list", "render_plan", "store_configured"]

#: The shared store's variable (contract section 8). Read here directly: the command only
#: needs to know whether it is set, to lead with the store route.
STORE_VARIABLE = "MAINTENANCE_MODE_CACHE"


def store_configured(environ: Mapping[str, str] | None = None, settings: Any = None) -> bool:
    """Whether ``MAINTENANCE_MODE_CACHE`` is set, non-empty, in the environment (which wins,
    as for every variable) or in the Django settings."""
    env = os.environ if environ is None else environ
    if STORE_VARIABLE in env:
        return bool(env[STORE_VARIABLE].strip())
    if settings is None:
        from django.conf import settings as django_settings

        settings = django_settings
    value = getattr(settings, STORE_VARIABLE, None)
    return bool(value.strip()) if isinstance(value, str) else bool(value)


def render_plan(
    detection: platforms.Detection,
    action: str,
    values: Sequence[tuple[str, str]],
    *,
    app: str | None,
    namespace: str | None,
    environment: str | None,
    config_path: str | None,
    store: bool,
) -> str:
    """The whole text printed for ``on``/``off``: a header naming the platform and why,
    the plan, and a closing line naming the placeholders to replace.

    :raises platforms.Unprintable: when a value cannot be printed exactly for the platform.
    """
    plan = platforms.instructions(
        detection.name,
        action,
        values,
        app=app,
        namespace=namespace,
        environment=environment,
        config_path=config_path,
        store=store,
    )
    text = (
        f"# Platform: {detection.name} ({detection.reason}). To turn maintenance {action}:\n"
        + plan.render()
    )
    if plan.placeholders:
        shown = [
            f"<{p}> ({platforms.PLACEHOLDER_HINTS.get(p, '--app')})" for p in plan.placeholders
        ]
        text += f"\n# Replace {' and '.join(shown)} first.\n"
    return text


def render_list(detected: platforms.Detection, write: Callable[[str], None]) -> None:
    """``--platform list``: every platform with its one-line description, the detected one
    marked with ``*``."""
    width = max(len(name) for name in platforms.NAMES)
    for name in platforms.NAMES:
        mark = "*" if name == detected.name else " "
        write(f"{mark} {name:<{width}} {platforms.DESCRIPTIONS[name]}".rstrip())
    write(f"(* detected here: {detected.reason})")
