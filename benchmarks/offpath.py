"""Part 1, more rows: the middleware alone where only the configuration differs.

What each issue's target names, measured like every other "middleware alone" row and
interleaved with them:

- maintenance off with the shared store on every backend the store is documented with
  (Django's ``RedisCache``, django-redis, ``PyMemcacheCache`` on memcached, ``DatabaseCache``
  on PostgreSQL), each backend's row present when its server runs;
- maintenance off with permission, group and staff exemptions configured;
- maintenance on outside, and inside, a recurring window of ``MAINTENANCE_MODE_SCHEDULE``
  (in UTC, placed from the clock: never a date of its own);
- the scale row's 1,000 ``EXCEPT_URLS`` patterns arriving live from a mounted config.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks import stacks
from benchmarks.inprocess import PATTERNS, SCALE_BASE, Configuration, set_our_environment
from benchmarks.timing import Result, overhead_share
from tests.kubelet import ConfigMapVolume

__all__ = [
    "BACKEND_ROWS",
    "PERMISSIONS_OFF",
    "SCALE_MOUNTED_PATTERNS",
    "SCHEDULE_OFF",
    "SCHEDULE_ON",
    "StoreBackend",
    "available_backends",
    "configurations",
    "schedule_configurations",
    "targets",
    "window",
]

PERMISSIONS_OFF = "ours off, permission, group and staff exemptions"
SCHEDULE_OFF = "ours off, outside a scheduled window"
SCHEDULE_ON = "ours on, inside a scheduled window"
SCALE_MOUNTED_PATTERNS = "ours on, 1,000 EXCEPT_URLS patterns from a mounted config"
#: The database of the benchmark's redis-server that the django-redis row uses (0 and 1
#: hold the in-process store cases, 2 and 3 django-maintenance-mode's, 4 and 5 the reload rows).
DJANGO_REDIS_DB = 6


@dataclass(frozen=True)
class StoreBackend:
    """One backend of the shared store: its row, and ``MAINTENANCE_MODE_CACHE``."""

    row: str
    cache: str


#: Each backend's row name, in the order of the table.
BACKEND_ROWS = {
    "django-redis": "ours off, store on django-redis",
    "memcached": "ours off, store on memcached (PyMemcacheCache)",
    "database": "ours off, store on PostgreSQL (DatabaseCache)",
}
#: The ``DatabaseCache`` table of the PostgreSQL row.
TABLE = "maintenance_env_bench"


def available_backends() -> list[StoreBackend]:
    """The backends whose servers the benchmark started (``benchmarks.__main__`` exports
    ``BENCH_REDIS_URL``, ``BENCH_MEMCACHED`` and ``BENCH_POSTGRES``; settings add the
    django-redis alias and the PostgreSQL database)."""
    found = []
    if os.environ.get("BENCH_REDIS_URL"):
        found.append(StoreBackend(BACKEND_ROWS["django-redis"], "django_redis_store"))
    if memcached := os.environ.get("BENCH_MEMCACHED"):
        found.append(StoreBackend(BACKEND_ROWS["memcached"], f"pymemcache://{memcached}"))
    if os.environ.get("BENCH_POSTGRES"):
        found.append(StoreBackend(BACKEND_ROWS["database"], f"dbcache://{TABLE}"))
    return found


def prepare(backend: StoreBackend) -> None:
    """Create what the backend needs (the ``DatabaseCache`` table) and write
    ``MAINTENANCE_MODE=off`` to it, as ``maintenance_mode off --write`` does."""
    from django.core.management.commands.createcachetable import Command as CreateCacheTable

    from maintenance_env.sources.store import SharedStore

    if backend.cache.startswith("dbcache://"):
        command = CreateCacheTable()
        command.verbosity = 0
        command.create_table("default", TABLE, dry_run=False)
    store = SharedStore(backend.cache, ["MAINTENANCE_MODE"], 1.0, background=False)
    store.write({"MAINTENANCE_MODE": "off"})


def window(now: datetime, *, inside: bool) -> str:
    """A daily window of ``MAINTENANCE_MODE_SCHEDULE`` in UTC: from an hour before ``now``
    to an hour after it (``inside``), or from two to three hours after it."""
    start = now - timedelta(hours=1) if inside else now + timedelta(hours=2)
    end = start + timedelta(hours=2 if inside else 1)
    return f"daily {start:%H:%M}-{end:%H:%M}"


def schedule_configurations() -> list[Configuration]:
    """Maintenance on with a schedule whose window is elsewhere (off), and around now (on):
    each with its WSGI and ASGI loops too (a 503 of the window ≤ a bare 200)."""
    ours = stacks.OURS_MIDDLEWARE
    now = datetime.now(timezone.utc)

    def activate(inside: bool) -> None:
        set_our_environment(
            {
                "MAINTENANCE_MODE": "on",
                "MAINTENANCE_MODE_SCHEDULE": window(now, inside=inside),
                "MAINTENANCE_MODE_SCHEDULE_TIME_ZONE": "UTC",
            }
        )

    return [
        Configuration(SCHEDULE_OFF, ours, lambda: activate(False), 200),
        Configuration(SCHEDULE_ON, ours, lambda: activate(True), 503),
    ]


def configurations(workdir: Path) -> list[Configuration]:
    """The rows measured by the middleware alone only: every available store backend,
    the exemptions by who the user is, and the mounted scale row."""
    ours = stacks.OURS_MIDDLEWARE
    found = []
    for backend in available_backends():
        prepare(backend)
        found.append(
            Configuration(
                backend.row,
                ours,
                lambda cache=backend.cache: set_our_environment(  # type: ignore[misc]
                    {"MAINTENANCE_MODE_CACHE": cache}
                ),
                200,
            )
        )
    found.append(
        Configuration(
            PERMISSIONS_OFF,
            ours,
            lambda: set_our_environment(
                {
                    "MAINTENANCE_MODE": "off",
                    "MAINTENANCE_MODE_EXCEPT_STAFF": "on",
                    "MAINTENANCE_MODE_EXCEPT_PERMISSIONS": "auth.change_user,auth.view_user",
                    "MAINTENANCE_MODE_EXCEPT_GROUPS": "Editors,Support",
                }
            ),
            200,
        )
    )
    volume = ConfigMapVolume(
        workdir / "configmap-patterns",
        {"MAINTENANCE_MODE": "on", "MAINTENANCE_MODE_EXCEPT_URLS": PATTERNS},
    )
    found.append(
        Configuration(
            SCALE_MOUNTED_PATTERNS,
            ours,
            lambda: set_our_environment({"MAINTENANCE_MODE_CONFIG_PATH": str(volume.root)}),
            503,
        )
    )
    return found


#: The off path's bound in the store, schedule and permission issues: a share of one bare
#: request.
OFF_TARGET = 0.002


def _mark(ok: bool) -> str:
    return "✅ met" if ok else "❌ missed"


def targets(results: Mapping[str, Result], lines: list[str]) -> None:
    """Append this module's target lines to ``lines``, for the rows that were measured."""
    off_rows = [
        ("ours off", "maintenance off"),
        ("ours off, store", "maintenance off, the store on Django's RedisCache"),
        *(
            (row, f"maintenance off, {row.removeprefix('ours off, ')}")
            for row in BACKEND_ROWS.values()
        ),
        (PERMISSIONS_OFF, "maintenance off, permission, group and staff exemptions configured"),
        (SCHEDULE_OFF, "maintenance on, outside a window of MAINTENANCE_MODE_SCHEDULE"),
    ]
    for row, what in off_rows:
        if f"alone/{row}" in results:
            share = overhead_share(results, f"alone/{row}")
            lines.append(
                f"{what}, middleware alone: {share:.2%} of a bare request "
                f"(target ≤ {OFF_TARGET:.1%}) — {_mark(share <= OFF_TARGET)}"
            )
    missing = [row for row in BACKEND_ROWS.values() if f"alone/{row}" not in results]
    if missing:
        lines.append(f"not measured (server not installed): {', '.join(missing)}")
    inside = results.get(f"wsgi/{SCHEDULE_ON}")
    if inside is not None:
        ratio = inside.ratio(results["wsgi/bare"])
        lines.append(
            f"maintenance on inside a scheduled window, WSGI: a maintenance response costs "
            f"{ratio:.2f}x a bare 200 request (target ≤ 1.00x) — {_mark(ratio <= 1.0)}"
        )
    mounted = results.get(f"alone/{SCALE_MOUNTED_PATTERNS}")
    base = results.get(f"alone/{SCALE_BASE}")
    if mounted is not None and base is not None:
        ratio = mounted.ratio(base)
        lines.append(
            "maintenance on, no exemption matches, middleware alone with 1,000 EXCEPT_URLS "
            f"patterns from a mounted config: {ratio:.2f}x the same request with no lists "
            f"(target ≤ 1.50x) — {_mark(ratio <= 1.5)}"
        )
