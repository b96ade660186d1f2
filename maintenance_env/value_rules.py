"""The parsers of the variables whose rule is their own (a status that carries a body,
permissions, platform names, URLs, the webhook, the cache, the schedule, time zones), and
how a secret value is shown. Each takes ``(name, value)`` and returns the parsed value or
raises :class:`~maintenance_env.parsers.InvalidValue` naming the variable; the generic
ones (booleans, numbers, lists, datetimes, networks) are :mod:`maintenance_env.parsers`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from maintenance_env import cache_build, cache_url, parsers
from maintenance_env.parsers import InvalidValue
from maintenance_env.schedule import Schedule

__all__ = [
    "PLATFORM_NAMES",
    "cache_setting",
    "filesystem_path",
    "int_between",
    "masked_url",
    "masked_webhook",
    "permissions",
    "platform",
    "schedule",
    "status_code",
    "time_zone",
    "url_or_path",
    "webhook_url",
]


def int_between(low: int, high: int | None = None) -> Callable[[str, object], int]:
    """A parser of whole numbers from ``low`` to ``high`` (``None``: no upper bound)."""

    def parse(name: str, value: object) -> int:
        return parsers.parse_int(name, value, minimum=low, maximum=high)

    return parse


def status_code(name: str, value: object) -> int:
    code = parsers.parse_int(name, value, minimum=200, maximum=599)
    # RFC 9110 §15.3.5, §15.3.6, §15.4.5: these responses carry no content, and servers
    # (uvicorn among them) fail a response that has a body with one of them.
    if code in (204, 205, 304):
        raise InvalidValue(name, value, "a status that carries a body (not 204, 205 or 304)")
    return code


#: The names ``MAINTENANCE_MODE_PLATFORM`` takes, in the registry's detection order. The
#: registry belongs to the management command and is never imported from here; a test
#: keeps the two equal.
PLATFORM_NAMES: tuple[str, ...] = (
    "appengine", "cloudrun", "azure-containerapps", "azure-appservice", "apprunner", "ecs",
    "beanstalk", "heroku", "dokku", "upsun", "digitalocean", "pythonanywhere", "kubernetes",
    "fly", "render", "railway", "nomad", "kamal", "swarm", "compose", "docker", "systemd",
    "shell",
)  # fmt: skip


_PERMISSION_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z0-9_]+")


def permissions(name: str, value: object) -> tuple[str, ...]:
    items = parsers.parse_list(name, value)
    for item in items:
        if not _PERMISSION_RE.fullmatch(item):
            raise InvalidValue(
                name, value, f"permissions as app_label.codename (not {item!r}), comma-separated"
            )
    return items


def platform(name: str, value: object) -> str:
    text = parsers.parse_text(name, value).lower()
    if text not in PLATFORM_NAMES:
        raise InvalidValue(name, value, "one of " + ", ".join(PLATFORM_NAMES))
    return text


def url_or_path(name: str, value: object) -> str:
    text = parsers.parse_text(name, value)
    if not (text.startswith("/") or text.startswith(("http://", "https://"))):
        raise InvalidValue(name, value, "a path starting with '/' or an http(s):// URL")
    if text.startswith(("//", "/\\")):
        # A browser reads "//host/..." (and "/\\host/...") as another site, not a path.
        raise InvalidValue(name, value, "a path of this site: '//host' is another site")
    return text


def masked_webhook(text: str) -> str:
    """A webhook URL shown: its scheme and host only (the path of an incoming webhook is
    its secret)."""
    scheme, _sep, rest = text.partition("://")
    host = rest.split("/", 1)[0].rpartition("@")[2]
    return f"{scheme}://{host}/***" if host else "***"


def webhook_url(name: str, value: object) -> str:
    text = parsers.parse_text(name, value)
    try:
        parts = urlsplit(text)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise InvalidValue(name, value, "an http:// or https:// URL", secret=True)
    return text


def filesystem_path(name: str, value: object) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return parsers.parse_text(name, value)


def masked_url(text: str) -> str:
    """A cache URL (or alias) with any password in it masked."""
    return cache_url.mask(text)


def cache_setting(name: str, value: object) -> str:
    """An alias of ``CACHES`` or a cache URL of a scheme the store serves
    (:data:`maintenance_env.cache_url.SCHEMES`), whose backend can be imported. Nothing is
    connected to."""
    text = parsers.parse_text(name, value)
    if not cache_url.is_url(text) and not re.fullmatch(r"[\w.-]+", text):
        raise InvalidValue(name, masked_url(text), "an alias of CACHES or a cache URL")
    refused = cache_build.refusal(text)
    if refused is not None:
        expected = refused.expected or "a cache that can be used"
        raise InvalidValue(name, masked_url(text), expected)
    return text


def schedule(name: str, value: object) -> Schedule:
    """Recurring windows (contract section 11), comma-separated or, from settings, a list;
    their clock times are read in ``MAINTENANCE_MODE_SCHEDULE_TIME_ZONE`` by the policy."""
    if isinstance(value, Schedule):
        return value
    items = parsers.parse_list(name, value)
    try:
        return Schedule.parse(items)
    except ValueError as exc:
        raise InvalidValue(name, value, f"comma-separated windows, but {exc}") from None


def time_zone(name: str, value: object) -> ZoneInfo:
    """An IANA time zone name that this system's zone database has."""
    if isinstance(value, ZoneInfo):
        return value
    text = parsers.parse_text(name, value)
    try:
        return ZoneInfo(text)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError; "../x" a ValueError
        raise InvalidValue(
            name, value, "an IANA time zone name such as Europe/Berlin or UTC"
        ) from None
