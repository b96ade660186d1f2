"""The platforms the management command knows, and how each is recognised."""

from __future__ import annotations

__all__ = ["NAMES"]

#: Every platform name accepted by ``MAINTENANCE_MODE_PLATFORM`` and ``--platform``.
NAMES: tuple[str, ...] = (
    "heroku",
    "kubernetes",
    "fly",
    "render",
    "railway",
    "cloudrun",
    "dokku",
    "docker",
    "compose",
    "systemd",
    "shell",
)
