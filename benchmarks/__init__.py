"""Benchmarks: this package next to bare Django and django-maintenance-mode.

Run everything with ``make bench`` (or ``python -m benchmarks``); see ``benchmarks/README.md``.
"""

from __future__ import annotations
