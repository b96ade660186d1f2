"""The page's own words that depend on the configuration: the default message.

The message a project sets is shown as written; the default one is translated into the
page's language, and says "scheduled" only when a window is actually scheduled.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_noop

from maintenance_env.variables import DEFAULT_MESSAGE

__all__ = ["SCHEDULED_MESSAGE", "default_message", "message", "when", "when_html"]

#: The default message while a window (``STARTS_AT`` or ``ENDS_AT``) is configured.
SCHEDULED_MESSAGE = gettext_noop(
    "This site is down for scheduled maintenance. Please check back soon."
)

NBSP = "\u00a0"


def default_message(scheduled: bool) -> str:
    """The default message in the active language (``str``); ``scheduled``: whether a
    window is configured."""
    return gettext(SCHEDULED_MESSAGE if scheduled else DEFAULT_MESSAGE)


def message(text: str, starts_at: datetime | None, ends_at: datetime | None) -> str:
    """``text`` (the configured ``MESSAGE``) as shown: translated when it is the default,
    as written otherwise."""
    if text != DEFAULT_MESSAGE:
        return text
    return default_message(starts_at is not None or ends_at is not None)


def when(value: datetime) -> str:
    """``value`` (an aware datetime) in the active language's ``DATETIME_FORMAT`` and the
    current time zone, with its abbreviation. Every space next to a digit, and the one
    before the abbreviation, is a no-break space: the line never breaks after the day
    number or inside the time, even without CSS, yet a long date ("1 de enero de 2099 a
    las 04:00") can still wrap between words on a phone."""
    local = timezone.localtime(value)
    text = formats.date_format(local, "DATETIME_FORMAT")
    joined = _NEXT_TO_DIGIT.sub(NBSP, text)
    return f"{joined}{NBSP}{formats.date_format(local, 'T')}"


_NEXT_TO_DIGIT = re.compile(r"(?<=\d) |(?<=\d[.,]) | (?=\d)")


def when_html(value: datetime) -> SafeString:
    """:func:`when` in a ``<time>`` element with its ISO 8601 instant."""
    return format_html(
        '<time datetime="{}">{}</time>', timezone.localtime(value).isoformat(), when(value)
    )
