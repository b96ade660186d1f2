"""Whether a log record would reach any output, decided without building it.

Every maintenance response is logged at INFO on ``django.request``. Building a
``LogRecord`` costs about as much as the rest of the response, and under Django's default
``LOGGING`` with ``DEBUG = False`` no handler emits it: the console handler requires
``DEBUG`` and ``mail_admins`` starts at ERROR. :func:`is_heard` answers ``False`` only
when logging the record would run no handler's ``emit`` and no code of the project's (a
filter, a record factory), so skipping it changes nothing anyone can observe.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils.log import RequireDebugFalse, RequireDebugTrue

__all__ = ["is_heard"]


def _drops(handler: logging.Handler, level: int) -> bool:
    """Whether ``handler`` certainly drops a record at ``level`` without running any code
    of the project's: by its level, as a ``NullHandler``, or by one of Django's DEBUG
    filters, whose verdict does not depend on the record."""
    if level < handler.level or type(handler) is logging.NullHandler:
        return True
    # Handler.filter runs the filters in order and stops at the first refusal; a filter
    # of any other kind may emit, count or change the record, so it must run.
    for check in handler.filters:
        kind = type(check)
        if kind is RequireDebugTrue:
            if not settings.DEBUG:
                return True
        elif kind is RequireDebugFalse:
            if settings.DEBUG:
                return True
        else:
            return False
    return False


def is_heard(logger: logging.Logger, level: int) -> bool:
    """Whether a record at ``level`` on ``logger`` could reach a handler's output.

    Follows what ``Logger.handle`` and ``Logger.callHandlers`` do: the logger's level and
    filters (and a record factory of the project's, which must see every record), then
    each handler up the hierarchy while ``propagate`` holds, then Python's
    last-resort handler when there was none. Read on every call (the logging
    configuration can change at any time); it costs a walk over a few loggers.
    """
    if not logger.isEnabledFor(level):
        return False
    if logger.filters or logging.getLogRecordFactory() is not logging.LogRecord:
        return True
    found = False
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            found = True
            if not _drops(handler, level):
                return True
        if not current.propagate:
            break
        current = current.parent
    if found:
        return False
    last = logging.lastResort
    # With no handler at all, Python hands the record to its last resort (WARNING and
    # up), or prints a one-time "no handlers" notice when that was removed.
    return last is None or level >= last.level
