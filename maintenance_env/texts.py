"""The page's own words that depend on the configuration: the default message.

The message a project sets is shown as written; the default one is translated into the
page's language, and says "scheduled" only when a window is actually scheduled.
"""

from __future__ import annotations

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
    current time zone, with its abbreviation; its spaces are non-breaking, so the line
    never breaks between the day and the month or the time, even without CSS."""
    local = timezone.localtime(value)
    text = f"{formats.date_format(local, 'DATETIME_FORMAT')} {formats.date_format(local, 'T')}"
    return text.replace(" ", NBSP)


def when_html(value: datetime) -> SafeString:
    """:func:`when` in a ``<time class="nowrap">`` element with its ISO 8601 instant."""
    return format_html(
        '<time class="nowrap" datetime="{}">{}</time>', timezone.localtime(value).isoformat(), when(value)
    )
