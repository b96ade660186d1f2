"""Strict parsers that turn one raw value into one typed value, or say exactly why not.

django-environ does the casting of plain text (lists, integers); everything it would
accept silently by mistake (an unknown boolean becoming ``False``, ``"1s"`` becoming
``1.0``, ``"$x"`` becoming another variable) is rejected here first. Every parser takes
the variable's name so that its error can name the variable and the value.

Values from Django settings may already be Python objects (``True``, ``[...]``, a
``datetime``); each parser accepts the natural Python type for its kind as well.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import re
from collections.abc import Iterable
from typing import Any

from django.utils.dateparse import parse_datetime

from maintenance_env.matching import PatternRefused, compile_linear

__all__ = [
    "FALSE_WORDS",
    "TRUE_WORDS",
    "InvalidValue",
    "Network",
    "is_empty",
    "parse_bool",
    "parse_datetime_utc",
    "parse_float",
    "parse_int",
    "parse_list",
    "parse_networks",
    "parse_paths",
    "parse_regexes",
    "parse_text",
]

TRUE_WORDS = frozenset({"on", "true", "yes", "1"})
FALSE_WORDS = frozenset({"off", "false", "no", "0"})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class InvalidValue(ValueError):
    """A value that does not parse, naming the variable, the value and what was expected."""

    def __init__(self, name: str, value: object, expected: str, *, secret: bool = False) -> None:
        self.name = name
        self.value = value
        self.expected = expected
        shown = "'***'" if secret else shown_value(value)
        super().__init__(f"{name}={shown} is not valid: expected {expected}.")


#: The most characters of a refused value that a message shows: a 1 MB bad value from a
#: live source makes a short log line, not a 1 MB one.
SHOWN_CHARS = 200


def shown_value(value: object) -> str:
    """``repr(value)`` (control characters escaped), cut to :data:`SHOWN_CHARS`."""
    shown = repr(value)
    if len(shown) > SHOWN_CHARS:
        shown = f"{shown[:SHOWN_CHARS]}… ({len(shown)} characters)"
    return shown


def is_empty(value: object) -> bool:
    """An empty value counts as unset, at every level (docs/configuration.md)."""
    return value is None or (isinstance(value, str) and not value.strip())


def _text(name: str, value: object, expected: str) -> str:
    if not isinstance(value, str):
        raise InvalidValue(name, value, expected)
    return value.strip()


def parse_bool(name: str, value: object) -> bool:
    """``on/off``, ``true/false``, ``yes/no``, ``1/0``; anything else is an error, never False."""
    expected = "a boolean: on/off, true/false, yes/no or 1/0"
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    word = _text(name, value, expected).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InvalidValue(name, value, expected)


_INT_RE = re.compile(r"[+-]?[0-9]+\Z")  # ASCII only: \d would take "١٢٣"


def parse_int(
    name: str, value: object, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """A whole number (no ``1.5``, no ``1e3``, no ``10s``) within the bounds given."""
    if minimum is not None and maximum is not None:
        expected = f"a whole number from {minimum} to {maximum}"
    elif minimum is not None:
        expected = f"a whole number of at least {minimum}"
    else:
        expected = "a whole number"
    if isinstance(value, bool):
        raise InvalidValue(name, value, expected)
    if isinstance(value, int):
        number = value
    else:
        text = _text(name, value, expected)
        if not _INT_RE.match(text):
            raise InvalidValue(name, value, expected)
        try:
            number = int(text)
        except ValueError:  # more digits than Python converts (4300 by default)
            raise InvalidValue(name, value, expected) from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise InvalidValue(name, value, expected)
    return number


_FLOAT_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\Z")


def parse_float(name: str, value: object, *, minimum: float = 0.0) -> float:
    """A plain decimal number of at least ``minimum`` (no units, no ``nan``, no ``inf``)."""
    expected = f"a number of at least {minimum:g} (seconds)"
    if isinstance(value, bool):
        raise InvalidValue(name, value, expected)
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = _text(name, value, expected)
        if not _FLOAT_RE.match(text):
            raise InvalidValue(name, value, expected)
        number = float(text)
    if not math.isfinite(number) or number < minimum:
        raise InvalidValue(name, value, expected)
    return number


def parse_text(name: str, value: object) -> str:
    """Any text, trimmed."""
    return _text(name, value, "text")


def parse_list(name: str, value: object) -> tuple[str, ...]:
    """Comma-separated text (items trimmed, empty items dropped) or, from settings, a list/tuple.

    A plain string is never iterated character by character.
    """
    expected = "a comma-separated list (or, in settings, a list of strings)"
    if isinstance(value, str):
        items: Iterable[Any] = value.split(",")
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        raise InvalidValue(name, value, expected)
    result: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidValue(name, value, expected)
        item = item.strip()
        if item:
            result.append(item)
    return tuple(result)


def parse_regexes(name: str, value: object) -> tuple[re.Pattern[str], ...]:
    """A list of regular expressions, each compiled now so a typo fails at start-up."""
    patterns = []
    for item in parse_list(name, value):
        try:
            patterns.append(re.compile(item))
        except (re.error, OverflowError, RecursionError) as exc:  # "a{4294967296}", "((((..."
            raise InvalidValue(name, item, f"a valid regular expression ({exc})") from None
        try:
            compile_linear(item)
        except PatternRefused as exc:
            raise InvalidValue(
                name,
                item,
                f"a regular expression the linear-time engine (RE2) can match ({exc}): no "
                "backreferences or lookarounds, and $ rather than \\Z",
            ) from None
    return tuple(patterns)


def parse_paths(name: str, value: object) -> tuple[str, ...]:
    """A list of URL paths, each starting with ``/``."""
    items = parse_list(name, value)
    for item in items:
        if not item.startswith("/"):
            raise InvalidValue(name, item, "a URL path starting with '/'")
    return items


def parse_networks(name: str, value: object) -> tuple[Network, ...]:
    """IP addresses and CIDR networks, IPv4 or IPv6.

    A network with host bits set (``10.0.0.1/8``) is refused rather than silently widened.
    """
    networks: list[Network] = []
    for item in parse_list(name, value):
        try:
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError as exc:
            raise InvalidValue(name, item, f"an IP address or CIDR network ({exc})") from None
    return tuple(networks)


def parse_datetime_utc(name: str, value: object) -> dt.datetime:
    """An ISO 8601 date or datetime; naive means UTC. Returned as an aware UTC datetime."""
    expected = "an ISO 8601 datetime such as 2040-06-01T02:00:00Z"
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    else:
        text = _text(name, value, expected)
        try:
            parsed = parse_datetime(text)
        except ValueError:
            parsed = None
        if parsed is None:
            raise InvalidValue(name, value, expected)
        moment = parsed
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    try:
        return moment.astimezone(dt.timezone.utc)
    except OverflowError:  # 9999-12-31T23:59-05:00 is past datetime.max once in UTC
        raise InvalidValue(name, value, expected) from None
