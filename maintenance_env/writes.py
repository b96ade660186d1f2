"""The one writer of the live source: ``maintenance_mode on|off --write``, the Python API
(:func:`maintenance_env.enable`, :func:`maintenance_env.disable`) and the admin page all
write through :func:`write`.

- Every value is checked first, by its variable's own parser, and the window is checked as
  a whole (an end in the past, a start not before the end); on any error nothing is
  written and :class:`WriteError` says why in one line.
- The shared store (``MAINTENANCE_MODE_CACHE``) is written when it is set, in one
  ``set_many``; otherwise the mounted config (``MAINTENANCE_MODE_CONFIG_PATH``), the
  switch last, so that it flips with its window and message in place.
- Who wrote and why (``changed_by``, ``reason``) go into the shared store only, beside
  ``changed_at``, as :data:`BY_KEY` and :data:`REASON_KEY`. The mounted config holds only
  ``MAINTENANCE_MODE_*`` variables; writing it, the record is logged, not stored.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

from maintenance_env import claims, history, sources
from maintenance_env.cache_url import BY_KEY, KEY_PREFIX, REASON_KEY, StoreError
from maintenance_env.live import Runtime
from maintenance_env.runtime import get_runtime
from maintenance_env.sources.store import SharedStore
from maintenance_env.sources.store_values import changed_now
from maintenance_env.variables import LIVE_NAMES, VARIABLES
from maintenance_env.write_checks import (
    WriteError,
    check_note,
    check_values,
    default_by,
    serving_of,
)

if TYPE_CHECKING:
    from maintenance_env.status_report import Status

__all__ = ["Written", "disable", "enable", "unusable_store", "write"]

logger = logging.getLogger("maintenance_env")


@dataclasses.dataclass(frozen=True)
class Written:
    """What :func:`write` did: ``lines`` say each value and where it went (credentials
    masked); ``store`` is true for the shared store, false for the mounted config."""

    lines: tuple[str, ...]
    store: bool
    #: The store's ``changed_at`` of this write (``None`` for the mounted config).
    changed_at: str | None = None


def unusable_store(runtime: Runtime, nothing: str = "nothing written") -> str | None:
    """The one-line refusal when ``MAINTENANCE_MODE_CACHE`` is set but unusable (a typo, a
    bad URL, a missing client), else ``None``: never a fallback to the mounted config,
    which the servers would not read."""
    refused = next((p for p in runtime.base.problems if p.name == "MAINTENANCE_MODE_CACHE"), None)
    if refused is None:
        return None
    return (
        f"{refused}: {nothing} (the servers read the shared store, so the mounted "
        "config is not written instead)"
    )


def _write_store(
    runtime: Runtime,
    values: Sequence[tuple[str, str]],
    by: str,
    reason: str | None,
    source: str = "command",
) -> Written | None:
    config = runtime.base.config
    refusal = unusable_store(runtime)
    if refusal is not None:
        raise WriteError(refusal)
    if not config.cache:
        return None
    store = SharedStore(config.cache, LIVE_NAMES, config.reload_interval, background=False)
    record: dict[str, str | None] = dict(values)
    # The record goes in the same set_many: a key is KEY_PREFIX + name.
    record[BY_KEY.removeprefix(KEY_PREFIX)] = by
    record[REASON_KEY.removeprefix(KEY_PREFIX)] = reason
    try:
        keys = store.write(record)
    except StoreError as exc:
        raise WriteError(str(exc)) from None
    lines = tuple(
        f"{name}={VARIABLES[name].show(value)} written to {store.label} "
        f"(key {keys[name]!r}, no expiry)"
        for name, value in values
    )
    if store.written_at is not None:
        change = history.Change(store.written_at, by, reason, serving_of(values), source)
        try:
            store.record(change)
        except StoreError as exc:
            # The values are written: the history is a record of them, not the switch.
            message = f"the change was written, but not recorded in the history: {exc}"
            logger.warning("maintenance_env: %s", message)
            lines += (message[0].upper() + message[1:],)
    return Written(lines, store=True, changed_at=store.written_at)


def _config_directory(path: str) -> str:
    if os.path.isdir(path):
        return path
    if os.path.isfile(path):
        return os.path.dirname(os.path.abspath(path))
    if not os.path.lexists(path):
        raise WriteError(
            f"MAINTENANCE_MODE_CONFIG_PATH={path!r} does not exist: create "
            "the directory (or the dotenv file) first."
        )
    raise WriteError(
        f"MAINTENANCE_MODE_CONFIG_PATH={path!r} is neither a directory "
        "nor a regular file: nothing written."
    )


def _write_config(
    runtime: Runtime, values: Sequence[tuple[str, str]], by: str, reason: str | None
) -> Written:
    path = runtime.base.config.config_path
    if not path:
        raise WriteError(
            "Nothing to write to: MAINTENANCE_MODE_CONFIG_PATH is not set (set it to a "
            "directory, one file per variable, or a dotenv file; or set MAINTENANCE_MODE_CACHE "
            "to write the shared store)."
        )
    directory = _config_directory(path)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise WriteError(
            f"MAINTENANCE_MODE_CONFIG_PATH={path!r} is not writable here: nothing written."
        )
    # The switch goes last, so that it flips with its window and message in place.
    switch = [item for item in values if item[0] == "MAINTENANCE_MODE"]
    ordered = [item for item in values if item[0] != "MAINTENANCE_MODE"] + switch
    try:
        targets = sources.write_values(path, ordered)
    except sources.WriteRefused as exc:
        raise WriteError(f"{exc}; nothing written.") from None
    except TimeoutError as exc:
        raise WriteError(f"Cannot write into {path!r}: {exc}; nothing written.") from None
    except OSError as exc:
        hint = (
            " (a ConfigMap or Secret volume is read-only: change the ConfigMap "
            "instead, see `maintenance_mode on --platform kubernetes`)"
            if getattr(exc, "errno", None) == 30
            else ""
        )
        raise WriteError(
            f"Cannot write into {path!r}: {exc.strerror or exc}{hint}; "
            "`maintenance_mode status` shows what is in force."
        ) from None
    # The mounted config holds variables only: who and why are logged, not stored.
    logger.info(
        "maintenance_env: %s written to %s by %r%s",
        ", ".join(name for name, _ in ordered),
        path,
        by,
        f" ({reason!r})" if reason else "",
    )
    lines = tuple(
        f"{name}={VARIABLES[name].show(value)} written to {target}"
        for (name, value), target in zip(ordered, targets, strict=True)
    )
    return Written(lines, store=False)


def write(
    runtime: Runtime,
    values: Sequence[tuple[str, object]],
    *,
    reason: str | None = None,
    by: str | None = None,
    labels: Mapping[str, str] | None = None,
    source: str = "command",
) -> Written:
    """Write ``values`` (variable name, value) into the live source of ``runtime``: the
    shared store when ``MAINTENANCE_MODE_CACHE`` is set, else the mounted config.

    Every value is checked first (:func:`check_values`); ``reason`` and ``by`` (default
    :func:`default_by`) by :func:`check_note`. Raises :class:`WriteError` (one line,
    nothing written) when a value is bad or the source cannot be written."""
    checked = check_values(values, labels=labels)
    note = check_note("reason", reason)
    who = check_note("by", by) or default_by()
    written = _write_store(runtime, checked, who, note, source)
    if written is not None:
        return written  # the fleet's processes race for fleet_changed (section 10)
    before = runtime.state().is_active(time.time())
    written = _write_config(runtime, checked, who, note)
    # Without a store no process can claim the change: the writing process sends it.
    serving = serving_of(checked)
    active = before if serving is None else serving != "off"
    change = history.Change(changed_now(), who, note, serving, source)
    claims.send_fleet_changed(active, before, change, read_only=serving == "read-only")
    return written


def _write_and_read(
    switch: str, values: Mapping[str, object], *, reason: str | None, by: str | None
) -> Status:
    # Imported here: the status module imports the platform detection, which writing needs not.
    from maintenance_env.status_report import build_status

    pairs: list[tuple[str, object]] = [("MAINTENANCE_MODE", switch)]
    for given, value in values.items():
        name = "MAINTENANCE_MODE_" + given.upper()
        if not given.islower() or name not in VARIABLES or name == "MAINTENANCE_MODE_":
            raise WriteError(
                f"{given}={value!r} is not a variable: expected a lower-case name such as "
                "message or ends_at (MAINTENANCE_MODE_ without its prefix)."
            )
        pairs.append((name, value))
    try:
        runtime = get_runtime()
    except ImproperlyConfigured:
        runtime = Runtime(background=False)
    write(runtime, pairs, reason=reason, by=by, source="api")
    runtime.refresh()
    return build_status(runtime, runtime.state())


def enable(
    *, read_only: bool = False, reason: str | None = None, by: str | None = None, **values: Any
) -> Status:
    """Turn maintenance on in the live source (the shared store when
    ``MAINTENANCE_MODE_CACHE`` is set, else the mounted config), as
    ``maintenance_mode on --write`` does, and return the new :class:`Status`.

    ``read_only=True`` also sets ``MAINTENANCE_MODE_READ_ONLY``. ``values`` are variables
    without their ``MAINTENANCE_MODE_`` prefix, lower-case: ``message="…"``,
    ``ends_at=datetime`` (aware, or naive = UTC), ``retry_after=600``. ``reason`` (text)
    and ``by`` (text, default ``user@host``) are recorded with the write in the shared
    store. Every value is checked first.

    Raises :class:`maintenance_env.WriteError` (one line, nothing written) for a bad
    value, when there is no writable live source, or when it cannot be reached.
    """
    if read_only:
        values = {"read_only": True, **values}
    return _write_and_read("on", values, reason=reason, by=by)


def disable(*, reason: str | None = None, by: str | None = None) -> Status:
    """Turn maintenance off in the live source, as ``maintenance_mode off --write`` does,
    and return the new :class:`Status`. ``reason`` and ``by`` as for :func:`enable`.

    Raises :class:`maintenance_env.WriteError` (one line, nothing written) when there is
    no writable live source or it cannot be reached.
    """
    return _write_and_read("off", {}, reason=reason, by=by)
