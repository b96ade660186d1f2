"""Twelve-factor maintenance mode for Django, driven by the environment or a mounted config."""

from __future__ import annotations

__version__ = "0.1.0"
