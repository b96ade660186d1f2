"""What a write to the live source is checked against before anything is written: each
value by its variable's own parser, the window as a whole, and who and why.

Pure functions (no source is touched): :mod:`maintenance_env.writes` runs them first, so
that on any error nothing is written and :class:`WriteError` says why in one line.
"""

from __future__ import annotations

import datetime as dt
import getpass
import socket
import time
import unicodedata
from collections.abc import Mapping, Sequence

from maintenance_env import history, parsers
from maintenance_env.variables import VARIABLES

__all__ = [
    "MAX_NOTE_LENGTH",
    "WriteError",
    "check_note",
    "check_values",
    "default_by",
    "serving_of",
]

#: The longest ``reason`` or ``changed_by`` accepted, in characters.
MAX_NOTE_LENGTH = history.MAX_TEXT

_WINDOW = ("MAINTENANCE_MODE_STARTS_AT", "MAINTENANCE_MODE_ENDS_AT")


class WriteError(Exception):
    """The live source was not written: no writable live source, it cannot be reached, or
    a value is bad. The message is one line naming the value or the source; nothing was
    written (for a store that failed half-way, the message says so)."""


def default_by() -> str:
    """``user@host`` of this process (the OS user; ``unknown`` when it cannot be told)."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name, no USER variable, no passwd entry
        user = "unknown"
    try:
        host = socket.gethostname()
    except OSError:
        host = "unknown"
    return f"{user}@{host}"


def check_note(label: str, value: object) -> str | None:
    """``reason`` or ``changed_by`` text, trimmed; ``None`` when empty. Data only: one line
    of printable text, at most :data:`MAX_NOTE_LENGTH` characters, else :class:`WriteError`
    naming ``label``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise WriteError(f"{label}={value!r} is not valid: expected text.")
    text = value.strip()
    if not text:
        return None
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text):
        raise WriteError(
            f"{label}={value!r} is not valid: expected one line without control characters."
        )
    if len(text) > MAX_NOTE_LENGTH:
        raise WriteError(
            f"{label} is not valid: expected at most {MAX_NOTE_LENGTH} characters, got {len(text)}."
        )
    return text


def _text_of(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date):
        moment = parsers.parse_datetime_utc("", value)
        return moment.isoformat().replace("+00:00", "Z")
    return str(value)


def check_values(
    values: Sequence[tuple[str, object]], *, labels: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """Each ``(variable name, value)`` checked by that variable's parser and turned into
    the text to write (datetimes in ISO 8601 UTC). ``labels`` name a value in errors (a
    command's ``--ends-at``); the variable's name by default.

    Raises :class:`WriteError` (one line) for an unknown or non-live variable, a value the
    parser refuses, an end in the past, or a start not before the end."""
    labels = labels or {}
    checked: list[tuple[str, str]] = []
    moments: dict[str, dt.datetime] = {}
    for name, raw in values:
        var = VARIABLES.get(name)
        label = labels.get(name, name)
        if var is None or not var.live:
            raise WriteError(f"{label} cannot be written to a live source: nothing written.")
        if raw is None or (isinstance(raw, str) and parsers.is_empty(raw)):
            raise WriteError(f"{label}='' is not valid: expected some text or a value.")
        text = raw if isinstance(raw, str) else _text_of(raw)
        try:
            parsed = var.parse(name, text)
        except parsers.InvalidValue as exc:
            shown = "'***'" if var.secret else repr(raw if isinstance(raw, str) else text)
            raise WriteError(f"{label}={shown} is not valid: expected {exc.expected}.") from None
        if name in _WINDOW:
            moments[name] = parsed
            text = _text_of(parsed)
        elif isinstance(parsed, str):
            text = parsed  # trimmed, as it reads back
        checked.append((name, text))
    start, end = (moments.get(name) for name in _WINDOW)
    given = {n: dict(values).get(n) for n in _WINDOW}
    if end is not None and end.timestamp() <= time.time():
        raise WriteError(
            f"{labels.get(_WINDOW[1], _WINDOW[1])}={given[_WINDOW[1]]!r} is in the past: "
            "maintenance would never be active."
        )
    if start is not None and end is not None and start >= end:
        raise WriteError(
            f"{labels.get(_WINDOW[0], _WINDOW[0])}={given[_WINDOW[0]]!r} is not before "
            f"{labels.get(_WINDOW[1], _WINDOW[1])}={given[_WINDOW[1]]!r}: the window would "
            "be empty."
        )
    return checked


def serving_of(values: Sequence[tuple[str, str]]) -> str | None:
    """What a write sets the fleet to serve (``on``, ``read-only``, ``off``), or ``None``
    when it does not set ``MAINTENANCE_MODE`` (other values only)."""
    given = dict(values)
    mode = given.get("MAINTENANCE_MODE")
    if mode is None:
        return None
    if not VARIABLES["MAINTENANCE_MODE"].parse("MAINTENANCE_MODE", mode):
        return "off"
    read_only = given.get("MAINTENANCE_MODE_READ_ONLY")
    if read_only is not None and VARIABLES["MAINTENANCE_MODE_READ_ONLY"].parse(
        "MAINTENANCE_MODE_READ_ONLY", read_only
    ):
        return "read-only"
    return "on"
