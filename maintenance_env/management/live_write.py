"""The management command's dealings with the live sources: reading them once, writing the
shared store, and removing variables from a live source.

Kept apart from the command's argument handling so that each piece stays small:
``maintenance_mode on|off --write`` writes through :mod:`maintenance_env.writes` (the one
writer, shared with the Python API and the admin page), ``maintenance_mode unset NAME ...``
calls :func:`unset`. A command never starts the store's
refresher thread:
it reads the store once, in its own thread (:func:`command_runtime`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence

from django.core.management.base import BaseCommand, CommandError

from maintenance_env.cache_build import SOCKET_TIMEOUT
from maintenance_env.cache_url import StoreError
from maintenance_env.live import Runtime
from maintenance_env.policy import Policy
from maintenance_env.sources import delete_value
from maintenance_env.sources.store import MIN_PAUSE, SharedStore
from maintenance_env.variables import LIVE_NAMES, VARIABLES
from maintenance_env.writes import unusable_store

__all__ = [
    "command_runtime",
    "seen_within",
    "unset",
    "warn_if_inactive",
]

Reason = Callable[[Policy, float], str]


@contextlib.contextmanager
def _logging_above(level: int) -> Iterator[None]:
    """Only records above ``level`` from the runtime while a command reads."""
    logger = logging.getLogger("maintenance_env")
    saved = logger.level
    logger.setLevel(max(level + 1, saved))
    try:
        yield
    finally:
        logger.setLevel(saved)


def command_runtime(*, check_template: bool = True) -> Runtime:
    """The configuration as a command sees it: every live source read once, now, in this
    thread (the store may take up to its socket timeout), and no refresher thread.

    The runtime's INFO lines ("configuration changed") are kept out of the command's
    output, warnings and errors about the mounted config still show; what is wrong with
    the store is not logged, the command says it in its own words (one clear line).
    """
    with _logging_above(logging.INFO):
        runtime = Runtime(check_template=check_template, background=False)
        runtime.state()
    if runtime.store is not None:
        with _logging_above(logging.CRITICAL):
            # Where this process starts: no "change" of its own to report.
            runtime.read_first(timeout=SOCKET_TIMEOUT)
    return runtime


def seen_within(interval: float) -> str:
    """How soon every process sees a write to the shared store, in words."""
    return (
        f"every process sees it within MAINTENANCE_MODE_RELOAD_INTERVAL "
        f"({max(interval, MIN_PAUSE):g} s)"
    )


def _now_line(reason: Reason, interval: float) -> str:
    policy = command_runtime(check_template=False).state()
    now = time.time()
    state = "active" if policy.is_active(now) else "not active"
    return f"Maintenance is now {state} ({reason(policy, now)}); {seen_within(interval)}."


def _store(runtime: Runtime, nothing: str = "nothing written") -> SharedStore | None:
    """The store to write, or ``None`` when ``MAINTENANCE_MODE_CACHE`` is unset. Raises
    ``CommandError`` when it is set but unusable (a typo, a bad URL, a missing client):
    never a fallback to the mounted config, which the servers would not read."""
    config = runtime.base.config
    refusal = unusable_store(runtime, nothing)
    if refusal is not None:
        raise CommandError(refusal)
    if not config.cache:
        return None
    return SharedStore(config.cache, LIVE_NAMES, config.reload_interval, background=False)


def _check_names(names: Sequence[str]) -> list[str]:
    if not names:
        raise CommandError(
            "unset needs the variables to remove, e.g. `maintenance_mode unset MAINTENANCE_MODE`."
        )
    chosen: list[str] = []
    for raw in names:
        name = raw.strip().upper()
        var = VARIABLES.get(name)
        if var is None or not var.live:
            why = "is read only from the environment or settings" if var else "is not a variable"
            raise CommandError(
                f"{raw!r} {why}: expected one of {', '.join(LIVE_NAMES)}; nothing removed."
            )
        if name not in chosen:
            chosen.append(name)
    return chosen


def unset(command: BaseCommand, runtime: Runtime, names: Sequence[str], reason: Reason) -> None:
    """Remove ``names`` from the live source (the shared store when set, else the mounted
    config), so that the environment, settings and defaults apply to them again.

    Raises ``CommandError`` (one line) for an unknown name, when there is no live source,
    or when it cannot be written.
    """
    chosen = _check_names(names)
    config = runtime.base.config
    store = _store(runtime, "nothing removed")
    if store is not None:
        error = store.read_now()
        if error is not None:
            raise CommandError(f"{store.label} {error}: nothing removed")
        present = set(store.snapshot.values)
        try:
            keys = store.write(dict.fromkeys(chosen))
        except StoreError as exc:
            raise CommandError(str(exc)) from None
        for name in chosen:
            done = "removed from" if name in present else "was not in"
            command.stdout.write(f"{name} {done} {store.label} (key {keys[name]!r})")
    elif config.config_path:
        path = config.config_path
        if not os.path.exists(path):
            raise CommandError(
                f"MAINTENANCE_MODE_CONFIG_PATH={path!r} does not exist: nothing to remove."
            )
        removed: list[str] = []
        for name in chosen:
            try:
                target = delete_value(path, name)
            except OSError as exc:
                done = f"; already removed: {', '.join(removed)}" if removed else ""
                raise CommandError(
                    f"Cannot remove {name} from {path!r}: {exc.strerror or exc}{done}."
                ) from None
            if target is None:
                command.stdout.write(f"{name} was not in the mounted config {path}")
            else:
                removed.append(name)
                command.stdout.write(f"{name} removed from {target}")
    else:
        raise CommandError(
            "Nothing to remove from: neither MAINTENANCE_MODE_CACHE nor "
            "MAINTENANCE_MODE_CONFIG_PATH is set (a variable of the environment or settings "
            "is removed where it is set)."
        )
    command.stdout.write(_now_line(reason, config.reload_interval))


def warn_if_inactive(
    write: Callable[[str], None], values: Sequence[tuple[str, str]], after: Policy, now: float
) -> None:
    """``on`` that leaves the site up (a window from an earlier write has ended, or
    starts later): say so (on the command's stderr, ``write``), naming what to change."""
    if values[0][1] != "on" or after.is_active(now):
        return
    config = after.config
    if config.ends_at is not None and now >= config.ends_at.timestamp():
        write(
            f"Warning: MAINTENANCE_MODE is on, but the window ended at "
            f"{config.ends_at.isoformat()}: maintenance is not active. Give a new "
            "--ends-at, or `maintenance_mode unset MAINTENANCE_MODE_ENDS_AT --write`."
        )
    elif config.starts_at is not None and now < config.starts_at.timestamp():
        write(f"Note: MAINTENANCE_MODE is on; the window starts at {config.starts_at.isoformat()}.")
