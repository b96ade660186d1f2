"""The command's fleet actions: ``history``, ``status --fleet`` and ``--wait``, each asking
the runtime's own shared store under the package's deadline and printing through
:mod:`maintenance_env.management.fleet_text`. Every failure is one :class:`CommandError`
line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError

from maintenance_env.cache_url import StoreError
from maintenance_env.live import Runtime
from maintenance_env.management import fleet_text
from maintenance_env.reports import Report
from maintenance_env.sources.store import SharedStore
from maintenance_env.writes import unusable_store

__all__ = ["DEFAULT_TIMEOUT", "command_store", "fleet", "history", "wait"]

#: ``--wait`` without ``--timeout`` (seconds).
DEFAULT_TIMEOUT = 60.0

Write = Callable[[str], None]


def command_store(runtime: Runtime, needs: str) -> SharedStore:
    """The runtime's shared store (unread), or a one-line error: the store is set but
    unusable, or not set (``needs`` says what needs it)."""
    refusal = unusable_store(runtime, "nothing done")
    if refusal is not None:
        raise CommandError(refusal)
    if runtime.store is None:
        raise CommandError(needs + ".")
    return runtime.store


def history(write: Write, runtime: Runtime, as_json: bool) -> None:
    """``history [--json]``."""
    store = command_store(
        runtime,
        "history needs the shared store: set MAINTENANCE_MODE_CACHE (the changes are "
        "recorded there)",
    )
    try:
        changes = store.history()
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    fleet_text.run_history(write, changes, as_json=as_json)


def fleet(write: Write, runtime: Runtime, as_json: bool) -> None:
    """``status --fleet [--json]``."""
    store = command_store(
        runtime,
        "status --fleet needs the shared store: set MAINTENANCE_MODE_CACHE so that the "
        "processes report what they serve",
    )
    try:
        reports, changes = store.live_reports(), store.history()
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    fleet_text.run_fleet(write, reports, changes, store.changed_at, as_json=as_json)


def wait(
    write: Write,
    runtime: Runtime,
    after: Any,
    now: float,
    timeout: float | None,
    written_at: str | None,
) -> None:
    """``on|off --write --wait``: until every live process serves what ``after`` (the
    policy after the write) serves at ``now`` and has applied the write at
    ``written_at``; exits 1 at ``timeout`` seconds (default :data:`DEFAULT_TIMEOUT`)."""
    store = command_store(runtime, fleet_text.NO_STORE)
    active = after.is_active(now)
    target = "read-only" if active and after.is_read_only(now) else "on" if active else "off"

    def read() -> list[Report]:
        try:
            return store.live_reports()
        except StoreError as exc:
            raise CommandError(f"--wait: {exc}") from None

    code = fleet_text.run_wait(
        write,
        read,
        target,
        written_at,
        DEFAULT_TIMEOUT if timeout is None else timeout,
        runtime.base.config.reload_interval,
    )
    if code:
        raise CommandError("--wait: the fleet did not flip in time.", returncode=code)
